"""The command line's contract without ONNX Runtime: exit codes, help texts, ``--json`` and ``--markdown`` targets."""

from __future__ import annotations

import argparse

import pytest

from int8gate import cli


def test_a_bug_exits_3_not_2_so_it_never_reads_as_bad_input(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def broken(args: argparse.Namespace, env: object, out: object) -> int:
        raise KeyError("oops")

    monkeypatch.setitem(cli._HANDLERS, "schema", broken)
    assert cli.main(["schema"], environ={}) == 3
    _, err = capsys.readouterr()
    assert err.startswith("int8gate: internal error: KeyError") and err.count("\n") == 1
    assert "please report it" in err
