"""Output agreement accumulated as outputs stream: one FP32/INT8 output pair at a time, nothing kept.

Pure numpy. A worker runs both models on a sample, hands each output pair to its ``OutputAccumulator``
and drops the arrays; the accumulator keeps running sums (and a digest per sample for the "stuck"
check), so a model with a multi-GB output costs one output of each model plus a chunk, never the
samples. Arrays are walked in chunks of ``CHUNK`` elements, so the float64 working copies stay small.
``measure.fidelity`` judges the ``OutputFidelity`` this produces.

Metrics, over every element of every sample:
    cosine, SNR (dB), max and mean absolute error;
    FP32's range (max − min) and the mean error as a share of it (for probability maps);
    RMS of INT8 over RMS of FP32 (a wrong output scale);
    top-1 / top-5 agreement over rows of the last axis (2 to ``MAX_CLASSES`` classes);
    exact agreement of integer outputs; whether INT8 is stuck (the same bytes for every sample while
    FP32's differ) and whether it holds NaN/inf where FP32 does not.
Non-tensor outputs (a ZipMap's sequence of maps, a sequence of tensors) become arrays first (``as_array``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

SNR_CAP_DB = 200.0
"""The SNR reported when the outputs are identical (the true value is infinite)."""
MAX_CLASSES = 100_000
CHUNK = 1 << 20
"""Elements per chunk when an output is walked (8 MiB of float64 working memory per array)."""


@dataclass(frozen=True)
class OutputFidelity:
    """How closely one output of the INT8 model follows the FP32 one, over all samples compared.

    shape: one sample's shape. kind: what the output holds (``measure.fidelity.OutputKind`` values;
    "" until the judge sets it from the FP32 graph). range_error: mean absolute error over FP32's range.
    rms_ratio: RMS of the INT8 output over FP32's (``None`` when FP32's is 0). top1/top5_agreement:
    share of rows (last axis) whose FP32 arg-max is INT8's (among its top five), ``None`` when the
    last axis is not 2..MAX_CLASSES long (top-5 also under five classes). exact_agreement: share of
    equal elements (integer outputs; ``None`` for floats). stuck: INT8 gave the same bytes for every
    sample while FP32 did not. finite: False when INT8 holds NaN or inf where FP32 does not.
    problem: why the output could not be compared (shape or dtype differs, an output is missing).
    """

    name: str
    shape: tuple[int, ...]
    cosine: float
    max_abs_error: float
    mean_abs_error: float
    snr_db: float
    top1_agreement: float | None
    top5_agreement: float | None
    finite: bool
    kind: str = ""
    fp32_range: float = 0.0
    range_error: float | None = None
    rms_ratio: float | None = None
    exact_agreement: float | None = None
    stuck: bool = False
    samples: int = 0
    problem: str | None = None

    @staticmethod
    def from_dict(raw: Mapping[str, Any]) -> OutputFidelity:
        """Rebuild from the dict ``dataclasses.asdict`` made (a worker's JSON answer)."""
        return OutputFidelity(**{**raw, "shape": tuple(raw["shape"])})


class OutputAccumulator:
    """Running sums for one output over the samples handed to ``add``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.shape: tuple[int, ...] | None = None
        self.problem: str | None = None
        self.samples = 0
        self._n = 0
        self._rr = self._cc = self._rc = self._abs = self._noise = 0.0
        self._max = 0.0
        self._lo, self._hi = math.inf, -math.inf
        self._finite = True
        self._rows = self._top1 = self._top5 = 0
        self._equal = 0
        self._integer = False
        self._ref_digests: set[bytes] = set()
        self._cand_digests: set[bytes] = set()

    def add(self, reference: Any, candidate: Any) -> None:
        """Fold one sample's FP32 and INT8 output into the sums (non-tensors through ``as_array``)."""
        if self.problem is not None:
            return
        try:
            ref, cand = as_array(reference), as_array(candidate)
        except ValueError as exc:
            self.problem = str(exc)
            return
        if _map_keys(reference) != _map_keys(candidate):
            self.problem = "the INT8 model's maps hold other keys (class labels) than FP32's"
            return
        if ref.shape != cand.shape:
            self.problem = f"INT8 shape {_dims(cand.shape)} differs from FP32 {_dims(ref.shape)}"
            return
        if _numeric_kind(ref) != _numeric_kind(cand):
            self.problem = f"INT8 dtype {cand.dtype} differs from FP32 {ref.dtype}"
            return
        self.shape = tuple(int(d) for d in ref.shape)
        self._integer = _numeric_kind(ref) == "integer"
        self.samples += 1
        self._ref_digests.add(_digest(ref))
        self._cand_digests.add(_digest(cand))
        flat_ref, flat_cand = ref.reshape(-1), cand.reshape(-1)
        for start in range(0, flat_ref.size, CHUNK):
            self._chunk(flat_ref[start : start + CHUNK], flat_cand[start : start + CHUNK])
        if ref.ndim >= 1 and 2 <= ref.shape[-1] <= MAX_CLASSES and not self._integer:
            self._classes(ref.reshape(-1, ref.shape[-1]), cand.reshape(-1, ref.shape[-1]))

    def _chunk(self, ref_part: npt.NDArray[Any], cand_part: npt.NDArray[Any]) -> None:
        if self._integer:
            self._equal += int(np.count_nonzero(ref_part == cand_part))
        ref = ref_part.astype(np.float64)
        cand = cand_part.astype(np.float64)
        ref_ok, cand_ok = np.isfinite(ref), np.isfinite(cand)
        if not bool(np.all(cand_ok | ~ref_ok)):
            self._finite = False
        both = ref_ok & cand_ok
        same_special = (ref == cand) | (np.isnan(ref) & np.isnan(cand))
        with np.errstate(invalid="ignore"):
            diff = np.where(both, np.abs(ref - cand), np.where(same_special, 0.0, np.inf))
        r, c = ref[both], cand[both]
        self._n += ref.size
        self._rr += float(r @ r)
        self._cc += float(c @ c)
        self._rc += float(r @ c)
        self._abs += float(diff.sum())
        self._noise += float(diff @ diff)
        if diff.size:
            self._max = max(self._max, float(diff.max()))
        if r.size:
            self._lo, self._hi = min(self._lo, float(r.min())), max(self._hi, float(r.max()))

    def _classes(self, ref: npt.NDArray[Any], cand: npt.NDArray[Any]) -> None:
        step = max(1, CHUNK // ref.shape[1])
        for start in range(0, ref.shape[0], step):
            rows_ref, rows_cand = ref[start : start + step], cand[start : start + step]
            ref_top = rows_ref.argmax(axis=1)
            self._rows += int(ref_top.size)
            self._top1 += int(np.count_nonzero(ref_top == rows_cand.argmax(axis=1)))
            if ref.shape[1] >= 5:
                cand_top5 = np.argpartition(-rows_cand, 4, axis=1)[:, :5]
                self._top5 += int(np.count_nonzero(np.any(cand_top5 == ref_top[:, None], axis=1)))

    def result(self) -> OutputFidelity:
        """The metrics so far (a ``problem`` result when the output could not be compared)."""
        if self.problem is not None or self.shape is None:
            problem = self.problem or "no sample was compared"
            return OutputFidelity(self.name, self.shape or (), 0.0, math.inf, math.inf, -SNR_CAP_DB, None, None,
                                  True, samples=self.samples, problem=problem)  # fmt: skip
        classes = self.shape[-1] if self.shape else 0
        range_ = self._hi - self._lo if self._hi >= self._lo else 0.0
        mean = self._abs / self._n if self._n else 0.0
        return OutputFidelity(
            name=self.name,
            shape=self.shape,
            cosine=_cosine(self._rr, self._cc, self._rc) if self._finite else 0.0,
            max_abs_error=self._max,
            mean_abs_error=mean,
            snr_db=_snr_db(self._rr, self._noise),
            top1_agreement=self._top1 / self._rows if self._rows else None,
            top5_agreement=self._top5 / self._rows if self._rows and classes >= 5 else None,
            finite=self._finite,
            fp32_range=range_,
            range_error=mean / range_ if range_ > 0 else (0.0 if mean == 0 else None),
            rms_ratio=math.sqrt(self._cc / self._rr) if self._rr > 0 else None,
            exact_agreement=self._equal / self._n if self._integer and self._n else None,
            stuck=self.samples > 1 and len(self._cand_digests) == 1 and len(self._ref_digests) > 1,
            samples=self.samples,
        )


def as_array(value: Any) -> npt.NDArray[Any]:
    """An output as a numeric array: tensors as they are, a sequence of maps (ZipMap) as rows of its values
    in key order, a sequence of tensors stacked. Raises ``ValueError`` for what has no numeric form."""
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind in "USV":
            raise ValueError(f"an output of {value.dtype} values has no numeric comparison")
        return value
    if isinstance(value, Sequence) and value and all(isinstance(item, Mapping) for item in value):
        keys = sorted(value[0])
        if any(sorted(item) != keys for item in value):
            raise ValueError("the maps in the output sequence hold different keys")
        return np.asarray([[float(item[key]) for key in keys] for item in value], dtype=np.float64)
    if isinstance(value, Sequence) and value and all(isinstance(item, np.ndarray) for item in value):
        try:
            return np.stack(value)
        except ValueError:
            return np.concatenate([np.ravel(item) for item in value])
    if isinstance(value, Mapping):
        return np.asarray([float(value[key]) for key in sorted(value)], dtype=np.float64)
    array = np.asarray(value)
    if array.dtype == object:
        raise ValueError(f"an output of type {type(value).__name__} has no numeric comparison")
    return array


def _map_keys(value: Any) -> list[Any] | None:
    """The keys of a sequence of maps (a ZipMap's class labels), ``None`` for anything else."""
    if isinstance(value, Sequence) and value and isinstance(value[0], Mapping):
        return sorted(value[0])
    return None


def compare_output(name: str, reference: Any, candidate: Any) -> OutputFidelity:
    """Metrics of one output over samples stacked on a leading axis (``reference[i]`` is sample ``i``)."""
    acc = OutputAccumulator(name)
    for ref, cand in zip(reference, candidate, strict=True):
        acc.add(ref, cand)
    return acc.result()


def _digest(array: npt.NDArray[Any]) -> bytes:
    """A short digest of an array's bytes (the stuck check compares samples without keeping them)."""
    digest = hashlib.blake2b(repr(array.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(array).reshape(-1).view(np.uint8).data)  # flat: empty is valid too
    return digest.digest()


def _numeric_kind(array: npt.NDArray[Any]) -> str:
    if array.dtype.kind in "iub":
        return "integer"
    return "float" if array.dtype.kind in "fc" else str(array.dtype)


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape) or "scalar"


def _cosine(rr: float, cc: float, rc: float) -> float:
    """Cosine similarity; two all-zero vectors agree perfectly, one all-zero vector not at all."""
    if rr == 0.0 and cc == 0.0:
        return 1.0
    if rr == 0.0 or cc == 0.0:
        return 0.0
    return float(np.clip(rc / math.sqrt(rr * cc), -1.0, 1.0))


def _snr_db(signal_energy: float, noise_energy: float) -> float:
    """10·log10(signal / noise), capped at ``SNR_CAP_DB`` for identical outputs."""
    if noise_energy == 0.0:
        return SNR_CAP_DB
    if signal_energy == 0.0 or math.isinf(noise_energy):
        return -SNR_CAP_DB
    return min(10.0 * math.log10(signal_energy / noise_energy), SNR_CAP_DB)
