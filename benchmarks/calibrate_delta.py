"""Calibrate the delta against base by A/A: the same INT8 file as base and head, measured side by side.

For every pair it runs ``--reps`` times ``runtime.sidebyside.measure_against_base(fp32, int8, int8)``
(head FP32, head INT8 and "base" INT8 — the same file — in the same rounds, the first worker also
running the fidelity feeds and the profile, the policy's defaults otherwise) and reports how often
the 95% interval of head INT8 time / base INT8 time excludes 1.0 (every such one is a false alarm),
its median half-width, the spread of the log ratio between repetitions, and the head speedup's
half-width in the same rows (what the third model in the rounds costs it). Timing claims live here
and in benchmarks/README.md, never in unit tests.

    python benchmarks/calibrate_delta.py --out FILE                 # conv-20ms at 10 s, 20 repetitions
    python benchmarks/calibrate_delta.py --pairs example conv-1ms   # the other calibration pairs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
for extra in (HERE.parent, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from calibrate import build_pairs  # noqa: E402

from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement  # noqa: E402
from int8gate.runtime.sidebyside import measure_against_base  # noqa: E402


@dataclass(frozen=True)
class Rep:
    """One A/A repetition: the ratio and its interval, the head speedup's half-width, the row's cost."""

    ratio: float
    ratio_low: float
    ratio_high: float
    speedup: float
    speedup_halfwidth: float
    seconds: float
    sessions: int
    rounds: int
    stopped_by: str
    fp32_ms: float
    int8_ms: float
    findings: tuple[str, ...]


def one(fp32: Path, int8: Path, budget: float, threads: int, seed: int) -> Rep:
    settings = BenchmarkSettings(budget_seconds=budget, seed=seed, timeout_seconds=600)
    t0 = time.monotonic()
    # as the gate runs a changed pair: the first worker also runs the fidelity feeds and the profile
    side = measure_against_base(fp32, int8, int8, None, threads=(threads,), settings=settings, threshold=1.0,
                                requirement=FidelityRequirement(), profile=True, env=os.environ)  # fmt: skip
    (run,), (vs,) = side.pair.runs, side.runs
    ratio = vs.int8_latency_ratio
    if run.error or ratio is None or run.speedup is None or run.int8 is None or run.fp32 is None:
        raise SystemExit(f"{int8.name}: {run.error}")
    return Rep(ratio.estimate, ratio.ci_low, ratio.ci_high, run.speedup.estimate, run.speedup.halfwidth,
               time.monotonic() - t0, run.sessions, run.rounds, run.stopped_by.value if run.stopped_by else "",
               run.fp32.median_ms, run.int8.median_ms, tuple(f.code for f in run.findings))  # fmt: skip


def summary(name: str, budget: float, reps: list[Rep]) -> dict[str, float | int | str]:
    logs = np.log([r.ratio for r in reps])
    half = [(r.ratio_high - r.ratio_low) / (2 * r.ratio) for r in reps]
    return {
        "pair": name,
        "budget_s": budget,
        "reps": len(reps),
        "median_ratio": float(np.exp(np.median(logs))),
        "spread_pct": float(np.std(logs, ddof=1) * 100) if len(reps) > 1 else float("nan"),
        "excludes_1": sum(1 for r in reps if r.ratio_low > 1.0 or r.ratio_high < 1.0),
        "median_halfwidth_pct": float(np.median(half) * 100),
        "max_halfwidth_pct": float(np.max(half) * 100),
        "median_speedup": float(np.median([r.speedup for r in reps])),
        "median_speedup_halfwidth_pct": float(np.median([r.speedup_halfwidth for r in reps]) * 100),
        "median_seconds": float(np.median([r.seconds for r in reps])),
        "median_sessions": float(np.median([r.sessions for r in reps])),
        "stopped_by_target": sum(1 for r in reps if r.stopped_by == "target"),
        "fp32_ms": float(np.median([r.fp32_ms for r in reps])),
        "int8_ms": float(np.median([r.int8_ms for r in reps])),
        "findings": " ".join(sorted({c for r in reps for c in r.findings})),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--pairs", nargs="+", default=["conv-20ms"], help="example, conv-20ms, conv-1ms")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "int8gate-calibration")
    parser.add_argument("--out", type=Path, help="write every repetition and summary as JSON here")
    args = parser.parse_args(argv)

    pairs = [p for p in build_pairs(args.models_dir, quick=False) if p.name in args.pairs]
    summaries, series = [], {}
    for pair in pairs:
        reps = []
        for rep in range(args.reps):
            r = one(pair.fp32, pair.int8, pair.budget, args.threads, rep)
            reps.append(r)
            print(f"{pair.name:10s} A/A delta rep {rep + 1:2d}: {r.ratio:.4f} [{r.ratio_low:.4f}, {r.ratio_high:.4f}] "
                  f"speedup {r.speedup:.3f} ±{r.speedup_halfwidth:.2%} {r.seconds:.1f} s {r.sessions} sessions "
                  f"{r.stopped_by} {' '.join(r.findings)}", file=sys.stderr)  # fmt: skip
        summaries.append(summary(pair.name, pair.budget, reps))
        series[pair.name] = [asdict(r) for r in reps]
    print(f"\nthreads {args.threads}, {args.reps} repetitions, load average {os.getloadavg()[0]:.2f}\n")
    print("| pair | budget s | FP32 / INT8 ms | median ratio | spread % | CI excl. 1.0 | median ±% | max ±% | "
          "speedup ±% (same rows) | s/row | sessions |")  # fmt: skip
    print("|---" * 11 + "|")
    for s in summaries:
        print(f"| {s['pair']} | {s['budget_s']:g} | {s['fp32_ms']:.2f} / {s['int8_ms']:.2f} | "
              f"{s['median_ratio']:.4f} | "
              f"{s['spread_pct']:.2f} | {s['excludes_1']}/{s['reps']} | {s['median_halfwidth_pct']:.2f} | "
              f"{s['max_halfwidth_pct']:.2f} | {s['median_speedup_halfwidth_pct']:.2f} | {s['median_seconds']:.1f} | "
              f"{s['median_sessions']:g} |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps({"summaries": summaries, "series": series}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
