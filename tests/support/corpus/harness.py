"""Run one hostile case the way a CI job would meet it, and judge what happened against its expectation.

``run_case`` lays out a fresh workspace (the case's policy, its artifacts, its symlinks, FIFOs and
folders), a private ``HOME`` and ``TMPDIR``, a folder *outside* the workspace that symlink cases point
into, and GitHub's summary/output files; then ``supervise.py`` runs the command isolated and measured.
``judge`` returns every way the run misses what the case expects (empty: it meets it). Every case is
also held to the common rules: no "internal error", no hang, no process left after it, no workflow
command from the input reaching the log raw, no token in the log, nothing written outside the
workspace, the temporary folder and GitHub's files, no network lookup, and no process above
``Expect.max_proc_mb``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.corpus import artifacts
from support.corpus.cases import FAKE_TOKEN, INJECTION_MARK, Case

SUPERVISOR = Path(__file__).with_name("supervise.py")
ERROR_PREFIX = "int8gate: error:"
_GATE_ANNOTATION = re.compile(r"^::error title=int8gate(%3A policy)?(,[^:]*)?::")
TELEMETRY = re.compile(r"/\.cache/Microsoft|/\.onnxruntime|/\.ses$")


@dataclass
class Result:
    """What one case did, as measured, and how it was judged."""

    case: str
    exit: int | None
    outcome: str
    key_line: str
    error_lines: list[str]
    failed_rows: list[str]
    reasons: list[str]
    stderr: list[str]
    peak_mb: float
    peak_cmd: str
    wall_s: float
    hang: bool
    left: list[str]
    writes_outside: list[str]
    network: list[str]
    opened_forbidden: list[str]
    raw_commands: list[str]
    token_leaks: int
    internal_error: bool
    new_files: list[str]
    traced: bool
    isolated: bool
    misses: list[str] = field(default_factory=list)


def _listing(root: Path) -> dict[str, float]:
    found: dict[str, float] = {}
    if not root.exists():
        return found
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if Path(folder, d).is_symlink()]:
            full = Path(folder, name)
            with contextlib.suppress(OSError):
                found[full.relative_to(root).as_posix()] = full.lstat().st_mtime
    return found


def prepare(case: Case, run: Path, built: Path) -> dict[str, str]:
    """Lay out the case's workspace and folders under ``run``; the placeholders for its argv and env."""
    if run.exists():
        shutil.rmtree(run)
    for sub in ("ws", "home", "tmp", "outside", "github", "sys-tmp", "pw-cache"):
        (run / sub).mkdir(parents=True)
    ws = run / "ws"
    places = {"ws": str(ws), "run": str(run), "outside": str(run / "outside"), "token": FAKE_TOKEN,
              "python": sys.executable, "int8gate": str(Path(sys.executable).with_name("int8gate")),
              "event": str(run / "event.json")}  # fmt: skip
    if case.policy is not None:
        (ws / ".int8gate.yml").write_text(case.policy, encoding="utf-8")
    if case.event is not None:
        (run / "event.json").write_bytes(case.event)
    for target, name in case.files.items():
        dest = Path(fill(target, places))
        dest = dest if dest.is_absolute() else ws / dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(artifacts.build(name, built), dest)
    for op in case.setup:
        path = Path(fill(op.path, places))
        path = path if path.is_absolute() else ws / path
        path.parent.mkdir(parents=True, exist_ok=True)
        if op.op == "symlink":
            path.symlink_to(fill(op.value, places))
        elif op.op == "fifo":
            os.mkfifo(path)
        elif op.op == "mkdir":
            path.mkdir(parents=True, exist_ok=True)
        elif op.op == "write":
            path.write_text(fill(op.value, places), encoding="utf-8")
        else:
            raise ValueError(f"{case.name}: unknown setup op {op.op!r}")
    return places


def fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def run_case(case: Case, run: Path, built: Path) -> Result:
    """Run ``case`` in a fresh ``run`` folder (artifacts cached in ``built``), measured and judged."""
    places = prepare(case, run, built)
    ws = run / "ws"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(run / "home"),
           "TMPDIR": str(run / "tmp")}  # fmt: skip
    env.update({key: fill(value, places) for key, value in case.env.items()})
    watched = {run / "home": "{run}/home", run / "outside": "{run}/outside", run / "sys-tmp": "/tmp",
               run / "pw-cache": "~/.cache"}  # fmt: skip
    before = {folder: _listing(folder) for folder in watched}
    before_ws = _listing(ws)
    job = {
        "argv": [fill(part, places) for part in case.argv], "cwd": str(ws), "env": env, "timeout": case.timeout,
        "mem_cap_mb": case.mem_cap_mb, "cancel_after": case.cancel_after, "strace": case.strace,
        "trace_log": str(run / "strace.log"), "sys_tmp": str(run / "sys-tmp"), "pw_cache": str(run / "pw-cache"),
    }  # fmt: skip
    done = subprocess.run([sys.executable, str(SUPERVISOR)], input=json.dumps(job), capture_output=True, text=True,
                          timeout=case.timeout + 60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{case.name}: the supervisor failed: {done.stderr[-2000:]}")
    raw: dict[str, Any] = json.loads(done.stdout)
    (run / "supervised.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")

    allowed = [ws, run / "tmp", run / "github"]
    outside = set()
    for _, path in raw["writes"]:
        if path.startswith(("/dev/", "/proc/")) or "/__pycache__/" in path or path.endswith("/__pycache__"):
            continue
        if any(path == str(root) or path.startswith(f"{root}/") for root in allowed):
            continue
        outside.add(path.replace(str(run), "{run}"))
    for folder, label in watched.items():
        for rel, stamp in _listing(folder).items():
            if before[folder].get(rel) != stamp:
                outside.add(f"{label}/{rel}")
    after_ws = _listing(ws)
    new_files = sorted(rel for rel, stamp in after_ws.items() if before_ws.get(rel) != stamp)

    stdout, stderr = raw["stdout"], raw["stderr"]
    internal = any("internal error" in line for line in stderr) or "internal error" in stdout
    error_lines = [line for line in stderr if line.startswith(ERROR_PREFIX)]
    if not error_lines:  # the Action reports a gate error as one annotation on stdout
        error_lines = [_annotation_text(line) for line in stdout.splitlines() if _GATE_ANNOTATION.match(line)]
    report = _report(stdout if case.report == "-" else ws / case.report)
    failed = _failed_rows(report)
    reasons = [f"{m.get('name')}: {r}" for m in (report or {}).get("models", []) or [] for r in m.get("reasons", []) or []]
    lines = stdout.splitlines() + stderr
    raw_commands = [line for line in lines if _injected(line)]
    leaks = sum(line.count(FAKE_TOKEN) for line in lines if not line.startswith("::add-mask::"))
    forbidden = sorted({path for path in raw["opens"] for prefix in case.expect.never_open
                        if path == fill(prefix, places) or path.startswith(fill(prefix, places).rstrip("/") + "/")})  # fmt: skip
    code = raw["exit"]
    if raw["hang"]:
        outcome = f"hang: killed at {case.timeout:g} s"
    elif raw["cancelled"]:
        outcome = "cancelled (SIGTERM)"
    elif internal:
        outcome = "internal error"
    elif error_lines:
        outcome = "error"
    elif failed:
        outcome = "failed row"
    elif report is not None:
        outcome = f"verdict {report.get('verdict')}" if "verdict" in report else "measured"
    else:
        outcome = "no report" if code else "ok"
    key = next((line for line in stderr if "internal error" in line), None) or (error_lines[0] if error_lines else None)
    if key is None and failed:
        key = "failed row: " + failed[0]
    result = Result(
        case=case.name, exit=code, outcome=outcome, key_line=(key or (stderr[0] if stderr else ""))[:400],
        error_lines=error_lines, failed_rows=failed, reasons=reasons, stderr=stderr,
        peak_mb=round(raw["peak_kb"] / 1024, 1), peak_cmd=raw["peak_cmd"], wall_s=raw["wall_s"], hang=raw["hang"],
        left=raw["left"], writes_outside=sorted(outside), network=raw["network"], opened_forbidden=forbidden,
        raw_commands=raw_commands, token_leaks=leaks, internal_error=internal, new_files=new_files,
        traced=raw["traced"], isolated=raw["isolated"],
    )  # fmt: skip
    result.misses = judge(case, result, report)
    (run / "result.json").write_text(json.dumps(result.__dict__, indent=1), encoding="utf-8")
    return result


def _injected(line: str) -> bool:
    """A log line that is a workflow command from the hostile input (ours carry "int8gate" in their title)."""
    if not line.startswith("::") or INJECTION_MARK not in line:
        return False
    head, _, data = line[2:].partition("::")  # ::error title=int8gate::… or ::group::int8gate: pair …
    return "int8gate" not in head and not data.startswith("int8gate")


def _annotation_text(line: str) -> str:
    message = line.split("::", 2)[2]
    return ERROR_PREFIX + " " + message.replace("%0D", "\\r").replace("%0A", "\\n").replace("%25", "%")


def _report(source: str | Path) -> dict[str, Any] | None:
    try:
        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        data = json.loads(text)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _failed_rows(report: dict[str, Any] | None) -> list[str]:
    """Every model error, benchmark-row error and fidelity error in a JSON report."""
    if report is None:
        return []
    found = [f"bench @{run.get('intra_op_threads')}t: {run['error']}"
             for run in report.get("runs", []) or [] if isinstance(run, dict) and run.get("error")]  # fmt: skip
    if isinstance(report.get("fidelity"), dict) and report["fidelity"].get("error"):
        found.append(f"bench fidelity: {report['fidelity']['error']}")
    for model in report.get("models", []) or []:
        if model.get("error"):
            found.append(f"{model.get('name')}: {model['error']}")
        for run in (model.get("benchmark") or {}).get("runs") or []:
            if run.get("error"):
                found.append(f"{model.get('name')} @{run.get('intra_op_threads')}t: {run['error']}")
        fidelity = model.get("fidelity") or {}
        if fidelity.get("error"):
            found.append(f"{model.get('name')} fidelity: {fidelity['error']}")
    return found


def judge(case: Case, r: Result, report: dict[str, Any] | None) -> list[str]:
    """Every way ``r`` misses what ``case`` expects, and the common rules (empty: it meets them)."""
    expect = case.expect
    misses = []
    for flag, what in ((r.internal_error, "internal error"), (r.hang, "hang"), (r.left and not r.hang, "process(es) left"),
                       (r.raw_commands, "raw workflow command(s)"), (r.token_leaks, "token in the log"),
                       (r.opened_forbidden, "opened a forbidden path"), (r.writes_outside, "write(s) outside"),
                       (r.network, "network lookup(s)")):  # fmt: skip
        if flag:
            misses.append(what)
    if expect.exit and r.exit not in expect.exit:
        misses.append(f"exit {r.exit} not in {list(expect.exit)}")
    pattern = expect.message
    everything = [*r.error_lines, *r.failed_rows, *r.reasons, *r.stderr]
    if expect.kind == "error":
        if len(r.error_lines) != 1:
            misses.append(f"{len(r.error_lines)} error line(s), wanted 1")
        elif pattern and not re.search(pattern, r.error_lines[0]):
            misses.append("the error line does not match")
        if r.new_files:
            misses.append(f"wrote {', '.join(r.new_files[:3])}")
    elif expect.kind == "failed-row":
        if report is None:
            misses.append("no report")
        elif not r.failed_rows:
            misses.append("no failed row")
        elif pattern and not any(re.search(pattern, row) for row in r.failed_rows):
            misses.append("no failed row matches")
    elif expect.kind == "report":
        if report is None:
            misses.append("no report")
        if pattern and not any(re.search(pattern, line) for line in [*r.failed_rows, *r.error_lines, *r.reasons]):
            misses.append("no message matches")
    elif pattern and not any(re.search(pattern, line) for line in everything):
        misses.append("no message matches")
    if expect.message_not and any(re.search(expect.message_not, line) for line in everything):
        misses.append("a misleading message")
    if r.peak_mb > expect.max_proc_mb:
        misses.append(f"a process reached {r.peak_mb:.0f} MB > {expect.max_proc_mb:g}")
    if expect.max_seconds is not None and r.wall_s > expect.max_seconds:
        misses.append(f"{r.wall_s:.1f} s > {expect.max_seconds:g} s")
    return misses
