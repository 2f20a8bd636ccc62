"""Run `int8gate check` with its defaults on a corpus built by build_corpus.py and print one row per pair.

    python benchmarks/realmodels/run_corpus.py --corpus /tmp/corpus [--policy .int8gate.yml] [--out DIR]
    python benchmarks/realmodels/run_corpus.py --corpus /tmp/corpus --report DIR/report.json   # print only

Per pair: the INT8 format, MAC coverage (compute ops whose MACs are known, INT8 and FP32 files, and
how the shapes were found), the fidelity verdict (graded or not, the worst metric), the speedup at
each thread setting with its 95% interval, and the verdict with its first reason. The last column
checks the verdict against what the corpus knows (manifest.json): a fake or half-quantized copy must
fail; a really quantized copy whose interval lies above the threshold at every thread setting must
pass. Then the totals: verdicts, MAC coverage over every file, refusals, the comment's size.
For timing figures run it alone on the machine (this repository's helpers: /work/bin/cpu exclusive).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SHOULD_FAIL = ("fake", "half")
"""Variants that are not really quantized: the gate must fail them."""


def run_check(corpus: Path, policy: str, out: Path) -> tuple[int, float]:
    """``int8gate check`` on the corpus policy, reports into ``out``; its exit code and wall seconds."""
    out.mkdir(parents=True, exist_ok=True)
    workspace = os.path.commonpath([corpus, out])  # reports must land inside the workspace
    command = [sys.executable, "-m", "int8gate", "check", "--policy", str(corpus / policy), "--workspace",
               workspace, "--json", str(out / "report.json"), "--markdown", str(out / "comment.md")]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, check=False)
    return done.returncode, time.monotonic() - started


def variant_kinds(corpus: Path) -> dict[str, str]:
    """INT8 path (relative to the corpus) → the variant that made it (qdq, qop, dyn, fake, half, ...)."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    return {v["path"]: kind for s in manifest["sources"] for kind, v in s["variants"].items() if "path" in v}


def coverage(inspection: dict[str, Any] | None) -> tuple[int, int]:
    """(compute ops with known MACs, compute ops) of one inspected file."""
    if not inspection:
        return 0, 0
    ops = inspection["compute_ops"]
    return ops["total"] - ops.get("macs_unknown", 0), ops["total"]


def fidelity_cell(fidelity: dict[str, Any] | None) -> str:
    if fidelity is None:
        return "—"
    if fidelity["error"]:
        return f"error: {fidelity['error'][:60]}"
    verdict = "pass" if fidelity["passed"] else "FAIL"
    graded = "graded" if fidelity.get("graded", True) else "not graded"
    worst = []
    for out in fidelity["outputs"][:2]:
        kind = out.get("kind", "")
        if kind == "class-scores" and out.get("top1_agreement") is not None:
            worst.append(f"{out['name'][:14]} top-1 {out['top1_agreement']:.2f}")
        elif kind == "probabilities" and out.get("range_error") is not None:
            worst.append(f"{out['name'][:14]} err {out['range_error']:.2%} of range")
        else:
            worst.append(f"{out['name'][:14]} cos {out['cosine']:.3f}")
    return f"{verdict} ({graded}; {fidelity['source']}); " + ", ".join(worst)


def speed_cell(benchmark: dict[str, Any] | None) -> str:
    if not benchmark or not benchmark["runs"]:
        return "—"
    cells = []
    for run in benchmark["runs"]:
        s = run["speedup"]
        cells.append(f"{run['intra_op_threads']}t failed" if s is None else
                     f"{run['intra_op_threads']}t {s['estimate']:.2f}× ({s['ci_low']:.2f}–{s['ci_high']:.2f})")
    return "<br>".join(cells)


def expectation(model: dict[str, Any], kind: str) -> str:
    """✔/✘ against what the corpus knows, or '' when the corpus does not say what the verdict should be."""
    if kind in SHOULD_FAIL:
        return "✔ fake/half fails" if model["verdict"] == "fail" else "✘ fake/half not failed"
    quantization = model.get("quantization") or {}
    runs = (model.get("benchmark") or {}).get("runs") or []
    threshold = (model.get("benchmark") or {}).get("threshold")
    faster = bool(runs) and threshold is not None and all(
        r["speedup"] is not None and r["speedup"]["ci_low"] > threshold for r in runs
    )
    if quantization.get("is_quantized") and faster:
        return "✔ faster, passes" if model["verdict"] == "pass" else "✘ faster but not passed"
    return ""


def table(report: dict[str, Any], kinds: dict[str, str]) -> str:
    lines = ["| pair | format | MACs known (INT8 / FP32) | shapes from | fidelity | speedup (95% CI) | verdict | "
             "first reason | as expected? |", "|" + " --- |" * 9]  # fmt: skip
    for m in report["models"]:
        q, f = m.get("quantization"), m.get("fp32_model")
        (ki, ti), (kf, tf) = coverage(q), coverage(f)
        reason = (m["reasons"][0] if m["reasons"] else "")[:90].replace("|", "/")
        kind = kinds.get(m["int8"], "")
        lines.append(
            f"| {m['name']} | {q['format'] if q else '—'} | {ki}/{ti} / {kf}/{tf} | "
            f"{q.get('shapes_from', '') if q else ''} | {fidelity_cell(m.get('fidelity'))} | "
            f"{speed_cell(m.get('benchmark'))} | {m['verdict']} | {reason} | {expectation(m, kind)} |"
        )
    return "\n".join(lines)


def totals(report: dict[str, Any], out: Path | None) -> str:
    files: dict[str, tuple[int, int]] = {}
    for m in report["models"]:
        for key, path in (("quantization", m["int8"]), ("fp32_model", m["fp32"])):
            if m.get(key):
                files[path] = coverage(m[key])
    known, total = sum(k for k, _ in files.values()), sum(t for _, t in files.values())
    verdicts = [m["verdict"] for m in report["models"]]
    parts = [f"{verdicts.count('pass')} pass, {verdicts.count('fail')} fail, "
             f"{verdicts.count('inconclusive')} inconclusive of {len(verdicts)} pairs",
             f"MACs known for {known}/{total} compute ops = {known / max(total, 1):.1%} over {len(files)} files",
             f"refused (error): {sum(1 for m in report['models'] if m['error'])}"]  # fmt: skip
    if out is not None and (out / "comment.md").is_file():
        parts.append(f"comment {(out / 'comment.md').stat().st_size:,} bytes")
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True, type=Path, help="a folder build_corpus.py wrote")
    parser.add_argument("--policy", default=".int8gate.yml", help="policy inside the corpus (default: the main one)")
    parser.add_argument("--out", type=Path, default=None, help="where the reports go (default: CORPUS/runs)")
    parser.add_argument("--report", type=Path, default=None, help="print the table of an existing report.json")
    args = parser.parse_args(argv)
    corpus = args.corpus.resolve()
    out = None
    if args.report is None:
        out = (args.out or corpus / "runs").resolve()
        code, seconds = run_check(corpus, args.policy, out)
        print(f"int8gate check exited {code} after {seconds:.0f} s; reports in {out}")
        report_path = out / "report.json"
    else:
        report_path = args.report
        out = report_path.parent
    report = json.loads(report_path.read_text())
    print(table(report, variant_kinds(corpus)))
    print()
    print(totals(report, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
