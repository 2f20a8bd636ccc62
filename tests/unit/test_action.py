"""The Action entry end to end against the stand-in: inputs, same-repo and fork PRs, the workflow_run poster."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.actionfiles import parse_outputs
from support.ghcontract import EVENTS_DIR
from support.ghfaults import FakeClock
from support.ghstandin import ACTIONS, READ_ONLY, StandIn
from support.paths import REPO
from support.reportdata import pass_and_fake

from int8gate.action import ActionSettings, run
from int8gate.errors import PolicyError, UsageError
from int8gate.github.client import GitHubClient, RetryPolicy, make_session
from int8gate.github.comment import CommentSettings
from int8gate.github.fork import ForkComment, SourcedReport, write_fork_comment
from int8gate.judge.verdict import FailOn, Verdict
from int8gate.machine.probe import probe_runner
from int8gate.policy.spec import CommentMode
from int8gate.report.data import ModelResult, Presentation, Report, ToolInfo
from int8gate.runtime.ortinfo import ort_info

RUNNER = probe_runner(ort_info())


def canned_report(verdict: Verdict = Verdict.FAIL) -> Report:
    model = ModelResult("convnet", "models/convnet_fp32.onnx", "models/convnet_int8.onnx", verdict,
                        ("not quantized: 0 of 12 compute ops run as integer kernels",))  # fmt: skip
    tool = ToolInfo("int8gate", "0.1.0", ".int8gate.yml", "2024-05-01T10:00:00+00:00", 1.0)
    return Report(tool, verdict, 0 if verdict is Verdict.PASS else 1, RUNNER, (model,))


def payload(name: str, *, rename: Mapping[str, str] | None = None) -> dict[str, Any]:
    text = (EVENTS_DIR / name).read_text(encoding="utf-8")
    for old, new in (rename or {}).items():
        text = text.replace(old, new)
    data: dict[str, Any] = json.loads(text)
    return data



class Harness:
    """One Action run's environment in a temporary folder, with a fake gate and a stand-in client."""

    def __init__(self, tmp: Path, standin: StandIn) -> None:
        self.tmp, self.standin = tmp, standin
        (tmp / "ws").mkdir(parents=True, exist_ok=True)
        self.clock = FakeClock()
        self.out, self.err = io.StringIO(), io.StringIO()

    def env(self, event_name: str, data: Mapping[str, Any], token: str = ACTIONS, **inputs: str) -> dict[str, str]:
        (self.tmp / "event.json").write_text(json.dumps(data), encoding="utf-8")
        env = {
            "GITHUB_WORKSPACE": str(self.tmp / "ws"), "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": str(self.tmp / "event.json"), "GITHUB_API_URL": self.standin.url,
            "GITHUB_REPOSITORY": data.get("repository", {}).get("full_name", ""), "GITHUB_JOB": "gate",
            "GITHUB_STEP_SUMMARY": str(self.tmp / "summary.md"), "GITHUB_OUTPUT": str(self.tmp / "output"),
            "INPUT_GITHUB-TOKEN": token,
        }  # fmt: skip
        env.update({f"INPUT_{name.replace('_', '-').upper()}": value for name, value in inputs.items()})
        return env

    def client(self, settings: CommentSettings) -> GitHubClient:
        return GitHubClient(settings.token, base_url=settings.api_url, session=make_session(trust_env=False),
                            policy=RetryPolicy(budget_s=20.0), sleep=self.clock.sleep,
                            monotonic=self.clock.monotonic)  # fmt: skip

    def run(self, env: Mapping[str, str], report: Report | Exception | None = None) -> int:
        outcome = canned_report() if report is None else report

        def gate(policy: Path, workspace: Path, env: Mapping[str, str], fail_on: FailOn, **against: object) -> Report:
            self.against = against  # what the Action asked the gate to compare with
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        settings = ActionSettings.from_environ(env)
        return run(settings, env, gate=gate, client_factory=self.client, out=self.out, err=self.err)

    def outputs(self) -> dict[str, str]:
        return parse_outputs((self.tmp / "output").read_text(encoding="utf-8"))


