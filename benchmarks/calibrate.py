"""Calibrate int8gate's measurement: A/A and A/B repetitions against a naive all-A-then-all-B loop.

For every pair it runs, ``--reps`` times each:
  ours  A/A  ``measure_pair(a, a)``: how often the 95% interval wrongly excludes 1.0, its half-width;
  naive A/A  one process, all runs of A then all runs of B for the same budget, ratio of medians and
             a within-run bootstrap interval (what a hand-written script reports);
  ours  A/B  and naive A/B on the real FP32/INT8 pair.
The spread between repetitions (standard deviation of the log speedup, in %) is compared as
ours / naive. Timing claims live here and in benchmarks/README.md, never in unit tests.

With ``--confirm`` "ours" runs the gate's rows as they are (measure.stopping: clear/target/budget,
confirmation near the threshold), at threshold 1.0 for A/A. ``--kinds near`` runs the near-threshold
cases on each A/B pair: its speedup is first measured ``--reference-reps`` times, then the threshold
is set ``--near-margin`` (5%) below it (INT8 5% above the threshold: the right call is "faster") and
5% above it (the right call is "slower"), ``--reps`` rows each; the table counts right calls.

    python benchmarks/calibrate.py                      # the full suite (~30 min on 2 CPUs)
    python benchmarks/calibrate.py --reps 3 --quick     # a smoke run with short budgets
    python benchmarks/calibrate.py --pair my fp32.onnx int8.onnx 10   # any pair, budget in s
    python benchmarks/calibrate.py --only conv-20ms --kinds aa --confirm        # A/A as the gate runs it
    python benchmarks/calibrate.py --only conv-20ms --kinds near --confirm      # near-threshold cases
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from examples.modelzoo import ConvNetConfig, build_convnet, preprocess, quantize_calibrated  # noqa: E402
from int8gate.policy.spec import BenchmarkSettings  # noqa: E402
from int8gate.runtime import bench  # noqa: E402
from int8gate.runtime.bench import WorkerLauncher, measure_pair  # noqa: E402
from int8gate.runtime.protocol import WorkerRequest, WorkerResult  # noqa: E402


@dataclass(frozen=True)
class Pair:
    """A named FP32/INT8 pair and the budget per row it is calibrated at."""

    name: str
    fp32: Path
    int8: Path
    budget: float


@dataclass(frozen=True)
class Rep:
    """One repetition's speedup, interval and cost."""

    estimate: float
    ci_low: float
    ci_high: float
    seconds: float
    sessions: int = 1
    stopped_by: str = ""
    fp32_ms: float = 0.0
    int8_ms: float = 0.0
    findings: tuple[str, ...] = ()
    threshold: float = 1.0
    call: str = ""
    confirmed: bool = False


@dataclass(frozen=True)
class Series:
    """The repetitions of one (pair, method, A/A or A/B) cell and their summary."""

    pair: str
    method: str
    kind: str
    budget: float
    reps: tuple[Rep, ...]

    def summary(self) -> dict[str, float | int | str]:
        logs = np.log([r.estimate for r in self.reps])
        half = [(r.ci_high - r.ci_low) / (2 * r.estimate) for r in self.reps]
        return {
            "pair": self.pair,
            "method": self.method,
            "kind": self.kind,
            "budget_s": self.budget,
            "reps": len(self.reps),
            "median_estimate": float(np.exp(np.median(logs))),
            "spread_pct": float(np.std(logs, ddof=1) * 100) if len(logs) > 1 else math.nan,
            "excludes_1": sum(1 for r in self.reps if r.ci_low > 1.0 or r.ci_high < 1.0),
            "median_halfwidth_pct": float(np.median(half) * 100),
            "median_seconds": float(np.median([r.seconds for r in self.reps])),
            "median_sessions": float(np.median([r.sessions for r in self.reps])),
            "stopped_by_target": sum(1 for r in self.reps if r.stopped_by == "target"),
            "fp32_ms": float(np.median([r.fp32_ms for r in self.reps])),
            "int8_ms": float(np.median([r.int8_ms for r in self.reps])),
            "findings": " ".join(sorted({c for r in self.reps for c in r.findings})),
            "max_seconds": float(max(r.seconds for r in self.reps)),
            "threshold": float(self.reps[0].threshold),
            "confirmed": sum(1 for r in self.reps if r.confirmed),
            "stopped": " ".join(
                f"{k} {sum(1 for r in self.reps if r.stopped_by == k)}"
                for k in ("clear", "target", "budget")
                if any(r.stopped_by == k for r in self.reps)
            ),
            "calls": " ".join(
                f"{k} {sum(1 for r in self.reps if r.call == k)}"
                for k in ("faster", "within-noise", "slower")
                if any(r.call == k for r in self.reps)
            ),
            "right": sum(1 for r in self.reps if r.call == RIGHT.get(self.kind, "")),
        }


RIGHT = {"near +5%": "faster", "near -5%": "slower"}
"""The right call in each near-threshold case (INT8 above or below the threshold)."""


