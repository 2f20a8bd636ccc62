"""Parse kernel CPU lists, affinity, cgroup v1/v2 CPU quotas and memory limits, and container hints.

Pure: file text in, numbers out; ``probe`` reads the files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

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