def test_inputs_keep_their_hyphens_and_are_validated(tmp_path: Path) -> None:
    base = {"GITHUB_WORKSPACE": str(tmp_path), "GITHUB_JOB": "gate", "INPUT_GITHUB-TOKEN": "t0k3n"}
    settings = ActionSettings.from_environ({**base, "INPUT_FAIL-ON": "inconclusive", "INPUT_COMMENT": "on-failure"})
    assert (settings.fail_on, settings.comment.mode) == (FailOn.INCONCLUSIVE, CommentMode.ON_FAILURE)
    assert settings.comment.scope == "gate/.int8gate.yml"
    assert settings.policy == tmp_path / ".int8gate.yml"
    assert "t0k3n" not in repr(settings)
    with pytest.raises(UsageError, match="input comment: 'sometimes' is not one of update, new, off, on-failure"):
        ActionSettings.from_environ({**base, "INPUT_COMMENT": "sometimes"})
    assert ActionSettings.from_environ({"GITHUB_WORKSPACE": str(tmp_path), "INPUT_COMMENT": "off"}).comment.token == ""
    with pytest.raises(UsageError, match="outside the workspace"):
        ActionSettings.from_environ({**base, "INPUT_WORKING-DIRECTORY": "../elsewhere"})


def test_two_pushes_to_a_same_repo_pr_leave_one_comment(tmp_path: Path, standin: StandIn) -> None:
    standin.open_pull("Codertocat/Hello-World", 2)
    runs = []
    for push, event in enumerate(("pull_request.opened.json", "pull_request.synchronize.json")):
        h = Harness(tmp_path / f"push{push}", standin)
        runs.append((h.run(h.env("pull_request", payload(event))), h))
    (code1, first), (code2, second) = runs
    assert (code1, code2) == (1, 1)  # the gate's verdict, not an error
    comments = standin.comments("Codertocat/Hello-World", 2)
    assert len(comments) == 1
    assert comments[0].body.startswith("<!-- int8gate:gate/.int8gate.yml -->")
    assert first.outputs()["comment-id"] == second.outputs()["comment-id"] == str(comments[0].id)
    assert second.outputs()["comment-action"] == "updated"
    assert second.outputs()["verdict"] == "fail"
    assert (second.tmp / "ws" / "int8gate-report.json").is_file()
    assert "## ❌ int8gate" in (second.tmp / "summary.md").read_text(encoding="utf-8")
    assert "::error title=int8gate%3A convnet fail,file=models/convnet_int8.onnx::" in second.out.getvalue()
    assert second.out.getvalue().startswith(f"::add-mask::{ACTIONS}\n")
    assert ACTIONS not in second.err.getvalue()


def test_a_fork_pr_then_the_workflow_run_poster(tmp_path: Path, standin: StandIn) -> None:
    to_octo = {"Codertocat/Hello-World": "octo-org/octo-repo", "forker/Hello-World": "forker/octo-repo"}
    fork_event = payload("derived/pull_request.opened.fork.json", rename=to_octo)
    run_event = payload("derived/workflow_run.completed.fork-pr.json")
    standin.open_pull("octo-org/octo-repo", 2, head_repo="forker/octo-repo",
                      head_sha=run_event["workflow_run"]["head_sha"])  # fmt: skip
    pr_run = Harness(tmp_path / "pr", standin)
    assert pr_run.run(pr_run.env("pull_request", fork_event, token=READ_ONLY)) == 1
    assert standin.requests_to("POST") == []
    left = tmp_path / "pr" / "ws" / "int8gate-fork" / "int8gate-comment.json"
    assert json.loads(left.read_text(encoding="utf-8"))["pr_number"] == 2
    assert (tmp_path / "pr" / "summary.md").is_file()
    assert pr_run.outputs()["comment-action"] == "read-only"  # as action.yml promises, not "skipped"
    for attempt in (1, 2):  # a re-run of the poster updates the same comment
        poster = Harness(tmp_path / f"post{attempt}", standin)  # the artifact, downloaded into a fresh job
        (poster.tmp / "ws" / "int8gate-fork").mkdir()
        (poster.tmp / "ws" / "int8gate-fork" / left.name).write_bytes(left.read_bytes())
        assert poster.run(poster.env("workflow_run", run_event)) == 0
    comments = standin.comments("octo-org/octo-repo", 2)
    assert len(comments) == 1
    assert "int8gate: fail" in comments[0].body
    assert poster.outputs()["comment-action"] == "updated"


