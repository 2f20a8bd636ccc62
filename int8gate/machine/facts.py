"""The runner profile as pure data: what the CPU is, how many CPUs this job may use, which ONNX Runtime.

``cpu`` and ``cgroup`` parse /proc and cgroup text into these types, ``probe`` reads the machine,
``expected`` maps a runner class to the speedup int8gate expects. Field names are the ``env`` JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


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



def has_vnni(runner: RunnerProfile) -> bool | None:
    """Whether the x86 CPU has VNNI (either form); ``None`` off x86, where the u8s8 caveat does not apply."""
    flags = runner.cpu.flags
    if runner.cpu.arch is not Arch.X86_64:
        return None
    return flags.avx512_vnni or flags.avx_vnni
