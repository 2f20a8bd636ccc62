"""Measure inspect_model on a large model (external or embedded weights): wall time and peak RSS per layer.

Usage:
    python benchmarks/inspect_large.py [--mb 300] [--layers 20] [--embedded] [--keep DIR]

Builds an FP32 stack of MatMul+Relu layers whose weights total about ``--mb`` MiB, saved with its weights
as external data (or inside the .onnx with ``--embedded``), in a temporary folder. Each measurement runs
in a fresh child process so peak RSS (``ru_maxrss``) belongs to that measurement alone:
    baseline   import int8gate.gate.examine (onnx, onnxruntime, numpy) and nothing else
    file       inspect_model(runtime_layer=False): safe read + census
    runtime    inspect_model(): also ONNX Runtime's optimized graph (one session, nothing run)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(folder: Path, *, mib: int, layers: int, embedded: bool) -> Path:
    """Write the model (and its external data) into ``folder``; return the .onnx path."""
    width = max(1, int((mib * 2**20 / (layers * 4)) ** 0.5))  # square float32 layers adding up to ``mib``
    rng = np.random.default_rng(0)
    nodes, initializers = [], []
    x = "x"
    for layer in range(layers):
        w = numpy_helper.from_array(rng.standard_normal((width, width), dtype=np.float32), f"w{layer}")
        initializers.append(w)
        nodes.append(helper.make_node("MatMul", [x, w.name], [f"mm{layer}"]))
        nodes.append(helper.make_node("Relu", [f"mm{layer}"], [f"h{layer}"]))
        x = f"h{layer}"
    graph = helper.make_graph(
        nodes,
        "large",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", width])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = folder / "large.onnx"
    if embedded:
        onnx.save_model(model, str(path))
    else:
        onnx.save_model(model, str(path), save_as_external_data=True, location="large.onnx.data", size_threshold=0)
    return path


def measure(path: Path, mode: str) -> dict[str, float | int | str | None]:
    """One measurement in this process: seconds and peak RSS (MiB)."""
    start = time.perf_counter()
    from int8gate.gate.examine import inspect_model  # noqa: PLC0415  (the import is part of the baseline)

    imported = time.perf_counter()
    result: dict[str, float | int | str | None] = {"mode": mode, "import_s": round(imported - start, 2)}
    if mode != "baseline":
        inspection = inspect_model(path, runtime_layer=mode == "runtime", max_bytes=None)
        result.update(
            seconds=round(time.perf_counter() - imported, 2),
            macs_total=inspection.macs_total,
            size_mib=round(inspection.size_bytes / 2**20, 1),
        )
    result["peak_rss_mib"] = peak_rss_mib()
    # ONNX Runtime's session lives in a child process (int8gate.runtime.child); its peak is counted apart.
    result["child_peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return result


def peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM; unlike ru_maxrss it does not inherit the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=300, help="weights in MiB (default 300)")
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--embedded", action="store_true", help="keep the weights inside the .onnx file")
    parser.add_argument("--keep", type=Path, default=None, help="build into this folder and keep it")
    parser.add_argument("--measure", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.mode)))
        return 0
    with tempfile.TemporaryDirectory(prefix="int8gate-large-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        path = build(folder, mib=args.mb, layers=args.layers, embedded=args.embedded)
        on_disk = sum(f.stat().st_size for f in folder.iterdir() if f.name.startswith("large.onnx"))
        layout = "embedded" if args.embedded else "external data"
        print(
            f"built {path.name} ({layout}, {on_disk / 2**20:.0f} MiB on disk) in {time.perf_counter() - started:.1f} s"
        )
        for mode in ("baseline", "file", "runtime"):
            command = [sys.executable, __file__, "--measure", str(path), "--mode", mode]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            print(json.dumps(json.loads(done.stdout.strip().splitlines()[-1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