def test_the_poster_refuses_an_artifact_naming_another_pr(tmp_path: Path, standin: StandIn) -> None:
    run_event = payload("derived/workflow_run.completed.fork-pr.json")
    standin.open_pull("octo-org/octo-repo", 3)  # a same-repo PR the fork would like to comment on
    h = Harness(tmp_path, standin)
    folder = tmp_path / "ws" / "int8gate-fork"
    folder.mkdir()
    leave = ForkComment(3, "octo-org/octo-repo", "forker/octo-repo", run_event["workflow_run"]["head_sha"],
                        "gate/x", CommentMode.UPDATE, (SourcedReport("r.json", canned_report(Verdict.PASS)),))
    write_fork_comment(folder, leave)
    assert h.run(h.env("workflow_run", run_event)) == 0
    assert standin.comments("octo-org/octo-repo", 3) == []
    assert "not posting: PR #3 comes from octo-org/octo-repo, the run from forker/octo-repo" in h.err.getvalue()


def test_github_down_leaves_the_verdict_and_the_summary_alone(tmp_path: Path, standin: StandIn) -> None:
    standin.open_pull("Codertocat/Hello-World", 2)
    standin.go_down(502)
    h = Harness(tmp_path, standin)
    assert h.run(h.env("pull_request", payload("pull_request.opened.json"))) == 1
    assert "## ❌ int8gate" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert h.outputs()["verdict"] == "fail"
    assert h.outputs()["comment-id"] == ""
    log = h.err.getvalue()
    assert "int8gate: comment: failed: " in log
    assert "gave up" in log
    assert sum(h.clock.sleeps) <= 20.0
    standin.come_back()


def test_a_bad_policy_exits_2_with_an_annotation_on_its_line(tmp_path: Path, standin: StandIn) -> None:
    h = Harness(tmp_path, standin)
    error = PolicyError(".int8gate.yml", 4, "models[0].int8", "models/missing.onnx does not exist")
    assert h.run(h.env("push", payload("push.json")), report=error) == 2
    assert "::error title=int8gate%3A policy,file=.int8gate.yml,line=4::" in h.out.getvalue()
    assert "could not run" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert h.outputs()["verdict"] == "error"


def test_a_push_has_no_pr_so_no_comment(tmp_path: Path, standin: StandIn) -> None:
    h = Harness(tmp_path, standin)
    assert h.run(h.env("push", payload("push.json")), report=canned_report(Verdict.PASS)) == 0
    assert standin.seen == []
    assert "comment: skipped: no pull request in a push run" in h.err.getvalue()
    assert h.outputs()["verdict"] == "pass"


def test_action_yml_and_the_code_agree() -> None:
    import re

    import yaml

    from int8gate import action
    from int8gate.github.publish import step_outputs

    root = REPO
    spec = yaml.safe_load((root / "action.yml").read_text(encoding="utf-8"))
    source = Path(action.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'_(?:input|choice)\(env, "([a-z-]+)"', source))
    assert read == set(spec["inputs"])
    assert set(step_outputs(None, "", None)) == set(spec["outputs"])
    assert spec["runs"] == {"using": "docker", "image": "Dockerfile"}


def test_action_workflow_and_dockerfile_lint_offline() -> None:
    import re
    import shutil
    import subprocess

    root = REPO
    tools = [shutil.which("check-jsonschema"), shutil.which("hadolint")]
    if None in tools:
        pytest.skip("check-jsonschema or hadolint is not installed (pip install -e '.[dev]')")
    workflows = sorted(str(p) for p in (root / ".github" / "workflows").glob("*.yml"))
    for args in (
        ["check-jsonschema", "--builtin-schema", "vendor.github-actions", str(root / "action.yml")],
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows],
        ["hadolint", str(root / "Dockerfile")],
    ):
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    # The user-facing Dockerfile builds with any builder: no BuildKit-only mounts, no build machine's secrets.
    assert "--mount" not in (root / "Dockerfile").read_text(encoding="utf-8")
    uses = re.compile(r"uses: ([\w.-]+/[\w.-]+)@(\S+)(?: # (v[\d.]+))?")
    for path in [*workflows, str(root / "README.md")]:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            found = uses.search(line)
            if found is None or found.group(1) == "int8gate/int8gate":
                continue
            action, ref, tag = found.groups()
            assert (action, ref, tag) in NODE24_PINS, f"{path}: {line.strip()} is not a Node 24 release pinned by SHA"


