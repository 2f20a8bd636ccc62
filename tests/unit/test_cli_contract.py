"""The command line's contract without ONNX Runtime: exit codes, help texts, ``--json`` and ``--markdown`` targets."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
from support import reportdata

from int8gate import cli
from int8gate.commands.policyfile import default_workspace, find_policy
from int8gate.errors import UsageError
from int8gate.judge.verdict import FailOn, Verdict, exit_code
from int8gate.report.data import Report
from int8gate.report.jsonable import to_jsonable


def test_a_bug_exits_3_not_2_so_it_never_reads_as_bad_input(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def broken(args: argparse.Namespace, env: object, out: object) -> int:
        raise KeyError("oops")

    monkeypatch.setitem(cli._HANDLERS, "schema", broken)
    assert cli.main(["schema"], environ={}) == 3
    _, err = capsys.readouterr()
    assert err.startswith("int8gate: internal error: KeyError") and err.count("\n") == 1
    assert "please report it" in err


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    top = cli.build_parser()
    (sub,) = (a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return [("int8gate", top), *((f"int8gate {name}", p) for name, p in sub.choices.items())]


@pytest.mark.parametrize(("prog", "parser"), _parsers(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_argument_of_every_command_has_help(prog: str, parser: argparse.ArgumentParser) -> None:
    missing = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert not missing, f"{prog}: arguments without help: {missing}"
    assert parser.description and len(parser.description) > 60, f"{prog}: no description paragraph"
    text = parser.format_help()
    assert "exit codes:" in text and "3  internal error" in text
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert sum(line.startswith("  int8gate ") for line in examples) >= 2, f"{prog}: fewer than two examples"


def test_top_level_help_is_for_users_not_a_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"], environ={})
    out, _ = capsys.readouterr()
    assert "``" not in out and "composition" not in out  # no developer words
    for command in ("check", "demo", "inspect", "bench", "env", "schema", "merge", "comment"):
        assert f"    {command} " in out
    assert "--json -" in out


@pytest.mark.parametrize("argv", [["schema", "--json", "-"], ["schema", "--json"], ["schema"]])
def test_json_dash_or_bare_prints_the_document_and_nothing_else(
    argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv, environ={}) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["title"].startswith("int8gate policy") and err == ""
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_json_file_is_written_not_printed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["schema", "--json", str(tmp_path / "s.json")], environ={}) == 0
    assert capsys.readouterr().out == ""
    assert json.loads((tmp_path / "s.json").read_text())["type"] == "object"


def test_only_one_document_may_have_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(to_jsonable(reportdata.pass_and_fake())), encoding="utf-8")
    assert cli.main(["merge", str(report), "--json", "-", "--markdown", "-"], environ={}) == 2
    assert "only one document can go to stdout" in capsys.readouterr().err


def test_merge_json_dash_is_the_comparison_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps(to_jsonable(reportdata.pass_and_fake())), encoding="utf-8")
    assert cli.main(["merge", str(report), "--json", "-"], environ={}) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "fail" and data["model_names"] == ["resnet", "resnet-fake"]
    assert cli.main(["merge", str(report), "--json", "-", "--fail-on", "never"], environ={}) == 0


@pytest.mark.parametrize(("argv", "code"), [([], 0), (["--fail-on", "never"], 0), (["--fail-on", "fail"], 1),
                                            (["--fail-on", "inconclusive"], 1)])
def test_demo_honours_fail_on(argv: list[str], code: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    import int8gate.commands.check as check

    def fixed_gate(policy: Path, workspace: Path, env: object, fail_on: FailOn, *, budget: float | None) -> Report:
        report = reportdata.pass_and_fake()  # a real model and a caught fake: the demo's known answer
        return dataclasses.replace(report, exit_code=exit_code(report.verdict, fail_on))

    monkeypatch.setattr(check, "gate", fixed_gate)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", *argv], environ={}) == code


def test_demo_that_misses_the_fake_is_a_bug_exit_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import int8gate.commands.check as check

    good = reportdata.pass_and_fake().models[0]
    monkeypatch.setattr(check, "gate", lambda *a, **k: reportdata.report((good, good), Verdict.PASS))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo"], environ={}) == 3
    assert "known answer" in capsys.readouterr().err


@pytest.fixture
def fixed_check(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``check`` with the gate replaced by a fixed report (the rendering and writing are real)."""
    import int8gate.commands.check as check

    monkeypatch.setattr(check, "gate", lambda *a, **k: reportdata.demo())
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".int8gate.yml").write_text("models: []\n")  # found, never read: the gate is fixed
    return tmp_path


