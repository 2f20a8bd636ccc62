"""Wall time of the Action's container on the bundled example: a PR that changes no model vs one that does.

Builds the Action's image from this checkout (not timed: GitHub rebuilds a Dockerfile action on every
run whatever the PR holds), makes an origin repository from ``int8gate/demo/`` with the bundled policy as it
is (budget 6 s, threads [1, auto]), and times ``docker run`` of the Action on three pull requests, each
in a fresh depth-1 clone owned by uid 1001 (as the runner's workspace is), against the GitHub stand-in:

  unchanged  the PR edits the README only: both pairs are inspected, neither is benchmarked
  always     the same PR with ``benchmark.when: always`` on both sides: today's full run, for reference
  changed    the PR re-quantizes the convnet (main's INT8 model was calibrated on 8 batches with another
             seed; the PR's is the bundled one): convnet is measured against base, convnet-fake skipped

    python benchmarks/action_wall_time.py --reps 3 [--out FILE]

Run it alone on the machine (here: ``/work/bin/cpu exclusive -- python benchmarks/action_wall_time.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from support.container import build, build_base, docker_client  # noqa: E402
from support.ghstandin import ACTIONS, StandIn  # noqa: E402
from support.gitrepo import clone_head, make_origin, pull_request_event, write_files  # noqa: E402

from examples.modelzoo import EXAMPLE_CONVNET, preprocess, quantize_calibrated  # noqa: E402

IMAGE = "baseline-issue-action:walltime"
REPOSITORY = "Codertocat/Hello-World"
EXAMPLES = ROOT / "int8gate" / "demo"  # the bundled example (package data)


def build_image() -> float:
    """As the container tests build it (``support.container``): this checkout on the local bookworm base
    (plus this machine's CA bundle for pip, when it has one)."""
    docker = docker_client()
    with tempfile.TemporaryDirectory(prefix="int8gate-walltime-") as work:
        return float(build(docker, ROOT, IMAGE, {"BASE_IMAGE": build_base(docker, Path(work))}))


def example_files(int8: Path, *, always: bool) -> dict[str, bytes | Path]:
    policy = (EXAMPLES / ".int8gate.yml").read_text(encoding="utf-8")
    if always:
        policy = policy.replace("  budget_seconds: 6\n", "  budget_seconds: 6\n  when: always\n")
    return {".int8gate.yml": policy.encode(), "README.md": b"models\n",
            "models/convnet_fp32.onnx": EXAMPLES / "models" / "convnet_fp32.onnx", "models/convnet_int8.onnx": int8,
            "models/convnet_fake_int8.onnx": EXAMPLES / "models" / "convnet_fake_int8.onnx"}  # fmt: skip


def requantized_base(folder: Path) -> Path:
    """The bundled convnet quantized again with 8 calibration batches and another seed: main's version."""
    prepped, out = folder / "prep.onnx", folder / "convnet_int8_main.onnx"
    preprocess(EXAMPLES / "models" / "convnet_fp32.onnx", prepped)
    quantize_calibrated(prepped, out, EXAMPLE_CONVNET.input, calibration_batches=8, seed=5)
    return out


def one_run(tmp: Path, scenario: str, base_int8: Path) -> dict[str, Any]:
    bundled = EXAMPLES / "models" / "convnet_int8.onnx"
    always = scenario == "always"
    if scenario == "changed":
        origin = make_origin(tmp / "origin", lambda w: write_files(w, example_files(base_int8, always=False)),
                             lambda w: write_files(w, {"models/convnet_int8.onnx": bundled}))  # fmt: skip
    else:
        origin = make_origin(tmp / "origin", lambda w: write_files(w, example_files(bundled, always=always)),
                             lambda w: write_files(w, {"README.md": b"models, explained\n"}))  # fmt: skip
    workspace = clone_head(origin, tmp / "workspace", shallow=True)
    subprocess.run(["chown", "-R", "1001:1001", str(workspace)], check=True)
    files, workflow = tmp / "files", tmp / "workflow"
    files.mkdir()
    workflow.mkdir()
    (files / "output").touch()
    (files / "summary.md").touch()
    (workflow / "event.json").write_text(json.dumps(pull_request_event(origin)), encoding="utf-8")
    with StandIn() as standin:
        standin.open_pull(REPOSITORY, 2, head_sha=origin.head)
        env = {
            "INPUT_POLICY": ".int8gate.yml", "INPUT_GITHUB-TOKEN": ACTIONS, "INPUT_COMMENT": "update",
            "INPUT_FAIL-ON": "never", "INPUT_REPORT-PATH": "int8gate-report.json",
            "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_API_URL": standin.url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_JOB": "gate",
            "GITHUB_OUTPUT": "/github/files/output", "GITHUB_STEP_SUMMARY": "/github/files/summary.md",
        }  # fmt: skip
        command = ["docker", "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
                   "-v", f"{workspace}:/github/workspace", "-v", f"{files}:/github/files",
                   "-v", f"{workflow}:/github/workflow", "-v", f"{origin.bare}:{origin.bare}:ro"]  # fmt: skip
        for name in env:
            command += ["-e", name]
        started = time.monotonic()
        ran = subprocess.run([*command, IMAGE], env={**os.environ, **env}, capture_output=True, text=True, check=False)
        seconds = time.monotonic() - started
        comments = len(standin.comments(REPOSITORY, 2))
    report = json.loads((workspace / "int8gate-report.json").read_text(encoding="utf-8"))
    skipped = [m["name"] for m in report["models"] if m["vs_base"] and m["vs_base"]["benchmark"]["skipped"]]
    return {"scenario": scenario, "seconds": seconds, "gate_seconds": report["tool"]["duration_s"],
            "exit": ran.returncode, "verdict": report["verdict"], "skipped": skipped, "comments": comments,
            "statuses": {m["name"]: m["vs_base"]["status"] for m in report["models"]}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    print(f"image build (not counted): {build_image():.1f} s", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="int8gate-walltime-") as scratch:
        base_int8 = requantized_base(Path(scratch))
        for rep in range(args.reps):
            for scenario in ("unchanged", "changed", "always"):
                tmp = Path(scratch) / f"{scenario}-{rep}"
                result = one_run(tmp, scenario, base_int8)
                shutil.rmtree(tmp, ignore_errors=True)
                print(json.dumps(result), file=sys.stderr)
                results.append(result)
    print(f"\nload average {os.getloadavg()[0]:.2f}; {args.reps} repetitions; median (min–max)\n")
    print("| PR | docker run s | gate s (report) | pairs benchmarked |")
    print("| --- | --- | --- | --- |")
    for scenario in ("unchanged", "changed", "always"):
        rows = [r for r in results if r["scenario"] == scenario]
        wall = [r["seconds"] for r in rows]
        gate = [r["gate_seconds"] for r in rows]
        measured = 2 - len(rows[0]["skipped"])
        print(f"| {scenario} | {statistics.median(wall):.1f} ({min(wall):.1f}–{max(wall):.1f}) | "
              f"{statistics.median(gate):.1f} | {measured} of 2 |")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