# Each action's current Node 24 release and its commit (runs.using: node24 at that commit; see
# /work/notes/infra.md §3 for how each was checked). Node 20 actions stop running on GitHub's runners.
NODE24_PINS = {
    ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    ("actions/download-artifact", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    ("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    ("actions/cache", "27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),  # the README's results cache
    ("docker/login-action", "4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"),
    ("docker/setup-buildx-action", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    ("docker/build-push-action", "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
}


@pytest.mark.parametrize(("verdicts", "outcome", "passes"), [
    ({"convnet": "pass", "convnet-fake": "fail"}, "failure", True),
    ({"convnet": "pass", "convnet-fake": "pass"}, "failure", False),  # the fake slipped through
    ({"convnet": "fail", "convnet-fake": "fail"}, "failure", False),  # the real model did not pass
    ({"convnet": "pass", "convnet-fake": "fail"}, "success", False),  # the step did not fail
])  # fmt: skip
def test_the_self_test_check_fails_unless_the_fake_failed_the_step_and_the_real_model_passed(
    verdicts: dict[str, str], outcome: str, passes: bool, tmp_path: Path
) -> None:
    import subprocess

    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "self-test.yml").read_text(encoding="utf-8"))
    (step,) = [s for s in workflow["jobs"]["leg"]["steps"] if s.get("name") == "The fake failed the step, the real model passed"]
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"models": [{"name": n, "verdict": v} for n, v in verdicts.items()]}), encoding="utf-8")
    overall = "fail" if "fail" in verdicts.values() else "pass"
    done = subprocess.run(["bash", "-e", "-c", step["run"]], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "OUTCOME": outcome, "VERDICT": overall, "REPORT": str(report)})  # fmt: skip
    assert (done.returncode == 0) is passes, done.stdout + done.stderr


def test_an_internal_error_exits_3_not_1_or_2_and_keeps_the_token_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import int8gate.commands.check
    from int8gate.action import main

    def broken_gate(*args: object, **kwargs: object) -> Report:
        raise RuntimeError(f"bug while holding {ACTIONS}")

    monkeypatch.setattr(int8gate.commands.check, "gate", broken_gate)
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_GITHUB-TOKEN": ACTIONS, "INPUT_COMMENT": "off",
           "GITHUB_EVENT_NAME": "push", "GITHUB_EVENT_PATH": str(EVENTS_DIR / "push.json")}
    assert main(env) == 3  # 1 would read as the gate's verdict "fail", 2 as the user's bad input
    out, err = capsys.readouterr()
    assert "internal error: RuntimeError: bug while holding ***" in err
    assert ACTIONS not in err and ACTIONS not in out.replace(f"::add-mask::{ACTIONS}", "")


def test_a_same_repo_pr_without_write_permission_warns_with_the_fix_and_leaves_no_artifact(
    tmp_path: Path, standin: StandIn
) -> None:
    standin.open_pull("Codertocat/Hello-World", 2)
    h = Harness(tmp_path, standin)
    assert h.run(h.env("pull_request", payload("pull_request.opened.json"), token=READ_ONLY)) == 1  # the verdict
    assert standin.comments("Codertocat/Hello-World", 2) == []
    assert not (tmp_path / "ws" / "int8gate-fork").exists()  # no poster would ever post it
    log = h.err.getvalue()
    assert "int8gate: comment: failed: " in log
    assert "fork-artifact" not in log
    warning = next(line for line in h.out.getvalue().splitlines() if line.startswith("::warning"))
    assert warning.startswith("::warning title=int8gate%3A comment failed::")
    assert "permissions:%0A  contents: read%0A  pull-requests: write" in warning
    assert h.outputs()["comment-action"] == "read-only"
    assert h.outputs()["verdict"] == "fail"


@pytest.mark.parametrize(("job", "policy", "scope", "expected"), [
    ("_lint", ".int8gate.yml", "", "lint/.int8gate.yml"),
    ("gate", "my  policy.yml", "", "gate/my-policy.yml"),
    ("gate", ".int8gate.yml", "--leg: x64 (AVX-512) -- nightly", "leg:-x64-AVX-512-nightly"),
    ("gate", ".int8gate.yml", "!!!", "int8gate"),
])  # fmt: skip
def test_comment_scopes_are_sanitized_never_fatal(job: str, policy: str, scope: str, expected: str,
                                                  tmp_path: Path, standin: StandIn) -> None:  # fmt: skip
    standin.open_pull("Codertocat/Hello-World", 2)
    for mode in ("off", "update"):
        h = Harness(tmp_path / mode, standin)
        env = {**h.env("pull_request", payload("pull_request.opened.json"), policy=policy, comment=mode,
                       comment_scope=scope), "GITHUB_JOB": job}  # fmt: skip
        assert h.run(env) == 1, h.err.getvalue()  # the gate's verdict, never a usage error
    (comment,) = standin.comments("Codertocat/Hello-World", 2)
    assert comment.body.startswith(f"<!-- int8gate:{expected} -->\n")


