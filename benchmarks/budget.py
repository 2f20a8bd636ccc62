"""Does the gate keep its time budget? Run a real-model policy and account for every row's seconds.

Runs ``int8gate check`` on the policy as a child process (wall time from start to exit, the way CI
pays for it), reads its JSON report, and prints per row: budget, wall time, the rule that stopped
it, whether it was confirmed (and why or why not), sessions × rounds, the call; then the totals
against the promise: the sum of the row budgets plus ``--allowance`` seconds per pair. With
``--before REPORT.json`` (an earlier report of the same policy) it also compares every pair's
verdict and every row's call.

    python benchmarks/budget.py POLICY.yml [--workspace DIR] [--before OLD.json] [--out NEW.json]
    python benchmarks/budget.py --demo --budget 2          # the bundled demo, budget overridden

Timing figures from this script go into benchmarks/README.md only from a quiet machine (on the
shared development machine: ``/work/bin/cpu exclusive -- python benchmarks/budget.py ...``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ALLOWANCE = 1.5


def run_gate(args: argparse.Namespace, report: Path) -> tuple[float, int, str]:
    """Run the gate in a child process; its wall seconds, exit code and stderr."""
    if args.demo:
        command = [sys.executable, "-m", "int8gate", "demo", "--json", str(report)]
        if args.budget is not None:
            command += ["--budget", str(args.budget)]
        cwd = report.parent
    else:
        command = [sys.executable, "-m", "int8gate", "check", "--policy", str(args.policy.resolve()),
                   "--json", str(report), "--fail-on", "never"]  # fmt: skip
        command += ["--workspace", str((args.workspace or report.parent).resolve())]
        cwd = args.policy.resolve().parent
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.monotonic()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - t0, done.returncode, done.stderr


def rows(report: dict[str, Any], budget: float | None) -> list[dict[str, Any]]:
    """One flat record per benchmark row (and one per pair that was not measured)."""
    out = []
    for model in report["models"]:
        runs = (model.get("benchmark") or {}).get("runs") or []
        if not runs:
            out.append({"pair": model["name"], "verdict": model["verdict"], "threads": None,
                        "why": "; ".join(model.get("reasons", []))[:90]})  # fmt: skip
        for run in runs:
            speed = run.get("speedup") or {}
            out.append({
                "pair": model["name"], "verdict": model["verdict"], "threads": run["intra_op_threads"],
                "budget": run.get("budget_seconds") or budget, "seconds": run["seconds"],
                "stopped_by": run.get("stopped_by"), "confirmed": run.get("confirmed"),
                "confirmation": run.get("confirmation", ""), "sessions": run["sessions"], "rounds": run["rounds"],
                "call": run.get("call"), "estimate": speed.get("estimate"), "low": speed.get("ci_low"),
                "high": speed.get("ci_high"), "error": run.get("error"),
                "findings": " ".join(f["code"] for f in run.get("findings", [])),
            })  # fmt: skip
    return out


def print_rows(records: list[dict[str, Any]]) -> None:
    print("| pair | threads | budget s | wall s | stopped by | confirmed | sessions × rounds | call | "
          "speedup (95% CI) | verdict |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        if r["threads"] is None:
            print(f"| {r['pair']} | — | — | — | not measured | — | — | — | — | {r['verdict']}: {r['why']} |")
            continue
        speed = f"{r['estimate']:.2f}× ({r['low']:.2f}–{r['high']:.2f})" if r["estimate"] else r["error"]
        confirmed = "yes" if r["confirmed"] else "no"
        print(f"| {r['pair']} | {r['threads']} | {r['budget']:g} | {r['seconds']:.1f} | {r['stopped_by']} | "
              f"{confirmed} | {r['sessions']} × {r['rounds']} | {r['call']} | {speed} | {r['verdict']} |")  # fmt: skip
    notes = [(r["pair"], r["threads"], r["confirmation"]) for r in records if r["threads"] and r["confirmation"]]
    if notes:
        print("\nconfirmation per row:")
        for pair, threads, text in notes:
            print(f"  {pair} {threads}t: {text}")


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Differences in pair verdicts and row calls between two reports of the same policy."""
    old = {m["name"]: m for m in before["models"]}
    diffs = []
    for model in after["models"]:
        was = old.get(model["name"])
        if was is None:
            diffs.append(f"{model['name']}: not in the earlier report")
            continue
        if was["verdict"] != model["verdict"]:
            diffs.append(f"{model['name']}: verdict {was['verdict']} → {model['verdict']}")
        old_calls = {r["intra_op_threads"]: r.get("call") for r in (was.get("benchmark") or {}).get("runs") or []}
        for run in (model.get("benchmark") or {}).get("runs") or []:
            t = run["intra_op_threads"]
            if t in old_calls and old_calls[t] != run.get("call"):
                diffs.append(f"{model['name']} {t}t: call {old_calls[t]} → {run.get('call')}")
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", type=Path, nargs="?", help="the policy to run")
    parser.add_argument("--workspace", type=Path, help="the gate's --workspace (default: the report's folder)")
    parser.add_argument("--demo", action="store_true", help="run `int8gate demo` instead of a policy")
    parser.add_argument("--budget", type=float, help="with --demo: the demo's --budget")
    parser.add_argument("--allowance", type=float, default=ALLOWANCE, help="seconds per pair on top of the budgets")
    parser.add_argument("--before", type=Path, help="an earlier JSON report of the same policy, to compare verdicts")
    parser.add_argument("--out", type=Path, help="keep the JSON report here")
    args = parser.parse_args(argv)
    if not args.demo and args.policy is None:
        parser.error("give a policy or --demo")
    with tempfile.TemporaryDirectory(prefix="int8gate-budget-") as tmp:
        target = (args.out.resolve() if args.out else Path(tmp) / "report.json")
        if args.workspace is None and not args.demo:
            args.workspace = Path(os.path.commonpath([target.parent, args.policy.resolve().parent]))
        wall, code, stderr = run_gate(args, target)
        if not target.is_file():
            print(stderr, file=sys.stderr)
            print(f"the gate wrote no report (exit {code})", file=sys.stderr)
            return 2
        report = json.loads(target.read_text(encoding="utf-8"))
    records = rows(report, args.budget)
    print_rows(records)
    measured = [r for r in records if r["threads"] is not None]
    pairs = len(report["models"])
    budgets = sum(r["budget"] for r in measured)
    promise = budgets + args.allowance * pairs
    rows_time = sum(r["seconds"] for r in measured)
    tool = report["tool"]
    print(
        f"\n{pairs} pairs, {len(measured)} rows measured; wall {wall:.1f} s (the report's own {tool['duration_s']} s, "
        f"announced ≤ {tool.get('expected_s')} s); rows {rows_time:.1f} s of {budgets:g} s budgeted; "
        f"promise = budgets + {args.allowance:g} s × {pairs} pairs = {promise:.1f} s → "
        f"{'kept' if wall <= promise else 'BROKEN'} ({wall - promise:+.1f} s); exit {code}; "
        f"load average now {os.getloadavg()[0]:.2f}"
    )
    over = [r for r in measured if r["seconds"] > r["budget"]]
    listed = ", ".join(f"{r['pair']} {r['threads']}t {r['seconds']:.1f} s" for r in over)
    print(f"rows over their budget: {listed or 'none'}")
    if args.before:
        diffs = compare(json.loads(args.before.read_text(encoding="utf-8")), report)
        print("verdicts and calls against the earlier report: " + ("; ".join(diffs) if diffs else "all the same"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
