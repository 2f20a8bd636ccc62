"""Parse /proc/cpuinfo (x86 or Arm) or py-cpuinfo's answer into ``CpuInfo`` and classify the runner.

Pure: text in, ``CpuInfo`` out; ``probe`` finds the text. The runner class decides which row of the
expected-range table applies (see ``expected``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from int8gate.machine.facts import Arch, CpuFlags, CpuInfo, RunnerClass

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