def test_the_policy_report_settings_apply_and_the_comment_input_overrides_only_when_given(
    tmp_path: Path, standin: StandIn
) -> None:
    from dataclasses import replace

    standin.open_pull("Codertocat/Hello-World", 2)
    quiet = replace(pass_and_fake(), presentation=Presentation(CommentMode.OFF, details=False, chart=False))
    policy_off = Harness(tmp_path / "policy-off", standin)
    assert policy_off.run(policy_off.env("pull_request", payload("pull_request.opened.json")), report=quiet) == 1
    assert standin.comments("Codertocat/Hello-World", 2) == []
    assert policy_off.outputs()["comment-action"] == "skipped"
    summary = (tmp_path / "policy-off" / "summary.md").read_text(encoding="utf-8")
    assert "```mermaid" not in summary and "<summary>Environment</summary>" not in summary
    given = Harness(tmp_path / "input-update", standin)
    assert given.run(given.env("pull_request", payload("pull_request.opened.json"), comment="update"),
                     report=quiet) == 1  # fmt: skip
    (comment,) = standin.comments("Codertocat/Hello-World", 2)
    assert "```mermaid" not in comment.body and "<summary>Environment</summary>" not in comment.body
    loud = Harness(tmp_path / "defaults", standin)
    assert loud.run(loud.env("pull_request", payload("pull_request.opened.json")), report=pass_and_fake()) == 1
    (comment,) = standin.comments("Codertocat/Hello-World", 2)
    assert "```mermaid" in comment.body and "<summary>Environment</summary>" in comment.body


