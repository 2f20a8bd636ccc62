"""Checks probe_runner on this machine and on fake /proc + /sys trees (cgroup v1 and v2, nested limits)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import onnxruntime
from support.paths import RUNNER_FIXTURES

from int8gate.machine.facts import Arch, CpuInfo, RunnerClass
from int8gate.machine.probe import probe_runner
from int8gate.runtime.ortinfo import ort_info

FIXTURES = RUNNER_FIXTURES


def put(root: Path, absolute: str, text: str) -> None:
    path = root / absolute.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_this_machine() -> None:
    profile = probe_runner(ort_info())
    assert profile.cpu.arch is Arch.X86_64 or profile.cpu.arch is Arch.AARCH64
    assert profile.cpus.usable == len(os.sched_getaffinity(0))
    assert 1 <= profile.cpus.effective <= profile.cpus.usable <= profile.cpus.logical
    assert profile.memory_bytes is not None and profile.memory_bytes > 0
    assert profile.onnxruntime.version == onnxruntime.__version__
    assert "CPUExecutionProvider" in profile.onnxruntime.providers
    with (FIXTURES / "x86_sapphirerapids_amx_this_machine.cpuinfo").open() as f:
        recorded_here = f.read()
    if Path("/proc/cpuinfo").read_text() == recorded_here:  # the dev box the fixture came from
        assert profile.cpu.cpu_class is RunnerClass.X86_AMX
        assert profile.cpus.quota is None and profile.container


def test_cgroup_v2_quota_caps_effective_cpus(tmp_path: Path) -> None:
    put(tmp_path, "/proc/cpuinfo", (FIXTURES / "arm_neoverse_v1_graviton3.cpuinfo").read_text())
    put(tmp_path, "/proc/self/cgroup", (FIXTURES / "cgroup_v2_docker_cpus2.proc_self_cgroup").read_text())
    put(tmp_path, "/sys/fs/cgroup/cpu.max", (FIXTURES / "cgroup_v2_docker_cpus2.cpu.max").read_text())
    put(tmp_path, "/sys/fs/cgroup/memory.max", "2147483648\n")
    put(tmp_path, "/proc/meminfo", (FIXTURES / "this_machine.meminfo").read_text())
    put(tmp_path, "/proc/self/status", "Cpus_allowed_list:\t0-7\n")
    put(tmp_path, "/sys/devices/system/cpu/online", "0-7\n")
    put(tmp_path, "/proc/1/cgroup", "0::/kubepods/burstable/pod42/c0ffee\n")
    profile = probe_runner(ort_info(), root=tmp_path)
    assert profile.cpu.core == "Neoverse-V1"
    assert profile.cpu.cpu_class is RunnerClass.ARM_I8MM
    c = profile.cpus
    assert (c.logical, c.usable, c.quota, c.effective) == (8, 8, 2.0, 2)
    assert c.quota_source == "cgroup v2 cpu.max"
    assert c.smt is None  # Arm cpuinfo does not say, and no smt/active file
    assert profile.memory_bytes == 2 << 30
    assert profile.container


def test_cgroup_v2_parent_limit_applies_to_child(tmp_path: Path) -> None:
    put(tmp_path, "/proc/self/cgroup", "0::/ci.slice/job.scope\n")
    put(tmp_path, "/sys/fs/cgroup/ci.slice/job.scope/cpu.max", "max 100000\n")
    put(tmp_path, "/sys/fs/cgroup/ci.slice/cpu.max", "150000 100000\n")
    put(tmp_path, "/sys/devices/system/cpu/online", "0-3\n")
    c = probe_runner(ort_info(), root=tmp_path).cpus
    assert (c.quota, c.effective, c.usable) == (1.5, 2, 4)


def test_cgroup_v1_quota_in_nested_cpu_cpuacct_mount(tmp_path: Path) -> None:
    put(tmp_path, "/proc/cpuinfo",
        (FIXTURES / "x86_broadwell_e5_2673v4_azure_runner.cpuinfo").read_text())
    put(tmp_path, "/proc/self/cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    mount = "/sys/fs/cgroup/cpu,cpuacct"
    put(tmp_path, f"{mount}/docker/abc/cpu.cfs_quota_us",
        (FIXTURES / "cgroup_v1_docker_cpus1.5.cpu.cfs_quota_us").read_text())
    put(tmp_path, f"{mount}/docker/abc/cpu.cfs_period_us",
        (FIXTURES / "cgroup_v1_docker_cpus1.5.cpu.cfs_period_us").read_text())
    put(tmp_path, f"{mount}/docker/cpu.cfs_quota_us", "-1\n")
    put(tmp_path, f"{mount}/docker/cpu.cfs_period_us", "100000\n")
    put(tmp_path, "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n")
    put(tmp_path, "/proc/meminfo", (FIXTURES / "this_machine.meminfo").read_text())
    put(tmp_path, "/.dockerenv", "")
    profile = probe_runner(ort_info(), root=tmp_path)
    assert profile.cpu.cpu_class is RunnerClass.X86_NO_VNNI
    c = profile.cpus
    assert (c.logical, c.usable, c.quota, c.effective) == (1, 1, 1.5, 1)
    assert c.quota_source == "cgroup v1 cpu.cfs_quota_us"
    assert c.smt is False  # siblings 2 == cpu cores 2
    assert profile.memory_bytes == 24684084 * 1024
    assert profile.container


def test_empty_tree_gives_a_profile_that_says_unknown(tmp_path: Path) -> None:
    profile = probe_runner(ort_info(), root=tmp_path)
    assert profile.cpu.cpu_class is RunnerClass.UNKNOWN
    assert (profile.cpus.logical, profile.cpus.usable, profile.cpus.effective) == (1, 1, 1)
    assert profile.cpus.quota is None and profile.memory_bytes is None
    assert not profile.container


def test_cpu_class_field_is_serialized_as_class() -> None:
    meta = {f.name: f.metadata.get("json") for f in dataclasses.fields(CpuInfo)}
    assert meta["cpu_class"] == "class"
