"""Read the real machine (/proc, /sys, affinity) into a ``RunnerProfile``.

Every file is read under ``root`` so tests can point the probe at a fake tree; only when ``root`` is
``/`` does the probe also ask the live process (``os.sched_getaffinity``, ``os.cpu_count``,
``platform.machine``) and fall back to py-cpuinfo when /proc/cpuinfo is unreadable.
Parsing is ``cpu``'s and ``cgroup``'s job; this module only finds the text. ONNX Runtime's version
and providers come from ``int8gate.runtime.ortinfo``, handed in by the composition root, so reading
the machine never imports ONNX Runtime.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path, PurePosixPath

from int8gate.machine.cgroup import (
    CgroupMembership,
    affinity_from_status,
    effective_cpus,
    looks_like_container,
    memory_limit_bytes,
    memory_total_bytes,
    parse_cpu_list,
    parse_proc_cgroup,
    quota_from_cfs,
    quota_from_cpu_max,
)
from int8gate.machine.cpu import cpu_from_pycpuinfo, logical_cpus, parse_cpuinfo, smt_from_cpuinfo
from int8gate.machine.facts import CpuCounts, CpuInfo, OrtInfo, RunnerProfile

_LIVE = Path("/")


def _read(path: Path) -> str | None:
    """The file's text, or ``None`` when it does not exist or cannot be read (normal for /sys files)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _under(root: Path, absolute: str) -> Path:
    return root.joinpath(*PurePosixPath(absolute).parts[1:])


def _cgroup_dirs(mount: Path, cgroup_path: str) -> list[Path]:
    """The cgroup's directory and each ancestor up to the mount (a limit anywhere above applies too).

    Inside a container the recorded path often does not exist under the mount (private namespace);
    then only the mount root is looked at.
    """
    rel = PurePosixPath(cgroup_path).parts[1:]
    dirs = [mount.joinpath(*rel[:i]) for i in range(len(rel), -1, -1)]
    existing = [d for d in dirs if d.is_dir()]
    return existing if existing else [mount]


def _cpu_quota(root: Path, membership: CgroupMembership | None) -> tuple[float | None, str | None]:
    """The tightest CPU quota along the cgroup path, and which file said so."""
    if membership is None:
        return None, None
    best: tuple[float | None, str | None] = (None, None)
    if membership.version == 2:
        for d in _cgroup_dirs(_under(root, "/sys/fs/cgroup"), membership.cpu_path):
            text = _read(d / "cpu.max")
            quota = quota_from_cpu_max(text) if text is not None else None
            if quota is not None and (best[0] is None or quota < best[0]):
                best = (quota, "cgroup v2 cpu.max")
        return best
    for mount_name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        mount = _under(root, f"/sys/fs/cgroup/{mount_name}")
        if not mount.is_dir():
            continue
        for d in _cgroup_dirs(mount, membership.cpu_path):
            q_text, p_text = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            if q_text is None or p_text is None:
                continue
            quota = quota_from_cfs(q_text, p_text)
            if quota is not None and (best[0] is None or quota < best[0]):
                best = (quota, "cgroup v1 cpu.cfs_quota_us")
        break
    return best


def _memory_limit(root: Path, membership: CgroupMembership | None) -> int | None:
    if membership is None:
        return None
    if membership.version == 2:
        mount, name = _under(root, "/sys/fs/cgroup"), "memory.max"
    else:
        mount, name = _under(root, "/sys/fs/cgroup/memory"), "memory.limit_in_bytes"
    limits = []
    for d in _cgroup_dirs(mount, membership.memory_path):
        text = _read(d / name)
        limit = memory_limit_bytes(text) if text is not None else None
        if limit is not None:
            limits.append(limit)
    return min(limits) if limits else None


def _memory_bytes(root: Path, membership: CgroupMembership | None) -> int | None:
    meminfo = _read(_under(root, "/proc/meminfo"))
    total = memory_total_bytes(meminfo) if meminfo is not None else None
    limit = _memory_limit(root, membership)
    return min(x for x in (total, limit) if x is not None) if (total or limit) else None


def probe_memory_bytes(*, root: Path = _LIVE) -> int | None:
    """The memory this job may use: the smaller of MemTotal and its cgroup's limit (``None``: unknown)."""
    cgroup_text = _read(_under(root, "/proc/self/cgroup"))
    return _memory_bytes(root, parse_proc_cgroup(cgroup_text) if cgroup_text is not None else None)


def _usable(root: Path, logical: int) -> int:
    if root == _LIVE and hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    status = _read(_under(root, "/proc/self/status"))
    allowed = affinity_from_status(status) if status is not None else None
    return len(allowed) if allowed else logical


def _logical(root: Path, cpuinfo_text: str | None) -> int:
    online = _read(_under(root, "/sys/devices/system/cpu/online"))
    if online is not None and online.strip():
        return len(parse_cpu_list(online))
    counted = logical_cpus(cpuinfo_text) if cpuinfo_text else 0
    if counted:
        return counted
    return (os.cpu_count() or 1) if root == _LIVE else 1


def _smt(root: Path, cpuinfo_text: str | None) -> bool | None:
    active = _read(_under(root, "/sys/devices/system/cpu/smt/active"))
    if active is not None and active.strip() in ("0", "1"):
        return active.strip() == "1"
    return smt_from_cpuinfo(cpuinfo_text) if cpuinfo_text else None


def _cpu(root: Path, cpuinfo_text: str | None) -> CpuInfo:
    machine = platform.machine() if root == _LIVE else None
    if cpuinfo_text:
        return parse_cpuinfo(cpuinfo_text, machine=machine)
    if root == _LIVE:
        import cpuinfo  # noqa: PLC0415  # py-cpuinfo is slow to import; only needed off Linux

        return cpu_from_pycpuinfo(cpuinfo.get_cpu_info())
    return parse_cpuinfo("", machine=machine)


def probe_runner(ort: OrtInfo, *, root: Path = _LIVE) -> RunnerProfile:
    """Everything int8gate reports about this runner, read from files under ``root``; ``ort`` as given."""
    cpuinfo_text = _read(_under(root, "/proc/cpuinfo"))
    cgroup_text = _read(_under(root, "/proc/self/cgroup"))
    membership = parse_proc_cgroup(cgroup_text) if cgroup_text is not None else None
    logical = _logical(root, cpuinfo_text)
    usable = _usable(root, logical)
    quota, source = _cpu_quota(root, membership)
    memory = _memory_bytes(root, membership)
    markers = [m for m in ("/.dockerenv", "/run/.containerenv") if _under(root, m).exists()]
    pid1 = _read(_under(root, "/proc/1/cgroup")) or ""
    return RunnerProfile(
        cpu=_cpu(root, cpuinfo_text),
        cpus=CpuCounts(
            logical=logical,
            usable=usable,
            quota=quota,
            effective=effective_cpus(usable, quota),
            smt=_smt(root, cpuinfo_text),
            quota_source=source,
        ),
        memory_bytes=memory,
        container=looks_like_container(marker_files=markers, pid1_cgroup=pid1),
        onnxruntime=ort,
    )