def test_input_errors_and_an_empty_token_still_write_the_outputs(tmp_path: Path, standin: StandIn,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from int8gate.action import main

    (tmp_path / "output").touch()
    env = {"GITHUB_WORKSPACE": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "output"),
           "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), "INPUT_COMMENT": "sometimes"}  # fmt: skip
    assert main(env) == 2
    outputs = parse_outputs((tmp_path / "output").read_text(encoding="utf-8"))
    assert outputs == {"verdict": "error", "speedup": "", "report-path": "", "comment-id": "",
                       "comment-action": "skipped"}  # fmt: skip
    assert "input comment: 'sometimes'" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "::error title=int8gate::input comment" in capsys.readouterr().out
    standin.open_pull("Codertocat/Hello-World", 2)
    h = Harness(tmp_path / "no-token", standin)
    assert h.run(h.env("pull_request", payload("pull_request.opened.json"), token="")) == 1  # the gate still ran
    assert "int8gate: comment: failed: no GitHub token" in h.err.getvalue()
    assert "::warning title=int8gate%3A comment failed::" in h.out.getvalue()
    assert h.outputs()["comment-action"] == "failed"


def test_an_older_run_finishing_last_never_overwrites_the_newer_report(tmp_path: Path, standin: StandIn) -> None:
    old_sha, new_sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "4a2e5f0c0ffee0d15ea5e0ddba11c0de0b57ac1e"
    standin.open_pull("Codertocat/Hello-World", 2, head_sha=old_sha)
    newer = Harness(tmp_path / "newer", standin)
    pushed = payload("pull_request.synchronize.json", rename={old_sha: new_sha})

    def older_gate_while_a_push_lands(policy: Path, workspace: Path, env: Mapping[str, str], fail_on: FailOn,
                                      **against: object) -> Report:
        standin.open_pull("Codertocat/Hello-World", 2, head_sha=new_sha)  # a push while the older run measures
        assert newer.run(newer.env("pull_request", pushed), report=canned_report(Verdict.PASS)) == 0
        return canned_report(Verdict.FAIL)

    older = Harness(tmp_path / "older", standin)
    settings = ActionSettings.from_environ(older.env("pull_request", payload("pull_request.opened.json")))
    assert run(settings, {}, gate=older_gate_while_a_push_lands, client_factory=older.client,
               out=older.out, err=older.err) == 1  # fmt: skip
    (comment,) = standin.comments("Codertocat/Hello-World", 2)
    assert f"<!-- int8gate-head:{new_sha} -->" in comment.body
    assert "int8gate: pass" in comment.body  # the newer run's report stands
    assert older.outputs()["comment-action"] == "skipped"
    assert f"is now at {new_sha[:12]}, this run tested {old_sha[:12]}" in older.err.getvalue()
    assert newer.outputs()["comment-action"] == "created"


HOSTILE = (
    '<a href="https://evil.example/x">click</a> <img src=x onerror=alert(1)> @octocat @octo-org/owners '
    "other/repo#12 #34 GH-56 https://github.com/other/repo/issues/7 [t](javascript:alert(1)) :rocket: ## Approved"
)


def hostile_report() -> Report:
    """Everything a fork's run could put in a report: hostile text in every string, a forged verdict and title."""
    from dataclasses import replace

    from support.reportdata import pass_and_fake

    real = pass_and_fake()
    runner = replace(real.runner, cpu=replace(real.runner.cpu, brand=HOSTILE))
    models = tuple(replace(m, name=f"{m.name} {HOSTILE}", reasons=(HOSTILE, *m.reasons), int8=HOSTILE)
                   for m in real.models)  # fmt: skip
    tool = replace(real.tool, version=HOSTILE, policy=HOSTILE)
    return replace(real, title=f"✅ all good, merge {HOSTILE}", verdict=Verdict.PASS, runner=runner, models=models,
                   tool=tool)  # fmt: skip


@pytest.mark.parametrize("legs", [1, 3], ids=["one-report", "fleet-of-3"])
def test_the_poster_renders_a_hostile_artifact_itself_and_names_the_fork_run(legs: int, tmp_path: Path,
                                                                           standin: StandIn) -> None:  # fmt: skip
    from support.githubhtml import as_github

    run_event = payload("derived/workflow_run.completed.fork-pr.json")
    run_facts = run_event["workflow_run"]
    standin.open_pull("octo-org/octo-repo", 2, head_repo="forker/octo-repo", head_sha=run_facts["head_sha"])
    h = Harness(tmp_path, standin)
    reports = tuple(SourcedReport(f"reports/{HOSTILE} {leg}.json", hostile_report()) for leg in range(legs))
    leave = ForkComment(2, "octo-org/octo-repo", "forker/octo-repo", run_facts["head_sha"], f"gate/{HOSTILE}",
                        CommentMode.UPDATE, reports)  # fmt: skip
    write_fork_comment(tmp_path / "ws" / "int8gate-fork", leave)

    assert h.run(h.env("workflow_run", run_event)) == 0
    (comment,) = standin.comments("octo-org/octo-repo", 2)
    seen = as_github(comment.body)
    assert seen.problems(allowed_links=frozenset({run_facts["html_url"]})) == []
    assert seen.links == [run_facts["html_url"]]  # the note naming the fork's run, from GitHub's own event
    assert f"From the fork's run {run_facts['id']} (forker/octo-repo at {run_facts['head_sha'][:12]})" in seen.text
    headline = seen.html.split("<h2>", 1)[1].split("</h2>", 1)[0]
    assert "fail" in headline and "all good" not in headline and "Approved" not in headline
    assert h.outputs()["verdict"] == "fail"  # the models' verdicts, not the report's claim; after a successful post
    assert h.outputs()["comment-action"] == "created"
    from int8gate.report.syntax import marker, sanitize_scope

    assert comment.body.split("\n", 1)[0] == marker(sanitize_scope(f"gate/{HOSTILE}"))


def test_a_fork_that_commits_the_artifact_folder_as_a_symlink_gets_nothing_written_through_it(
    tmp_path: Path, standin: StandIn
) -> None:
    to_octo = {"Codertocat/Hello-World": "octo-org/octo-repo", "forker/Hello-World": "forker/octo-repo"}
    fork_event = payload("derived/pull_request.opened.fork.json", rename=to_octo)
    h = Harness(tmp_path / "pr", standin)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "pr" / "ws" / "int8gate-fork").symlink_to(outside)
    assert h.run(h.env("pull_request", fork_event, token=READ_ONLY)) == 1  # the verdict stands
    assert list(outside.iterdir()) == []
    assert "int8gate: comment: failed: WorkspaceError: int8gate-fork: int8gate-fork is a symbolic link" in h.err.getvalue()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"pull_request": ', "not valid JSON (Expecting value at line 1 column 18)"),
        (b"[]", "holds a JSON list, not the event's object"),
        (b"null", "holds a JSON null, not the event's object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to be a report or an event"),
        (b'{"a": "\xff\xfe"}', "not UTF-8 text (byte 7)"),
    ],
    ids=["malformed", "list", "null", "100000-deep", "not-utf8"],
)
def test_a_bad_event_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                content: bytes, problem: str) -> None:  # fmt: skip
    from int8gate.action import main

    event = tmp_path / "event.json"
    event.write_bytes(content)
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_COMMENT": "off", "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(event)}  # fmt: skip
    assert main(env) == 2
    _, err = capsys.readouterr()
    error = err.splitlines()[0]  # then the outputs and summary steps' own lines
    assert error.startswith("int8gate: error: the event file (GITHUB_EVENT_PATH) ") and problem in error
    assert "internal error" not in err


