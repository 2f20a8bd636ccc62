"""The fleet view: matrix legs' reports merged into one comparison, posted as one comment by the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support import reportdata
from support.ghcontract import EVENTS_DIR
from support.ghstandin import ACTIONS, StandIn
from support.golden import check_golden

from int8gate.cli import main
from int8gate.machine.facts import Arch, CpuFlags, RunnerClass
from int8gate.report.jsonable import to_jsonable

LEGS = {
    "x64-vnni": (RunnerClass("x86-vnni"), Arch.X86_64, CpuFlags(avx2=True, avx512f=True, avx512_vnni=True)),
    "x64-avx2": (RunnerClass("x86-no-vnni"), Arch.X86_64, CpuFlags(avx2=True)),
    "arm64": (RunnerClass("arm-dotprod"), Arch("aarch64"), CpuFlags(neon=True, asimddp=True)),
    "x64-amx": (RunnerClass("x86-amx"), Arch.X86_64, CpuFlags(avx2=True, avx512f=True, avx512_vnni=True, amx_int8=True)),
}


def write_legs(folder: Path) -> list[str]:
    paths = []
    for leg, (cls, arch, flags) in LEGS.items():
        report = reportdata.pass_and_fake()
        cpu = dataclasses.replace(report.runner.cpu, brand=f"CPU of {leg}", arch=arch, flags=flags, cpu_class=cls)
        report = dataclasses.replace(report, runner=dataclasses.replace(report.runner, cpu=cpu))
        path = folder / f"{leg}.json"
        path.write_text(json.dumps(to_jsonable(report)), encoding="utf-8")
        paths.append(str(path))
    return paths


def test_four_legs_merge_into_one_comparison(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    legs = [Path(p).name for p in write_legs(tmp_path)]
    assert main(["merge", *legs, "--markdown", "merged.md"], environ={}) == 1  # the fake fails everywhere
    assert main(["merge", *legs, "--markdown", "merged.md", "--fail-on", "never"], environ={}) == 0
    text = (tmp_path / "merged.md").read_text(encoding="utf-8")
    check_golden("fleet.md", text)
    assert text.count("\n| ") == 6  # header, separator, a row per runner
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "cannot read a JSON report"),
        ('{"schema_version": 99}', "report schema version 99 is not 1"),
        ('{"schema_version": 1, "runner": {}}', "not an int8gate report: missing runner.cpu"),
    ],
)
def test_merge_refuses_what_is_not_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            content: str, needle: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    assert main(["merge", str(bad)], environ={}) == 2
    err = capsys.readouterr().err
    assert needle in err and str(bad) in err and err.count("\n") == 1



def test_legs_plus_merge_leave_one_comment_across_pushes(tmp_path: Path, standin: StandIn,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    standin.open_pull("Codertocat/Hello-World", 2)
    legs = write_legs(tmp_path)
    for push, event in enumerate(("pull_request.opened.json", "pull_request.synchronize.json")):
        merged = tmp_path / f"merged{push}.md"
        assert main(["merge", *legs, "--markdown", str(merged), "--fail-on", "never"], environ={}) == 0
        env = {
            "GITHUB_WORKSPACE": str(tmp_path), "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(EVENTS_DIR / event), "GITHUB_API_URL": standin.url,
            "GITHUB_REPOSITORY": "Codertocat/Hello-World", "GITHUB_JOB": "merge", "GITHUB_TOKEN": ACTIONS,
        }  # fmt: skip
        assert main(["comment", "--markdown", str(merged), "--scope", "self-test"], environ=env) == 0
    comments = standin.comments("Codertocat/Hello-World", 2)
    assert len(comments) == 1
    assert comments[0].body.startswith("<!-- int8gate:self-test -->")
    assert "across 4 runners" in comments[0].body
    out, err = capsys.readouterr()
    assert "int8gate: comment: ok: created: " in err and "int8gate: comment: ok: updated: " in err
    assert ACTIONS not in err and f"::add-mask::{ACTIONS}" in out