def ours(
    a: Path, b: Path, budget: float, threads: int, seed: int, *, confirm: bool = False, threshold: float = 1.0
) -> Rep:
    settings = BenchmarkSettings(budget_seconds=budget, seed=seed, confirm=confirm, timeout_seconds=600)
    t0 = time.monotonic()
    run = measure_pair(a, b, threads=threads, settings=settings, threshold=threshold, env=os.environ)
    if run.error is not None or run.speedup is None or run.fp32 is None or run.int8 is None:
        raise SystemExit(f"{a.name} vs {b.name}: {run.error}")
    return Rep(
        run.speedup.estimate,
        run.speedup.ci_low,
        run.speedup.ci_high,
        time.monotonic() - t0,
        run.sessions,
        run.stopped_by.value if run.stopped_by else "",
        run.fp32.median_ms,
        run.int8.median_ms,
        tuple(f.code for f in run.findings),
        threshold,
        run.call.value if run.call else "",
        run.confirmed,
    )


def naive(a: Path, b: Path, budget: float, threads: int, seed: int) -> Rep:
    command = (sys.executable, str(Path(__file__).resolve().parent / "naive.py"))
    launcher = WorkerLauncher(os.environ, timeout_seconds=600, command=command)
    t0 = time.monotonic()
    result = launcher.run(WorkerRequest((str(a), str(b)), threads, seed=seed, max_seconds=budget, min_rounds=5))
    if not isinstance(result, WorkerResult):
        raise SystemExit(f"naive {a.name} vs {b.name}: {result}")
    fa = np.asarray(result.latencies_ns[0], dtype=np.float64)
    fb = np.asarray(result.latencies_ns[1], dtype=np.float64)
    rng = np.random.default_rng(seed)
    boot = np.median(fa[rng.integers(0, len(fa), (2000, len(fa)))], axis=1) / np.median(
        fb[rng.integers(0, len(fb), (2000, len(fb)))], axis=1
    )
    lo, hi = np.quantile(boot, [0.025, 0.975])
    estimate = float(np.median(fa) / np.median(fb))
    return Rep(
        estimate, float(lo), float(hi), time.monotonic() - t0, 1, "", float(np.median(fa)) / 1e6,
        float(np.median(fb)) / 1e6,
    )  # fmt: skip


def _log(pair: str, kind: str, method: str, rep: int, r: Rep) -> None:
    print(
        f"{pair:10s} {kind} {method:5s} rep {rep + 1:2d}: {r.estimate:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}] "
        f"{r.seconds:.1f} s {r.sessions} sessions {r.stopped_by} {r.call} {'confirmed ' if r.confirmed else ''}"
        + " ".join(r.findings),
        file=sys.stderr,
    )


def near_cases(pair: Pair, args: argparse.Namespace) -> list[Series]:
    """The A/B pair with its threshold set ``near_margin`` below and above its measured speedup."""
    pilot = [ours(pair.fp32, pair.int8, pair.budget, args.threads, 1000 + rep, confirm=False)
             for rep in range(args.reference_reps)]  # fmt: skip
    reference = float(np.exp(np.median(np.log([r.estimate for r in pilot]))))
    print(f"{pair.name}: reference speedup {reference:.4f} from {args.reference_reps} rows "
          f"({', '.join(f'{r.estimate:.4f}' for r in pilot)})", file=sys.stderr)  # fmt: skip
    out = []
    for kind, threshold in (("near +5%", reference / (1 + args.near_margin)),
                            ("near -5%", reference * (1 + args.near_margin))):  # fmt: skip
        reps = []
        for rep in range(args.reps):
            reps.append(ours(pair.fp32, pair.int8, pair.budget, args.threads, rep, confirm=args.confirm,
                             threshold=threshold))  # fmt: skip
            _log(pair.name, f"{kind} (threshold {threshold:.4f})", "ours", rep, reps[-1])
        out.append(Series(pair.name, "ours", kind, pair.budget, tuple(reps)))
    return out


def write_pair(folder: Path, config: ConvNetConfig) -> None:
    """An FP32 convnet and its calibrated QDQ INT8, built like the bundled example."""
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(build_convnet(config), str(folder / "convnet_fp32.onnx"))
    with tempfile.TemporaryDirectory(prefix="int8gate-calibration-") as scratch:
        prepped = Path(scratch) / "prep.onnx"
        preprocess(folder / "convnet_fp32.onnx", prepped)
        quantize_calibrated(prepped, folder / "convnet_int8.onnx", config.input, calibration_batches=8)


