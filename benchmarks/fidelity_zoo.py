"""Output agreement of every test-zoo model with its FP32 source: the figures behind the fidelity defaults.

    python benchmarks/fidelity_zoo.py

Builds the zoo into a temporary folder and runs ``check_fidelity`` (8 seeded random inputs, the
default requirement) on each quantized variant; prints cosine, SNR, max |error| and top-1 agreement.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the zoo lives in examples/, not the package

from examples.modelzoo import build_zoo
from int8gate.gate.examine import inspect_model
from int8gate.inputs.resolved import ResolvedInput
from int8gate.measure.fidelity import FidelityContext
from int8gate.policy.spec import BenchmarkSettings, FidelityRequirement
from int8gate.runtime.bench import check_fidelity

VARIANTS = ("qdq", "qoperator", "dynamic", "qdq_noprep", "half_fake", "broken_scale")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="int8gate-fidelity-zoo-") as folder:
        zoo = build_zoo(Path(folder))
        for family, spec in (("conv", zoo.conv_input), ("tfm", zoo.tfm_input)):
            feeds = [ResolvedInput(spec.name, spec.shape, "float32")]
            for variant in VARIANTS:
                path = getattr(zoo, f"{family}_{variant}", None)
                if path is None:
                    continue
                fp32 = getattr(zoo, f"{family}_fp32")
                context = FidelityContext(inspect_model(fp32, runtime_layer=False).output_kinds,
                                          inspect_model(path, runtime_layer=False).input_ranges)
                result = check_fidelity(fp32, path, inputs=feeds, requirement=FidelityRequirement(),
                                        settings=BenchmarkSettings(), context=context)
                for out in result.outputs:
                    print(f"{family}_{variant:13s} passed={result.passed!s:5s} cosine {out.cosine:.5f} "
                          f"SNR {out.snr_db:5.1f} dB max|err| {out.max_abs_error:.3g} top1 {out.top1_agreement}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