def test_workflow_commands_are_paused_while_the_gate_runs(tmp_path: Path, standin: StandIn) -> None:
    h = Harness(tmp_path, standin)
    env = h.env("push", payload("push.json"))

    def gate(policy: Path, workspace: Path, env: Mapping[str, str], fail_on: FailOn, **against: object) -> Report:
        print("::error title=x::pwned (stands for anything the gate or a library might print)", file=h.out)
        return canned_report()

    assert run(ActionSettings.from_environ(env), env, gate=gate, client_factory=h.client, out=h.out, err=h.err) == 1
    lines = h.out.getvalue().splitlines()
    stop = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    token = lines[stop].removeprefix("::stop-commands::")
    assert len(token) == 32 and lines.index(f"::{token}::") == stop + 2  # the gate's line sits in between
    assert lines[stop + 1].endswith("pwned (stands for anything the gate or a library might print)")
    annotations = [i for i, line in enumerate(lines) if line.startswith("::error title=int8gate")]
    assert annotations and min(annotations) > stop + 2  # our own annotations come after the resume


def _runner_commands(lines: list[str]) -> list[str]:
    """What GitHub's runner takes as commands: ``::stop-commands::T`` stops it until a line ``::T::``."""
    commands, token = [], None
    for line in lines:
        if token is not None:
            token = None if line == f"::{token}::" else token
        elif line.startswith("::stop-commands::"):
            token = line.removeprefix("::stop-commands::")
        elif line.startswith("::"):
            commands.append(line)
    return commands if token is None else [*commands, "(still stopped)"]


def test_our_log_groups_are_commands_while_the_gate_runs_paused_and_nothing_else_is() -> None:
    from int8gate.commands.progress import ProgressPrinter
    from int8gate.github.publish import commands_paused
    from int8gate.report.progress import Plan, Stage, Step

    stream = io.StringIO()  # the Action's stdout and stderr, as the runner reads them (one stream here)
    printer = ProgressPrinter(Plan(2, 1, 1.0), stream, lambda: 0.0, actions=True)
    with commands_paused(stream):
        printer.start()
        for pair, name in ((1, "m%0A::error::pwned"), (2, "m\n::error title=x::pwned")):
            printer(Step(pair, 2, name, Stage.INSPECT))
            print("::error title=x::pwned (a library's own line)", file=stream)
        printer.close()
    assert _runner_commands(stream.getvalue().splitlines()) == [
        "::group::int8gate: pair 1/2 m%250A::error::pwned",
        "::endgroup::",
        "::group::int8gate: pair 2/2 m?::error title=x::pwned",
        "::endgroup::",
    ]


def test_the_report_path_output_is_empty_when_the_report_could_not_be_written(tmp_path: Path,
                                                                              standin: StandIn) -> None:  # fmt: skip
    """A later step reading ``report-path`` must not be handed a path to a report that is not there."""
    h = Harness(tmp_path, standin)
    (tmp_path / "ws" / "int8gate-report.json").mkdir()  # something that is not a file sits where it goes
    assert h.run(h.env("push", payload("push.json")), report=canned_report(Verdict.PASS)) == 0
    assert "int8gate: report: failed: " in h.err.getvalue()
    assert h.outputs()["verdict"] == "pass"
    assert h.outputs()["report-path"] == ""
    h2 = Harness(tmp_path / "written", standin)
    assert h2.run(h2.env("push", payload("push.json")), report=canned_report(Verdict.PASS)) == 0
    assert h2.outputs()["report-path"] == "int8gate-report.json"
    assert (tmp_path / "written" / "ws" / "int8gate-report.json").is_file()