def build_pairs(models_dir: Path, quick: bool) -> list[Pair]:
    """The bundled example plus a ~20 ms and a ~1 ms convnet (at 2 threads) built with the zoo."""
    pairs = []
    example = ROOT / "int8gate" / "demo" / "models"
    if (example / "convnet_fp32.onnx").is_file():
        pairs.append(Pair("example", example / "convnet_fp32.onnx", example / "convnet_int8.onnx", 3 if quick else 10))
    for name, size, budget in (("conv-20ms", 224, 10.0), ("conv-1ms", 48, 3.0)):
        folder = models_dir / name
        if not (folder / "convnet_int8.onnx").is_file():
            print(f"building {name} (image {size}) in {folder} ...", file=sys.stderr)
            write_pair(folder, ConvNetConfig(image_size=size))
        pairs.append(
            Pair(name, folder / "convnet_fp32.onnx", folder / "convnet_int8.onnx", budget / 3 if quick else budget)
        )
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--quick", action="store_true", help="a third of the budgets (smoke run)")
    parser.add_argument("--pair", nargs=4, action="append", metavar=("NAME", "FP32", "INT8", "BUDGET"), default=[])
    parser.add_argument("--only-given", action="store_true", help="skip the built-in pairs")
    parser.add_argument("--no-ab", action="store_true", help="A/A only")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "int8gate-calibration")
    parser.add_argument(
        "--slices", type=int, default=bench.SLICES_PER_SESSION, help="budget / (slices · sessions) per worker"
    )
    parser.add_argument("--out", type=Path, help="write every repetition and summary as JSON here")
    parser.add_argument("--only", action="append", default=[], help="run only the built-in pairs named (repeatable)")
    parser.add_argument("--kinds", default="aa,ab", help="comma-separated: aa, ab, near (default aa,ab)")
    parser.add_argument("--confirm", action="store_true", help="ours runs the gate's rows, confirmation included")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    parser.add_argument("--near-margin", type=float, default=0.05, help="near cases: threshold this far off")
    parser.add_argument("--reference-reps", type=int, default=3, help="near cases: rows that set the reference")
    args = parser.parse_args(argv)
    bench.SLICES_PER_SESSION = args.slices  # a calibration knob: more, shorter sessions per row
    kinds = set(args.kinds.split(",")) - ({"ab"} if args.no_ab else set())

    pairs = [] if args.only_given else build_pairs(args.models_dir, args.quick)
    if args.only:
        pairs = [p for p in pairs if p.name in args.only]
    pairs += [Pair(n, Path(f), Path(i), float(b)) for n, f, i, b in args.pair]
    methods = [("ours", ours)] + ([] if args.no_naive else [("naive", naive)])
    series: list[Series] = []
    for pair in pairs:
        cells = [("A/A", pair.fp32, pair.fp32, 1.0)] if "aa" in kinds else []
        cells += [("A/B", pair.fp32, pair.int8, 1.0)] if "ab" in kinds else []
        for kind, a, b, threshold in cells:
            for method, fn in methods:
                reps = []
                for rep in range(args.reps):
                    if method == "ours":
                        reps.append(ours(a, b, pair.budget, args.threads, rep, confirm=args.confirm,
                                         threshold=threshold))  # fmt: skip
                    else:
                        reps.append(fn(a, b, pair.budget, args.threads, rep))
                    _log(pair.name, kind, method, rep, reps[-1])
                series.append(Series(pair.name, method, kind, pair.budget, tuple(reps)))
        if "near" in kinds:
            series += near_cases(pair, args)

    summaries = [s.summary() for s in series]
    print(
        f"\nthreads {args.threads}, {args.reps} repetitions, slices {args.slices}, "
        f"load average {os.getloadavg()[0]:.2f}\n"
    )
    header = (
        "| pair | kind | method | budget s | threshold | median speedup | spread % | CI excl. 1.0 | median ±% | "
        "s/row (max) | sessions | stopped by | confirmed | calls | right side |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for s in summaries:
        right = f"{s['right']}/{s['reps']}" if s["kind"] in RIGHT else "—"
        print(
            f"| {s['pair']} | {s['kind']} | {s['method']} | {s['budget_s']:g} | {s['threshold']:.4f} | "
            f"{s['median_estimate']:.4f} | {s['spread_pct']:.2f} | {s['excludes_1']}/{s['reps']} | "
            f"{s['median_halfwidth_pct']:.2f} | {s['median_seconds']:.1f} ({s['max_seconds']:.1f}) | "
            f"{s['median_sessions']:g} | {s['stopped']} | {s['confirmed']}/{s['reps']} | {s['calls']} | {right} |"
        )
    print("\nspread ratio ours / naive (lower is better):")
    for ours_s in summaries:
        match = [s for s in summaries if s["method"] == "naive" and s["pair"] == ours_s["pair"]
                 and s["kind"] == ours_s["kind"]]  # fmt: skip
        if ours_s["method"] != "ours" or not match:
            continue
        naive_spread = float(match[0]["spread_pct"])
        ratio = float(ours_s["spread_pct"]) / naive_spread if naive_spread > 0 else math.nan
        print(f"  {ours_s['pair']} {ours_s['kind']}: {ratio:.2f}")
    if args.out:
        args.out.write_text(
            json.dumps({"summaries": summaries, "series": [asdict(s) for s in series]}, indent=1), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
