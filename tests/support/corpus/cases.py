"""The hostile-input corpus as data: what each case runs, what it is made of, and what int8gate must do.

One ``Case`` per attack, grouped by the item of issue 14 it came from (``cls``): memory, time,
bad input, outside the workspace, injection, misleading messages, telemetry, and what already held
(kept so it stays so). Models and sample files are named artifacts (``artifacts``) built by the tests;
policies, events and small texts are written here. ``Expect`` is the behaviour wanted: the exit code,
the kind of outcome (one ``int8gate: error:`` line; a report with a failed row; a report), a message
that must (or must not) appear, a time and a memory ceiling. The common rules every case is also held
to are in ``harness.judge``.

Placeholders in argv, env, paths and texts: ``{python}`` ``{ws}`` ``{run}`` ``{outside}`` ``{token}``
``{event}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FAKE_TOKEN = "ghs_hostileCorpusFakeToken0000000000000"  # a stand-in the log must never show
INJECTION_MARK = "pwned"
MEMORY_CEILING_MB = 1536.0
"""No process of the gate above 1.5 GB, on any case (issue 14's goal)."""


@dataclass(frozen=True)
class Expect:
    """What int8gate must do with a case (the common rules are always added)."""

    exit: tuple[int, ...] = ()
    kind: str = "any"  # "error": exactly one `int8gate: error:` line; "failed-row"; "report"; "any"
    message: str | None = None  # a regex the relevant lines must match
    message_not: str | None = None  # a regex no line may match (a misleading message)
    max_seconds: float | None = None
    max_proc_mb: float = MEMORY_CEILING_MB
    never_open: tuple[str, ...] = ()  # paths no process may open (strace)


@dataclass(frozen=True)
class Setup:
    """One thing put in the workspace besides the artifacts: a symlink (value: its target), a FIFO, a
    folder, or a text file (value: its text)."""

    op: str
    path: str
    value: str = ""


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    cls: str
    item: str
    expect: Expect
    argv: tuple[str, ...] = ("{python}", "-m", "int8gate", "check", "--json", "report.json")
    policy: str | None = None
    files: Mapping[str, str] = field(default_factory=dict)
    setup: tuple[Setup, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    event: bytes | None = None
    timeout: float = 90.0
    slow: bool = False
    cancel_after: float | None = None
    strace: str = "narrow"  # "full": every file call (the external-data and telemetry cases)
    report: str = "report.json"  # where the JSON report is, or "-" for stdout
    mem_cap_mb: int = 4096


CASES: list[Case] = []


def case(name: str, title: str, cls: str, item: str, expect: Expect, **options: Any) -> None:
    CASES.append(Case(name, title, cls, item, expect, **options))


PAIR = MappingProxyType({"models/fp32.onnx": "matmul_fp32.onnx", "models/int8.onnx": "matmul_int8.onnx"})
FAST = "benchmark:\n  threads: [1]\n  budget_seconds: 0.3\n  sessions: 2\n  confirm: false\n  fidelity_samples: 2\nreport:\n  profile: false\n"
ONE = "  - name: matmul\n    fp32: models/fp32.onnx\n    int8: models/int8.onnx\n"
M = "  - fp32: models/fp32.onnx\n    int8: models/int8.onnx\n"
SAMPLES = "  - name: matmul\n    fp32: models/fp32.onnx\n    int8: models/int8.onnx\n    samples: data/{f}\n"
GATE = ("{python}", "-m", "int8gate")
ACTION = ("{python}", "-m", "int8gate.action")
BENCH = (*GATE, "bench", "models/fp32.onnx", "models/int8.onnx", "--json")


def policy(models: str = ONE, tail: str = FAST) -> str:
    return "models:\n" + models + tail


def fast(**changes: str) -> str:
    """The fast benchmark settings with some keys changed or added (``key="value"``)."""
    lines = FAST.splitlines()
    for key, value in changes.items():
        hit = [i for i, line in enumerate(lines) if line.startswith(f"  {key}:")]
        if hit:
            lines[hit[0]] = f"  {key}: {value}"
        else:
            lines.insert(lines.index("report:"), f"  {key}: {value}")
    return "\n".join(lines) + "\n"


def bad(name: str, title: str, text: str, message: str, *, item: str = "3", cls: str = "bad-input", **options: Any) -> None:
    """A policy refused with one line naming the file, line and key, before anything runs."""
    if "benchmark:" not in text:
        text += FAST
    options.setdefault("files", PAIR)
    case(name, title, cls, item, Expect(exit=(2,), kind="error", message=message, max_seconds=20), policy=text, **options)


def action_env(event: str = "pull_request", **inputs: str) -> dict[str, str]:
    env = {
        "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "{ws}", "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": "{event}", "GITHUB_API_URL": "http://127.0.0.1:9", "GITHUB_REPOSITORY": "octo-org/octo-repo",
        "GITHUB_JOB": "gate", "GITHUB_STEP_SUMMARY": "{run}/github/summary.md", "GITHUB_OUTPUT": "{run}/github/output",
        "INPUT_GITHUB-TOKEN": "{token}", "INPUT_POLICY": ".int8gate.yml", "INPUT_COMMENT": "update",
        "INPUT_REPORT-PATH": "report.json",
    }  # fmt: skip
    env.update({f"INPUT_{key.replace('_', '-').upper()}": value for key, value in inputs.items()})
    return env


def pr_event(fork: bool) -> bytes:
    head = "forker/octo-repo" if fork else "octo-org/octo-repo"
    sha = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    return json.dumps({
        "action": "opened", "number": 2,
        "pull_request": {"number": 2, "head": {"ref": "changes", "sha": sha, "repo": {"full_name": head}},
                         "base": {"ref": "main", "sha": "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
                                  "repo": {"full_name": "octo-org/octo-repo"}}},
        "repository": {"full_name": "octo-org/octo-repo"},
    }).encode()  # fmt: skip


DEEP_JSON = "[" * 100_000 + "]" * 100_000
MEM = Expect(exit=(0, 1), kind="report")

# -- 1. memory ---------------------------------------------------------------------------------------
case("mem_bootstrap_1s", "bootstrap arrays at a 1 s budget (a 3 µs MatMul: ~50,000 samples a session)", "memory", "1",
     MEM, policy=policy(tail=fast(budget_seconds="1")), files=PAIR)
case("mem_bootstrap_6s", "bootstrap arrays at a 6 s budget (was 6.3 GB, then MemoryError)", "memory", "1", MEM,
     policy=policy(tail=fast(budget_seconds="6")), files=PAIR, mem_cap_mb=8192, slow=True, timeout=120)
case("mem_bootstrap_30s", "bootstrap arrays at a 30 s budget (asked for 15 GiB)", "memory", "1", MEM,
     policy=policy(tail=fast(budget_seconds="30")), files=PAIR, slow=True, timeout=240)
case("mem_fidelity_big_output", "fidelity on a 200-byte model with a 256 KiB output and 1,000 samples", "memory", "1", MEM,
     policy=policy(tail=fast(fidelity_samples="1000")), files={"models/fp32.onnx": "bigout_fp32.onnx",
                                                                "models/int8.onnx": "bigout_int8.onnx"}, slow=True)
case("mem_npz_bomb", "a 1 MB .npz sample file that inflates to 1.1 GB", "memory", "1",
     Expect(exit=(0, 1, 2), max_seconds=60), policy=policy(SAMPLES.format(f="samples.npz")),
     files={**PAIR, "data/samples.npz": "samples_bomb.npz"})
LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
case("mem_yaml_alias_bomb", "a 1 KB YAML alias bomb (billion laughs) as the policy", "memory", "1",
     Expect(exit=(2,), kind="error", message=r"\.int8gate\.yml:\d+: .*alias", max_seconds=10),
     policy="models:\n" + M + LAUGHS, files=PAIR)
case("mem_nested_functions", "a 3 KB INT8 model of nested local functions (2^40 nodes when inlined)", "memory", "1",
     Expect(exit=(1, 2), message=r"int8\.onnx.*function", max_seconds=20), policy=policy(),
     files={"models/fp32.onnx": "matmul_fp32.onnx", "models/int8.onnx": "nested_functions.onnx"})

# -- 2. time -----------------------------------------------------------------------------------------
PAIRS = "".join(f"  - name: m{i:03d}\n    fp32: models/fp32.onnx\n    int8: models/int8.onnx\n" for i in range(200))
case("time_pairs_200", "200 model pairs (used to run ~25 minutes): refused by the row cap", "time", "2",
     Expect(exit=(2,), kind="error", message=r"models: 200 model pair\(s\).*limits\.max_rows", max_seconds=20),
     policy=policy(PAIRS), files=PAIR)
case("time_deadline_rows_not_measured", "a run deadline of 1 s over 5 pairs: rows after it not measured, report written",
     "time", "2", Expect(exit=(0, 1), kind="report", message=r"not (measured|checked).*deadline", max_seconds=30),
     policy=policy("".join(f"  - {{name: m{i}, fp32: models/fp32.onnx, int8: models/int8.onnx}}\n" for i in range(5)),
                   FAST + "limits:\n  max_run_seconds: 1\n"), files=PAIR)  # a pair takes ~0.5 s here (issue 15)
case("time_slow_session", "a 900-byte model whose session creation takes ~2 s (constant folding), budget 1 s", "time",
     "2", Expect(exit=(0, 1, 2), max_seconds=90), policy=policy(tail=fast(budget_seconds="1")),
     files={"models/fp32.onnx": "slow_session.onnx", "models/int8.onnx": "slow_session.onnx"}, slow=True, timeout=200)
case("time_inspect_timeout_fixed", "timeout_seconds: 3 now also bounds the inspection child (a ~12 s, 3.5 GB session)",
     "time", "2", Expect(exit=(1, 2), message=r"hung|3 s", max_seconds=20), policy=policy(tail=fast(timeout_seconds="3")),
     files={"models/fp32.onnx": "slower_session.onnx", "models/int8.onnx": "slower_session.onnx"}, slow=True)
case("time_cancel_loop", "SIGTERM to the gate's process group while a worker runs a looping model: nothing left",
     "time", "2", Expect(), policy=policy(), files={"models/fp32.onnx": "matmul_fp32.onnx",
                                                    "models/int8.onnx": "loop_forever.onnx"}, cancel_after=8, timeout=60)

# -- 3. bad input ------------------------------------------------------------------------------------
bad("bad_yaml_key_python_tag", "a mapping key with a !!python/name tag", "models:\n" + M + "? !!python/name:os.system\n: 1\n",
    r"\.int8gate\.yml:\d+: .*tag")
bad("bad_yaml_merge_scalar", "a YAML merge key `<<: 5`", "models:\n" + M + "benchmark:\n  <<: 5\n", r"\.int8gate\.yml:\d+: .*merge")
bad("bad_yaml_merge_list_scalar", "a YAML merge key `<<: [5]`", "models:\n" + M + "benchmark:\n  <<: [5]\n",
    r"\.int8gate\.yml:\d+: .*merge")
bad("bad_yaml_date_name", "a date as a model name", "models:\n" + M + "    name: 2024-01-01\n",
    r"\.int8gate\.yml:\d+: models\[0\]\.name: .*text")
bad("bad_yaml_date_in_threads", "a date in benchmark.threads", "models:\n" + M + "benchmark:\n  threads: [2024-01-01]\n",
    r"\.int8gate\.yml:\d+: benchmark\.threads")
bad("bad_yaml_binary_name", "bytes (!!binary) as a model name", "models:\n" + M + "    name: !!binary aGVsbG8=\n",
    r"\.int8gate\.yml:\d+: models\[0\]\.name")
bad("bad_yaml_bad_timestamp", "`!!timestamp 'x'`", "models:\n" + M + "    name: !!timestamp 'x'\n",
    r"\.int8gate\.yml:\d+: models\[0\]\.name")
bad("bad_yaml_bad_float", "`!!float 'abc'`", "models:\n" + M + "benchmark:\n  budget_seconds: !!float 'abc'\n",
    r"\.int8gate\.yml:\d+: benchmark\.budget_seconds")
bad("bad_yaml_bad_int", "`!!int 'abc'`", "models:\n" + M + "benchmark:\n  seed: !!int 'abc'\n", r"\.int8gate\.yml:\d+: benchmark\.seed")
bad("bad_yaml_int_5000_digits", "a 5,000-digit integer", "models:\n" + M + "benchmark:\n  seed: 1" + "0" * 5000 + "\n",
    r"\.int8gate\.yml:\d+: benchmark\.seed")
bad("bad_yaml_deep_sequence", "3,000 nested flow sequences", "models: " + "[" * 3000 + "]" * 3000 + "\n",
    r"\.int8gate\.yml:\d+: .*(deep|nest)")
bad("bad_yaml_deep_mapping", "3,000 nested flow mappings", "models: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    r"\.int8gate\.yml:\d+: .*(deep|nest)")
bad("bad_yaml_surrogate_name", "a lone UTF-16 surrogate in a model name", "models:\n" + M + '    name: "m\\ud800"\n',
    r"\.int8gate\.yml:\d+: models\[0\]\.name")
NUM = "models:\n" + M
bad("bad_budget_nan", "benchmark.budget_seconds: .nan", NUM + "benchmark:\n  threads: [1]\n  budget_seconds: .nan\n",
    r"\.int8gate\.yml:\d+: benchmark\.budget_seconds: .*finite")
bad("bad_timeout_nan", "benchmark.timeout_seconds: .nan", NUM + fast(timeout_seconds=".nan"),
    r"\.int8gate\.yml:\d+: benchmark\.timeout_seconds")
bad("bad_halfwidth_nan", "benchmark.target_halfwidth: .nan", NUM + fast(target_halfwidth=".nan"),
    r"\.int8gate\.yml:\d+: benchmark\.target_halfwidth")
bad("bad_speedup_nan", "require.speedup: .nan", NUM + "require:\n  speedup: .nan\n" + FAST, r"\.int8gate\.yml:\d+: require\.speedup")
bad("bad_max_model_mb_nan", "limits.max_model_mb: .nan", NUM + "limits:\n  max_model_mb: .nan\n" + FAST,
    r"\.int8gate\.yml:\d+: limits\.max_model_mb")
bad("bad_snr_negative_inf", "require.fidelity.min_snr_db: -.inf", NUM + "require:\n  fidelity:\n    min_snr_db: -.inf\n" + FAST,
    r"\.int8gate\.yml:\d+: require\.fidelity\.min_snr_db")
bad("bad_snr_nan", "require.fidelity.min_snr_db: .nan", NUM + "require:\n  fidelity:\n    min_snr_db: .nan\n" + FAST,
    r"\.int8gate\.yml:\d+: require\.fidelity\.min_snr_db")
bad("bad_shape_float_dims", "inputs.x.shape: [1.0, 64]", policy(M + "    inputs:\n      x: {shape: [1.0, 64]}\n"),
    r"\.int8gate\.yml:\d+: models\[0\]\.inputs\.x\.shape")
CLI = Expect(exit=(2,), kind="error", max_seconds=20)
for name, title, extra, message in (
    ("bad_cli_threads_superscript", "`bench --threads ²`", ("--threads", "²"), r"--threads"),
    ("bad_cli_threads_huge", "`bench --threads 99999999999999999999`", ("--threads", "99999999999999999999"), r"--threads"),
    ("bad_cli_budget_negative", "`bench --budget -1`", ("--threads", "1", "--budget", "-1"), r"--budget"),
    ("bad_cli_budget_nan", "`bench --budget nan`", ("--threads", "1", "--budget", "nan"), r"--budget"),
    ("bad_cli_budget_inf", "`bench --budget inf`", ("--threads", "1", "--budget", "inf"), r"--budget"),
    ("bad_cli_min_speedup_nan", "`bench --min-speedup nan`", ("--threads", "1", "--min-speedup", "nan"), r"--min-speedup"),
):
    case(name, title, "bad-input", "3", Expect(exit=(2,), kind="error", message=message, max_seconds=20),
         argv=(*BENCH, *extra), files=PAIR, report="-")
case("bad_cli_demo_budget_nan", "`demo --budget nan`", "bad-input", "3",
     Expect(exit=(2,), kind="error", message=r"--budget", max_seconds=20), argv=(*GATE, "demo", "--budget", "nan"))
case("bad_cli_policy_path_long", "`check --policy` with a 5,000-character path", "bad-input", "3",
     Expect(exit=(2,), kind="error", message=r"too long", max_seconds=20), argv=(*GATE, "check", "--policy", "p" * 5000 + ".yml"))
for name, art, target, title in (
    ("bad_samples_zip_named_npy", "samples_zip_as.npy", "samples.npy", "an .npz archive named .npy"),
    ("bad_samples_npy_named_npz", "samples_npy_as.npz", "samples.npz", "an .npy array named .npz"),
    ("bad_samples_truncated_zip", "samples_truncated.npz", "samples.npz", "a truncated .npz"),
    ("bad_samples_bad_crc", "samples_badcrc.npz", "samples.npz", "an .npz whose member fails its CRC-32"),
    ("bad_samples_header_lies", "samples_header_lies.npz", "samples.npz", "an .npz whose header claims 64 GiB over 1 KiB"),
):
    case(name, title, "bad-input", "3", Expect(exit=(2,), kind="error", message=rf"data/{target}", max_seconds=20),
         policy=policy(SAMPLES.format(f=target)), files={**PAIR, f"data/{target}": art})
bad("bad_symlink_loop_model", "models/fp32.onnx is a symlink to itself", policy(), r"models\[0\]\.fp32: .*(loop|symbolic)",
    files={"models/int8.onnx": "matmul_int8.onnx"}, setup=(Setup("symlink", "models/fp32.onnx", "fp32.onnx"),))
bad("bad_symlink_loop_samples", "the sample file is a symlink to itself", policy(SAMPLES.format(f="s.npz")),
    r"models\[0\]\.samples: .*(loop|symbolic)", setup=(Setup("symlink", "data/s.npz", "s.npz"),))
bad("bad_nul_in_path", "a NUL byte in a model path", policy('  - fp32: "models/fp32\\0.onnx"\n    int8: models/int8.onnx\n'),
    r"models\[0\]\.fp32: .*(NUL|null)")
bad("bad_path_5000_chars", "a 5,000-character model path", policy("  - fp32: models/" + "a" * 5000 + ".onnx\n    int8: models/int8.onnx\n"),
    r"models\[0\]\.fp32: .*long")
case("bad_elem_type_unknown_check", "`check` with an input element type of 99", "bad-input", "3",
     Expect(exit=(2,), kind="error", message=r"models/fp32\.onnx.*(element type|99)"), policy=policy(),
     files={"models/fp32.onnx": "elemtype_unknown.onnx", "models/int8.onnx": "relu.onnx"})
case("bad_elem_type_unknown_inspect", "`inspect` of a model whose input element type is 99", "bad-input", "3",
     Expect(exit=(2,), kind="error", message=r"models/m\.onnx.*(element type|99)"),
     argv=(*GATE, "inspect", "models/m.onnx"), files={"models/m.onnx": "elemtype_unknown.onnx"})
for name, content, title in (
    ("bad_action_event_not_json", b'{"pull_request": ', "GITHUB_EVENT_PATH holds malformed JSON"),
    ("bad_action_event_list", b"[]", "GITHUB_EVENT_PATH holds a JSON list"),
    ("bad_action_event_null", b"null", "GITHUB_EVENT_PATH holds JSON null"),
    ("bad_action_event_deep", DEEP_JSON.encode(), "GITHUB_EVENT_PATH holds 100,000 nested lists"),
    ("bad_action_event_not_utf8", b'{"a": "\xff\xfe"}', "GITHUB_EVENT_PATH is not UTF-8"),
):
    case(name, title, "bad-input", "3", Expect(exit=(2,), kind="error", message=r"event", max_seconds=20),
         argv=ACTION, policy=policy(), files=PAIR, env=action_env(), event=content)
case("bad_merge_report_deep", "`merge` of a report holding 100,000 nested lists", "bad-input", "3",
     Expect(exit=(2,), kind="error", message=r"r\.json"), argv=(*GATE, "merge", "r.json"),
     setup=(Setup("write", "r.json", DEEP_JSON),))
case("bad_merge_report_bigint", "`merge` of a report whose schema_version has 5,000 digits", "bad-input", "3",
     Expect(exit=(2,), kind="error", message=r"r\.json"), argv=(*GATE, "merge", "r.json"),
     setup=(Setup("write", "r.json", '{"schema_version": 1' + "0" * 5000 + "}"),))
WORKFLOW_RUN = json.dumps({
    "action": "completed",
    "workflow_run": {"id": 30433642, "event": "pull_request", "conclusion": "failure", "head_branch": "changes",
                     "head_sha": "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                     "head_repository": {"full_name": "forker/octo-repo"}, "pull_requests": []},
    "repository": {"full_name": "octo-org/octo-repo"},
}).encode()  # fmt: skip
case("bad_action_poster_artifact_deep", "the workflow_run poster reads an int8gate-comment.json of 100,000 nested lists",
     "bad-input", "3", Expect(exit=(0, 2), message=r"int8gate-comment\.json"), argv=ACTION,
     env=action_env("workflow_run"), event=WORKFLOW_RUN,
     setup=(Setup("write", "int8gate-fork/int8gate-comment.json", DEEP_JSON),))
case("bad_cli_comment_report_deep", "`comment --report` of a file of 100,000 nested lists", "bad-input", "3",
     Expect(exit=(0, 2), message=r"art\.json"), argv=(*GATE, "comment", "--report", "art.json"),
     env={"GITHUB_TOKEN": "{token}", "GITHUB_EVENT_NAME": "workflow_run", "GITHUB_EVENT_PATH": "{event}",
          "GITHUB_REPOSITORY": "octo-org/octo-repo", "GITHUB_WORKSPACE": "{ws}", "GITHUB_API_URL": "http://127.0.0.1:9"},
     event=WORKFLOW_RUN, setup=(Setup("write", "art.json", DEEP_JSON),))

# -- 4. outside the workspace ------------------------------------------------------------------------
case("out_fork_symlink_folder", "fork PR; the fork committed `int8gate-fork` as a symlink to a folder outside",
     "outside", "4", Expect(exit=(0, 1), message=r"comment: failed: .*int8gate-fork is a symbolic link"), argv=ACTION,
     policy=policy(), files=PAIR, env=action_env(), event=pr_event(fork=True),
     setup=(Setup("symlink", "int8gate-fork", "{outside}"),))
case("held_fork_comment_file_symlink", "fork PR; `int8gate-fork/int8gate-comment.json` is a symlink to a file outside",
     "held", "4", Expect(exit=(0, 1)), argv=ACTION, policy=policy(), files={**PAIR, "{outside}/victim.json": "w.bin"},
     env=action_env(), event=pr_event(fork=True),
     setup=(Setup("symlink", "int8gate-fork/int8gate-comment.json", "{outside}/victim.json"),))
case("held_action_report_path_symlink_dir", "report-path `out/r.json` where `out` is a symlink to a folder outside",
     "held", "4", Expect(exit=(0, 1)), argv=ACTION, policy=policy(), files=PAIR,
     env=action_env(report_path="out/r.json", comment="off"), event=pr_event(fork=False),
     setup=(Setup("symlink", "out", "{outside}"),))
case("held_action_working_directory_symlink", "working-directory `sub` is a symlink to a folder outside", "held", "4",
     Expect(exit=(2,), kind="error", message=r"working-directory"), argv=ACTION,
     env=action_env(working_directory="sub", comment="off"), event=pr_event(fork=False),
     setup=(Setup("symlink", "sub", "{outside}"),))
case("held_cli_json_symlink_dir", "`check --json out/r.json` where `out` is a symlink to a folder outside", "held", "4",
     Expect(exit=(2,), kind="error", message=r"out/r\.json", max_seconds=10), argv=(*GATE, "check", "--json", "out/r.json"),
     policy=policy(), files=PAIR, setup=(Setup("symlink", "out", "{outside}"),))
case("held_policy_symlink_outside", "`.int8gate.yml` is a symlink to a policy outside the workspace", "held", "4",
     Expect(exit=(2,), kind="error", message=r"outside the workspace"), files=PAIR,
     setup=(Setup("write", "{outside}/p.yml", policy()), Setup("symlink", ".int8gate.yml", "{outside}/p.yml")))
case("held_model_symlink_outside", "models/fp32.onnx is a symlink to a model outside the workspace", "held", "4",
     Expect(exit=(2,), kind="error", message=r"models\[0\]\.fp32: .*outside"), policy=policy(),
     files={"models/int8.onnx": "matmul_int8.onnx", "{outside}/fp32.onnx": "matmul_fp32.onnx"},
     setup=(Setup("symlink", "models/fp32.onnx", "{outside}/fp32.onnx"),))
for name, art, beside, links, title in (
    ("held_external_data_absolute", "ext_absolute.onnx", {}, (), "external data at /etc/passwd"),
    ("held_external_data_dotdot", "ext_dotdot.onnx", {"{outside}/w.bin": "w.bin"}, (), "external data at ../../outside/w.bin"),
    ("held_external_data_symlink", "ext_symlink.onnx", {"{outside}/w.bin": "w.bin"},
     (Setup("symlink", "models/w.bin", "{outside}/w.bin"),), "external data w.bin, a symlink to a file outside"),
):
    case(name, title, "held", "4", Expect(exit=(2,), kind="error", message=r"models/fp32\.onnx: .*external data",
                                          never_open=("/etc/passwd", "{outside}")),
         policy=policy(), files={"models/fp32.onnx": art, "models/int8.onnx": "matmul_int8.onnx", **beside}, setup=links,
         strace="full")

# -- 5. workflow-command injection (the judge flags any line that starts with "::" and holds "pwned") --
INJ = "m\n::error title=x::pwned-from-name"


def named(name: str) -> str:
    return policy(f"  - name: {json.dumps(name)}\n    fp32: models/fp32.onnx\n    int8: models/int8.onnx\n")


case("inj_name_newline_cli", "model name `m\\n::error title=x::pwned` in `check` progress lines", "injection", "5",
     Expect(exit=(0, 1), kind="report"), policy=named(INJ), files=PAIR)
case("inj_name_newline_action", "the same model name through the Action", "injection", "5", Expect(exit=(0, 1)),
     argv=ACTION, policy=named(INJ), files=PAIR, env=action_env(comment="off"), event=pr_event(fork=False))
case("inj_name_stop_commands", "model name `m\\n::stop-commands::pwned` through the Action", "injection", "5",
     Expect(exit=(0, 1)), argv=ACTION, policy=named("m\n::stop-commands::pwned"), files=PAIR,
     env=action_env(comment="off"), event=pr_event(fork=False))
case("held_inj_name_percent0a", "model name `m%0A::error::pwned` (escaped form) through the Action", "held", "5",
     Expect(exit=(0, 1)), argv=ACTION, policy=named("m%0A::error::pwned"), files=PAIR, env=action_env(comment="off"),
     event=pr_event(fork=False))
MISSING = policy('  - fp32: "models/x\\n::error title=x::pwned.onnx"\n    int8: models/int8.onnx\n')
case("inj_missing_file_newline", "a missing model path holding `\\n::error title=x::pwned` (the error line)", "injection",
     "5", Expect(exit=(2,), kind="error"), policy=MISSING, files=PAIR)
case("held_inj_missing_file_action", "the same missing path through the Action (one escaped annotation)", "held", "5",
     Expect(exit=(2,), kind="error"), argv=ACTION, policy=MISSING, files=PAIR, env=action_env(comment="off"),
     event=pr_event(fork=False))
case("inj_file_name_newline", "an existing model file named `i\\n::error title=x::pwned.onnx`", "injection", "5",
     Expect(exit=(0, 1), kind="report"),
     policy=policy('  - name: m\n    fp32: models/fp32.onnx\n    int8: "models/i\\n::error title=x::pwned.onnx"\n'),
     files={"models/fp32.onnx": "matmul_fp32.onnx", "models/i\n::error title=x::pwned.onnx": "matmul_int8.onnx"})
case("inj_model_input_name", "the model's input name holds `\\n::error title=x::pwned`; the policy names another input",
     "injection", "5", Expect(exit=(2,), kind="error"),
     policy=policy("  - name: m\n    fp32: models/fp32.onnx\n    int8: models/int8.onnx\n    inputs:\n      nosuch: {shape: [1, 64]}\n"),
     files={"models/fp32.onnx": "matmul_fp32_input_injection.onnx", "models/int8.onnx": "matmul_int8.onnx"})

# -- 6. misleading messages --------------------------------------------------------------------------
case("msg_opset_too_new", "INT8 model stamped opset 30: ONNX Runtime's reason ('till opset 28') is kept", "message", "6",
     Expect(exit=(1, 2), message=r"opset 2\d"), policy=policy(),
     files={"models/fp32.onnx": "relu.onnx", "models/int8.onnx": "relu_opset30.onnx"})
case("msg_model_is_folder", "models/int8.onnx is a folder", "message", "6",
     Expect(exit=(2,), kind="error", message=r"models\[0\]\.int8: .*folder"), policy=policy(),
     files={"models/fp32.onnx": "matmul_fp32.onnx"}, setup=(Setup("mkdir", "models/int8.onnx"),))
case("msg_model_is_fifo", "models/int8.onnx is a FIFO", "message", "6",
     Expect(exit=(2,), kind="error", message=r"models\[0\]\.int8: .*(regular file|FIFO)"), policy=policy(),
     files={"models/fp32.onnx": "matmul_fp32.onnx"}, setup=(Setup("fifo", "models/int8.onnx"),))
case("msg_policy_is_folder", "`--policy conf` where conf is a folder", "message", "6",
     Expect(exit=(2,), kind="error", message=r"conf: .*folder"), argv=(*GATE, "check", "--policy", "conf"),
     setup=(Setup("mkdir", "conf"),))
case("msg_policy_symlink_loop", "`.int8gate.yml` is a symlink to itself", "message", "6",
     Expect(exit=(2,), kind="error", message=r"(loop|symbolic)"), setup=(Setup("symlink", ".int8gate.yml", ".int8gate.yml"),))
bad("msg_yaml_1e9", "`budget_seconds: 1e9` (YAML 1.1 reads it as text)", NUM + "benchmark:\n  budget_seconds: 1e9\n",
    r"benchmark\.budget_seconds: .*(1\.0e9|text|string|at most)", item="6", cls="message")
case("msg_renamed_int8_input", "the INT8 model's input is renamed x -> x_q (an input/output mismatch, not a usage error)",
     "message", "6", Expect(exit=(1,), kind="report", message=r"input 'x'.*missing"), policy=policy(),
     files={"models/fp32.onnx": "matmul_fp32.onnx", "models/int8.onnx": "matmul_int8_renamed.onnx"})
case("msg_valid_model_ir0", "`inspect` of a valid model with ir_version 0 (ONNX Runtime loads and runs it)", "message",
     "6", Expect(message_not=r"not an ONNX model, or is truncated"), argv=(*GATE, "inspect", "models/m.onnx"),
     files={"models/m.onnx": "relu_ir0.onnx"})
case("held_valid_model_deep_if31", "`check` of a valid 4 KB model (31 nested If nodes) is read and measured", "held",
     "held", Expect(exit=(0, 1), kind="report", message_not=r"not an ONNX model, or is truncated"), policy=policy(),
     files={"models/fp32.onnx": "deep_if31.onnx", "models/int8.onnx": "deep_if31.onnx"})
case("msg_outputs_checked_late", "`--markdown ../outside/r.md` is refused before anything is measured", "message", "6",
     Expect(exit=(2,), kind="error", message=r"r\.md", max_seconds=10),
     argv=(*GATE, "check", "--json", "report.json", "--markdown", "../outside/r.md"), policy=policy(), files=PAIR)
case("msg_json_is_folder", "`--json adir` where adir is a folder: refused before anything is measured", "message", "6",
     Expect(exit=(2,), kind="error", message=r"adir", max_seconds=10), argv=(*GATE, "check", "--json", "adir"),
     policy=policy(), files=PAIR, setup=(Setup("mkdir", "adir"),))

# -- 7. telemetry ------------------------------------------------------------------------------------
case("telemetry_check", "a plain check under strace (every file and network call)", "telemetry", "7",
     Expect(exit=(0, 1), kind="report"), policy=policy(), files=PAIR, strace="full")
case("telemetry_inspect", "`inspect` of a valid model under strace (every file and network call)", "telemetry", "7",
     Expect(exit=(0,)), argv=(*GATE, "inspect", "models/int8.onnx"), files=PAIR, strace="full")

# -- what held (kept so it stays so) -----------------------------------------------------------------
bad("held_yaml_python_object_tag", "`name: !!python/object/apply:os.system [...]`",
    "models:\n" + M + '    name: !!python/object/apply:os.system ["touch pwned"]\n', r"tag .*not allowed", item="held", cls="held")
bad("held_yaml_python_scalar_tag", "`name: !!python/name:os.system`", "models:\n" + M + "    name: !!python/name:os.system\n",
    r"\.int8gate\.yml:\d+: models\[0\]\.name: invalid value", item="held", cls="held")
for name, art, target in (("held_samples_pickle_npz", "samples_pickle.npz", "s.npz"),
                          ("held_samples_pickle_npy", "samples_pickle.npy", "s.npy")):  # fmt: skip
    case(name, f"an object-array (pickle) sample file {target}", "held", "held",
         Expect(exit=(2,), kind="error", message=rf"data/{target}.*(pickle|Object|object)"),
         policy=policy(SAMPLES.format(f=target)), files={**PAIR, f"data/{target}": art})
case("held_samples_npy_header_lies", "an .npy whose header claims 64 GiB over 1 KiB", "held", "held",
     Expect(exit=(2,), kind="error", message=r"data/s\.npy"), policy=policy(SAMPLES.format(f="s.npy")),
     files={**PAIR, "data/s.npy": "samples_npy_header_lies.npy"})
case("held_recursive_functions", "a model-local function that calls itself", "held", "held",
     Expect(exit=(2,), kind="error", message=r"recursive"), policy=policy(),
     files={"models/fp32.onnx": "matmul_fp32.onnx", "models/int8.onnx": "recursive_functions.onnx"})
case("held_loop_failed_row", "a looping INT8 model with timeout_seconds: 3 becomes a failed row", "held", "held",
     Expect(exit=(1,), kind="failed-row", message=r"hung"), policy=policy(tail=fast(timeout_seconds="3")),
     files={"models/fp32.onnx": "matmul_fp32.onnx", "models/int8.onnx": "loop_forever.onnx"})
case("held_oom_failed_row", "an INT8 model that allocates 16 GiB at run time becomes a failed row", "held", "held",
     Expect(exit=(1,), kind="failed-row", message=r"(memory|alloc)"), policy=policy(),
     files={"models/fp32.onnx": "matmul_fp32.onnx", "models/int8.onnx": "oom_model.onnx"})
case("held_action_error_annotation", "an Action run whose policy names a missing file: one escaped annotation", "held",
     "held", Expect(exit=(2,), kind="error", message=r"file not found"), argv=ACTION,
     policy=policy("  - fp32: models/nope.onnx\n    int8: models/int8.onnx\n"), files=PAIR, env=action_env(),
     event=pr_event(fork=False))
case("held_merge_report_empty_object", "`merge` of a report that is `{}`", "held", "held",
     Expect(exit=(2,), kind="error", message=r"r\.json"), argv=(*GATE, "merge", "r.json"), setup=(Setup("write", "r.json", "{}\n"),))
case("held_merge_report_wrong_types", "`merge` of a report whose fields have the wrong types", "held", "held",
     Expect(exit=(2,), kind="error", message=r"r\.json"), argv=(*GATE, "merge", "r.json"),
     setup=(Setup("write", "r.json", json.dumps({"schema_version": 1, "verdict": "pass", "runner": 5, "models": "x"})),))

assert len({c.name for c in CASES}) == len(CASES), "duplicate case names"
