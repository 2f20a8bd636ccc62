"""Regenerates the bundled example models in examples/models/ (run: python examples/make_models.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from modelzoo import EXAMPLE_CONVNET, write_example


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the quantizer's per-channel warnings are expected noise
    models = write_example(Path(__file__).resolve().parent / "models")
    for path in (models.fp32, models.int8, models.fake_int8):
        print(f"{path.name:24} {path.stat().st_size / 1024:8.1f} KiB")
    print(f"input {EXAMPLE_CONVNET.input.name!r} shape {list(EXAMPLE_CONVNET.input.shape)} float32")


if __name__ == "__main__":
    main()
