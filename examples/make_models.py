"""Regenerates the bundled example models in int8gate/demo/models/ (run: python examples/make_models.py)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx
from modelzoo import EXAMPLE_CONVNET, build_convnet, make_fake, preprocess, quantize_calibrated, run_once

MODELS = Path(__file__).resolve().parents[1] / "int8gate" / "demo" / "models"


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the quantizer's per-channel warnings are expected noise
    MODELS.mkdir(exist_ok=True)
    fp32, int8, fake = (MODELS / f"convnet_{kind}.onnx" for kind in ("fp32", "int8", "fake_int8"))
    model = build_convnet(EXAMPLE_CONVNET)
    onnx.save(model, str(fp32))
    onnx.save(make_fake(model), str(fake))  # same graph and weights; only doc_string and graph name differ
    with tempfile.TemporaryDirectory(prefix="int8gate-example-") as scratch:
        prepped = Path(scratch) / "convnet_prep.onnx"
        preprocess(fp32, prepped)
        # QDQ, not QOperator: ONNX Runtime fuses the QDQ pairs into the same QLinearConv kernels at session start,
        # so both run equally fast here (3.6 ms each vs 8.7 ms FP32, 1 thread); QDQ is the format ORT recommends
        # and the one other runtimes and execution providers accept.
        quantize_calibrated(prepped, int8, EXAMPLE_CONVNET.input, calibration_batches=32)
    run_once(int8, EXAMPLE_CONVNET.input)
    for path in (fp32, int8, fake):
        print(f"{path.name:24} {path.stat().st_size / 1024:8.1f} KiB")
    print(f"input {EXAMPLE_CONVNET.input.name!r} shape {list(EXAMPLE_CONVNET.input.shape)} float32")


if __name__ == "__main__":
    main()