def test_check_writes_relative_outputs_in_the_folder_it_runs_in(fixed_check: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (fixed_check / ".git").mkdir()  # a repository: the workspace is its root, the policy is found upwards
    (fixed_check / "models").mkdir()
    monkeypatch.chdir(fixed_check / "models")
    cli.main(["check", "--json", "r.json", "--markdown", "r.md"], environ={})
    assert (fixed_check / "models" / "r.json").is_file() and (fixed_check / "models" / "r.md").is_file()
    assert not (fixed_check / "r.json").exists()


def test_check_prints_the_short_report_not_markdown(fixed_check: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["check", "--markdown", "r.md"], environ={})
    out, _ = capsys.readouterr()
    assert out.startswith("int8gate demo: FAIL (1 fail, 1 inconclusive)")
    for markup in ("<details>", "<sub>", "\\[", "```mermaid", "| --- |"):
        assert markup not in out
    assert out.rstrip().endswith("full report: r.md (Markdown)")
    assert (fixed_check / "r.md").read_text().startswith("## ❌ int8gate demo: fail")


def test_check_json_dash_is_the_report_only_and_the_short_report_goes_to_stderr(
    fixed_check: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(["check", "--json", "-"], environ={})
    out, err = capsys.readouterr()
    assert json.loads(out)["verdict"] == "fail"
    assert "full report: stdout (JSON)" in err


def test_check_in_github_actions_adds_the_markdown_to_the_job_summary(
    fixed_check: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = fixed_check / "summary.md"
    summary.write_text("earlier step\n")
    cli.main(["check"], environ={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text()
    assert text.startswith("earlier step\n## ❌ int8gate demo: fail") and "<details>" in text
    assert "full report: the job summary" in capsys.readouterr().out


@pytest.mark.parametrize("name", [".int8gate.yml", ".int8gate.yaml"])
def test_the_policy_is_found_upward_to_the_repository_root(name: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / name).write_text("models: []\n")
    deep = repo / "models" / "vision"
    deep.mkdir(parents=True)
    assert find_policy(deep) == (repo / name).resolve()
    assert default_workspace(deep) == repo.resolve()


def test_the_search_stops_at_the_repository_root_and_outside_a_repository_at_the_folder(tmp_path: Path) -> None:
    (tmp_path / ".int8gate.yml").write_text("models: []\n")  # above the repository: never picked up
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    with pytest.raises(UsageError, match=r"no \.int8gate\.yml or \.int8gate\.yaml in .* up to the repository root"):
        find_policy(repo)
    loose = tmp_path / "loose" / "sub"
    loose.mkdir(parents=True)
    with pytest.raises(UsageError, match=r"\(not in a git repository\)"):
        find_policy(loose)


def test_two_spellings_in_one_folder_are_refused(tmp_path: Path) -> None:
    for name in (".int8gate.yml", ".int8gate.yaml"):
        (tmp_path / name).write_text("models: []\n")
    with pytest.raises(UsageError, match="are both here; keep one"):
        find_policy(tmp_path)


def test_check_without_policy_uses_the_one_found_upward(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import int8gate.commands.check as check

    seen: list[tuple[Path, Path]] = []

    def fixed_gate(policy: Path, workspace: Path, *args: object, **kwargs: object) -> Report:
        seen.append((policy, workspace))
        return reportdata.demo()

    monkeypatch.setattr(check, "gate", fixed_gate)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".int8gate.yaml").write_text("models: []\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    cli.main(["check"], environ={})
    assert seen == [((tmp_path / ".int8gate.yaml").resolve(), tmp_path.resolve())]
