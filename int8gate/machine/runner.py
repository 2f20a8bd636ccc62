"""The runner profile as pure data: parse /proc and cgroup text, classify the CPU, give the expected range.

Nothing here opens a file or imports ONNX Runtime: ``probe`` reads the machine and hands the text in.
The runner class decides which row of the expected-range table applies (issue 2):

    class                                         expected INT8 speedup
    x86-amx / x86-vnni (AVX-512 VNNI or AVX-VNNI)  1.2x - 2.0x
    x86-no-vnni (AVX2 only, or AVX-512 w/o VNNI)   0.9x - 1.1x
    any class, small model                         0.8x - 1.0x

Arm rows are int8gate's ASSUMPTION, not a measured table: ONNX Runtime's MLAS has SDOT/UDOT
(``asimddp``) and SMMLA/UMMLA (``i8mm``) u8/s8 GEMM kernels that play the role VNNI plays on x86, so
an Arm core with ``i8mm`` gets the VNNI range and one with only ``asimddp`` a slightly lower one
(1.1x - 1.8x); plain NEON gets the no-VNNI range. Re-measure and adjust when Arm runners are used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

SMALL_MODEL_MACS = 20_000_000
"""Below this many multiply-accumulates per inference a model counts as small (integer kernels rarely pay)."""
SMALL_MODEL_FP32_MS = 1.0
"""Below this FP32 median latency (ms) a model counts as small: fixed per-op overhead dominates."""


class Arch(str, Enum):
    """Instruction-set family of the runner."""

    X86_64 = "x86_64"
    AARCH64 = "aarch64"
    OTHER = "other"


class RunnerClass(str, Enum):
    """Which expected-range row the machine falls in, from its INT8 instructions."""

    X86_AMX = "x86-amx"
    X86_VNNI = "x86-vnni"
    X86_NO_VNNI = "x86-no-vnni"
    ARM_I8MM = "arm-i8mm"
    ARM_DOTPROD = "arm-dotprod"
    ARM_NEON = "arm-neon"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CpuFlags:
    """INT8-relevant instruction-set features (x86 and Arm); ``False`` also when a hypervisor hides one."""

    sse4_1: bool = False
    avx2: bool = False
    avx512f: bool = False
    avx512bw: bool = False
    avx512vl: bool = False
    avx512_vnni: bool = False
    avx_vnni: bool = False
    avx_vnni_int8: bool = False
    amx_tile: bool = False
    amx_int8: bool = False
    amx_bf16: bool = False
    neon: bool = False
    asimddp: bool = False
    i8mm: bool = False
    sve: bool = False
    sve2: bool = False


@dataclass(frozen=True)
class CpuInfo:
    """What the CPU is. ``family``/``model`` are x86 CPUID numbers; on Arm, architecture and part number.

    ``cpu_class`` is serialized as ``class`` (``metadata["json"]``); ``core`` names an Arm core
    (``Neoverse-N1``) when the part number is known; ``hypervisor`` is the x86 ``hypervisor`` flag.
    """

    brand: str
    vendor: str
    arch: Arch
    family: int | None
    model: int | None
    flags: CpuFlags
    cpu_class: RunnerClass = field(metadata={"json": "class"})
    core: str | None = None
    hypervisor: bool = False


@dataclass(frozen=True)
class CpuCounts:
    """How many CPUs: ``logical`` on the host, ``usable`` by affinity, ``quota`` from the cgroup
    (CPUs' worth, ``None`` when unlimited), ``effective`` = min(usable, ceil(quota))."""

    logical: int
    usable: int
    quota: float | None
    effective: int
    smt: bool | None
    quota_source: str | None = None


@dataclass(frozen=True)
class OrtInfo:
    """The ONNX Runtime in use: version, available providers, build string when it has one."""

    version: str
    providers: tuple[str, ...]
    build: str | None = None


@dataclass(frozen=True)
class RunnerProfile:
    """Everything int8gate knows about the machine it measures on (the ``env`` JSON)."""

    cpu: CpuInfo
    cpus: CpuCounts
    memory_bytes: int | None
    container: bool
    onnxruntime: OrtInfo


@dataclass(frozen=True)
class ExpectedRange:
    """The speedup int8gate expects here: ``low``..``high`` (x), a short ``label`` and the ``reason``."""

    low: float
    high: float
    label: str
    reason: str


# --- /proc/cpuinfo -------------------------------------------------------------------------------

_FLAG_ALIASES = {
    "avx512vnni": "avx512_vnni",
    "avxvnni": "avx_vnni",
    "avxvnniint8": "avx_vnni_int8",
    "asimd": "neon",
    "dotprod": "asimddp",
    "amx-int8": "amx_int8",
    "amx-tile": "amx_tile",
    "amx-bf16": "amx_bf16",
}

_ARM_IMPLEMENTERS = {
    0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x46: "Fujitsu", 0x48: "HiSilicon",
    0x4E: "NVIDIA", 0x51: "Qualcomm", 0x61: "Apple", 0x6D: "Microsoft", 0xC0: "Ampere",
}
_ARM_PARTS = {
    (0x41, 0xD03): "Cortex-A53", (0x41, 0xD05): "Cortex-A55", (0x41, 0xD07): "Cortex-A57",
    (0x41, 0xD08): "Cortex-A72", (0x41, 0xD09): "Cortex-A73", (0x41, 0xD0A): "Cortex-A75",
    (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1", (0x41, 0xD0D): "Cortex-A77",
    (0x41, 0xD40): "Neoverse-V1", (0x41, 0xD41): "Cortex-A78", (0x41, 0xD44): "Cortex-X1",
    (0x41, 0xD46): "Cortex-A510", (0x41, 0xD47): "Cortex-A710", (0x41, 0xD48): "Cortex-X2",
    (0x41, 0xD49): "Neoverse-N2", (0x41, 0xD4A): "Neoverse-E1", (0x41, 0xD4F): "Neoverse-V2",
    (0x41, 0xD80): "Cortex-A520", (0x41, 0xD81): "Cortex-A720", (0x41, 0xD82): "Cortex-X4",
    (0x41, 0xD84): "Neoverse-V3", (0x41, 0xD8E): "Neoverse-N3", (0x46, 0x001): "A64FX",
    (0x48, 0xD01): "Kunpeng-920", (0x51, 0x001): "Oryon", (0xC0, 0xAC3): "AmpereOne",
}


def _int(text: str | None, base: int = 10) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip(), base)
    except ValueError:
        return None


def cpuinfo_blocks(text: str) -> list[dict[str, str]]:
    """Split /proc/cpuinfo into one ``key -> value`` dict per processor block (keys as written)."""
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        key, sep, value = line.partition(":")
        if sep:
            blocks[-1].setdefault(key.strip(), value.strip())
    return [b for b in blocks if b]


def flags_from_tokens(tokens: Iterable[str]) -> CpuFlags:
    """Build ``CpuFlags`` from feature words, accepting both spellings (``avx512vnni``/``avx512_vnni``)."""
    names = {_FLAG_ALIASES.get(t.lower(), t.lower()) for t in tokens}
    if "neon" not in names and "asimd" in names:
        names.add("neon")
    return CpuFlags(**{f: f in names for f in CpuFlags.__dataclass_fields__})


def classify(arch: Arch, flags: CpuFlags) -> RunnerClass:
    """The expected-range class from the INT8 instructions the runner exposes."""
    if arch is Arch.X86_64:
        vnni = flags.avx512_vnni or flags.avx_vnni
        if flags.amx_int8 and vnni:
            return RunnerClass.X86_AMX
        if vnni:
            return RunnerClass.X86_VNNI
        if flags.avx2:
            return RunnerClass.X86_NO_VNNI
        return RunnerClass.UNKNOWN
    if arch is Arch.AARCH64:
        if flags.i8mm:
            return RunnerClass.ARM_I8MM
        if flags.asimddp:
            return RunnerClass.ARM_DOTPROD
        return RunnerClass.ARM_NEON if flags.neon else RunnerClass.UNKNOWN
    return RunnerClass.UNKNOWN


def _arch_of(first: Mapping[str, str], machine: str | None) -> Arch:
    if machine:
        m = machine.lower()
        if m in ("x86_64", "amd64"):
            return Arch.X86_64
        if m in ("aarch64", "arm64"):
            return Arch.AARCH64
        return Arch.OTHER
    if "vendor_id" in first or "flags" in first:
        return Arch.X86_64
    if "CPU implementer" in first and first.get("CPU architecture", "").startswith("8"):
        return Arch.AARCH64
    return Arch.OTHER


def parse_cpuinfo(text: str, *, machine: str | None = None) -> CpuInfo:
    """Parse /proc/cpuinfo (x86 or Arm). ``machine`` is ``platform.machine()`` when known.

    Arm has no brand line: the brand is built from ``CPU implementer``/``CPU part``.
    Flags come from the first processor block (Linux lists the same features on every CPU).
    """
    blocks = cpuinfo_blocks(text)
    first = blocks[0] if blocks else {}
    arch = _arch_of(first, machine)
    tokens = (first.get("flags") or first.get("Features") or "").split()
    flags = flags_from_tokens(tokens)
    cls = classify(arch, flags)
    hypervisor = "hypervisor" in tokens
    if "CPU implementer" in first:
        impl = _int(first.get("CPU implementer"), 16)
        part = _int(first.get("CPU part"), 16)
        vendor = _ARM_IMPLEMENTERS.get(impl or -1, f"implementer {first['CPU implementer']}")
        core = _ARM_PARTS.get((impl, part)) if impl is not None and part is not None else None
        brand = first.get("model name") or first.get("Hardware") or ""
        if core is not None:
            brand = f"{vendor} {core}"
        elif not brand:
            brand = f"{vendor} part {first.get('CPU part', '?')}"
        return CpuInfo(brand, vendor, arch, _int(first.get("CPU architecture")), part, flags, cls, core)
    return CpuInfo(
        brand=first.get("model name", ""),
        vendor=first.get("vendor_id", ""),
        arch=arch,
        family=_int(first.get("cpu family")),
        model=_int(first.get("model")),
        flags=flags,
        cpu_class=cls,
        hypervisor=hypervisor,
    )


def logical_cpus(text: str) -> int:
    """How many ``processor`` entries /proc/cpuinfo lists."""
    return sum(1 for b in cpuinfo_blocks(text) if "processor" in b)


def smt_from_cpuinfo(text: str) -> bool | None:
    """SMT on x86 from ``siblings`` > ``cpu cores``; ``None`` when the file does not say (Arm)."""
    blocks = cpuinfo_blocks(text)
    siblings = _int(blocks[0].get("siblings")) if blocks else None
    cores = _int(blocks[0].get("cpu cores")) if blocks else None
    return None if siblings is None or cores is None else siblings > cores


def cpu_from_pycpuinfo(info: Mapping[str, object]) -> CpuInfo:
    """Fallback: a ``CpuInfo`` from ``cpuinfo.get_cpu_info()`` (py-cpuinfo) when /proc is unreadable."""
    raw_arch = str(info.get("arch_string_raw", "")) or None
    arch = _arch_of({}, raw_arch)
    raw_flags = info.get("flags", [])
    tokens = [str(t) for t in raw_flags] if isinstance(raw_flags, list) else []
    flags = flags_from_tokens(tokens)
    family, model = info.get("family"), info.get("model")
    return CpuInfo(
        brand=str(info.get("brand_raw", "")),
        vendor=str(info.get("vendor_id_raw", "")),
        arch=arch,
        family=family if isinstance(family, int) else None,
        model=model if isinstance(model, int) else None,
        flags=flags,
        cpu_class=classify(arch, flags),
        hypervisor="hypervisor" in tokens,
    )


# --- CPU lists, cgroups, memory ------------------------------------------------------------------

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """Parse a kernel CPU list (``0-3,8,10-11``) into sorted CPU numbers; ``ValueError`` if malformed."""
    cpus: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        m = _RANGE.match(part.strip())
        if m is None:
            raise ValueError(f"not a CPU list: {text.strip()!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        cpus.update(range(lo, hi + 1))
    return tuple(sorted(cpus))


def affinity_from_status(text: str) -> tuple[int, ...] | None:
    """The ``Cpus_allowed_list`` of /proc/self/status, or ``None`` when absent."""
    for line in text.splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return parse_cpu_list(line.split(":", 1)[1])
    return None


def quota_from_cpu_max(text: str) -> float | None:
    """cgroup v2 ``cpu.max`` (``"$MAX $PERIOD"``, ``max`` = unlimited) as CPUs' worth."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    period = int(parts[1]) if len(parts) > 1 else 100_000
    return int(parts[0]) / period if period > 0 else None


def quota_from_cfs(quota_us: str, period_us: str) -> float | None:
    """cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` as CPUs' worth (``-1`` = unlimited)."""
    quota, period = int(quota_us.strip()), int(period_us.strip())
    return None if quota <= 0 or period <= 0 else quota / period


def effective_cpus(usable: int, quota: float | None) -> int:
    """min(usable, ceil(quota)), at least 1: the thread count a benchmark can really use."""
    limit = usable if quota is None else min(usable, math.ceil(quota - 1e-9))
    return max(1, limit)


@dataclass(frozen=True)
class CgroupMembership:
    """Where this process sits: cgroup ``version`` (2, or 1 for v1/hybrid) and its CPU and memory paths."""

    version: int
    cpu_path: str
    memory_path: str


def parse_proc_cgroup(text: str) -> CgroupMembership | None:
    """Parse /proc/self/cgroup. A v1 ``cpu`` controller line wins over the v2 ``0::`` line (hybrid)."""
    v2: str | None = None
    cpu_v1: str | None = None
    mem_v1: str | None = None
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        names = controllers.split(",")
        if controllers == "":
            v2 = path
        if "cpu" in names:
            cpu_v1 = path
        if "memory" in names:
            mem_v1 = path
    if cpu_v1 is not None:
        return CgroupMembership(1, cpu_v1, mem_v1 if mem_v1 is not None else "/")
    if v2 is not None:
        return CgroupMembership(2, v2, v2)
    return None


def memory_total_bytes(meminfo: str) -> int | None:
    """``MemTotal`` from /proc/meminfo in bytes."""
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", meminfo, re.MULTILINE)
    return int(m.group(1)) * 1024 if m else None


def memory_limit_bytes(text: str) -> int | None:
    """A cgroup memory limit (v2 ``memory.max`` or v1 ``memory.limit_in_bytes``); ``None`` = unlimited."""
    value = text.strip()
    if value in ("", "max"):
        return None
    limit = int(value)
    return None if limit >= 1 << 60 else limit  # v1 writes ~2**63 for "no limit"


_CONTAINER_CGROUP = re.compile(r"docker|kubepods|containerd|libpod|lxc|crio|garden|actions_job")


def looks_like_container(*, marker_files: Iterable[str], pid1_cgroup: str) -> bool:
    """Container hints: a ``/.dockerenv`` or ``/run/.containerenv`` marker, or a runtime in PID 1's cgroup."""
    return any(marker_files) or bool(_CONTAINER_CGROUP.search(pid1_cgroup))


# --- expected range ------------------------------------------------------------------------------

_CLASS_RANGES: dict[RunnerClass, tuple[float, float, str, str]] = {
    RunnerClass.X86_AMX: (1.2, 2.0, "modern CPU with AMX", "AMX-INT8 tiles and VNNI; the VNNI row of "
                          "the table applies, and AMX can land above it on large matrix products"),
    RunnerClass.X86_VNNI: (1.2, 2.0, "modern CPU with VNNI", "AVX-512 VNNI or AVX-VNNI gives ONNX "
                           "Runtime fast u8/s8 dot-product kernels for medium-to-large models"),
    RunnerClass.X86_NO_VNNI: (0.9, 1.1, "CPU without VNNI", "without VNNI, u8/s8 products take a "
                              "slower multi-instruction path; INT8 may be similar or slightly slower"),
    RunnerClass.ARM_I8MM: (1.2, 2.0, "Arm with i8mm", "assumption: SMMLA/UMMLA kernels play the "
                           "role of VNNI (no measured table for Arm yet)"),
    RunnerClass.ARM_DOTPROD: (1.1, 1.8, "Arm with dot-product", "assumption: SDOT/UDOT kernels, "
                              "slightly below the VNNI range (no measured table for Arm yet)"),
    RunnerClass.ARM_NEON: (0.9, 1.1, "Arm without dot-product", "assumption: plain NEON integer "
                           "kernels, treated like x86 without VNNI"),
    RunnerClass.UNKNOWN: (0.9, 1.1, "CPU without known INT8 instructions", "no VNNI, AMX, AVX2 or "
                          "Arm dot-product found, so no INT8 advantage is expected"),
}


def is_small_model(*, model_macs: int | None, fp32_median_ms: float | None) -> bool:
    """Small: fewer than ``SMALL_MODEL_MACS`` MACs or an FP32 median under ``SMALL_MODEL_FP32_MS``."""
    return (model_macs is not None and model_macs < SMALL_MODEL_MACS) or (
        fp32_median_ms is not None and fp32_median_ms < SMALL_MODEL_FP32_MS
    )


def expected_range(
    runner_class: RunnerClass, *, model_macs: int | None, fp32_median_ms: float | None
) -> ExpectedRange:
    """The expected INT8 speedup for this runner class and model size (small models: 0.8x - 1.0x)."""
    if is_small_model(model_macs=model_macs, fp32_median_ms=fp32_median_ms):
        why = []
        if model_macs is not None and model_macs < SMALL_MODEL_MACS:
            why.append(f"{model_macs / 1e6:.1f} M MACs (< {SMALL_MODEL_MACS / 1e6:.0f} M)")
        if fp32_median_ms is not None and fp32_median_ms < SMALL_MODEL_FP32_MS:
            why.append(f"FP32 median {fp32_median_ms:.3f} ms (< {SMALL_MODEL_FP32_MS:g} ms)")
        return ExpectedRange(0.8, 1.0, "small model on CPU", "; ".join(why) + ": quantize/dequantize "
                             "overhead and fast FP32 kernels can win for tiny models")
    low, high, label, reason = _CLASS_RANGES[runner_class]
    return ExpectedRange(low, high, label, reason)
