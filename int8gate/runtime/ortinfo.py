"""The ONNX Runtime in use: version, available providers and build string, for the runner profile."""

from __future__ import annotations

import onnxruntime

from int8gate.machine.facts import OrtInfo


def ort_info() -> OrtInfo:
    """ONNX Runtime's version, available providers and build string."""
    build_fn = getattr(onnxruntime, "get_build_info", None)
    build = str(build_fn()) if callable(build_fn) else None
    return OrtInfo(
        version=str(onnxruntime.__version__),
        providers=tuple(str(p) for p in onnxruntime.get_available_providers()),
        build=build,
    )
