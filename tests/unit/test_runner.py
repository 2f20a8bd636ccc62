"""Checks the pure runner parsing on real /proc/cpuinfo and cgroup samples, and the expected-range table."""

from __future__ import annotations

import pytest
from support.paths import RUNNER_FIXTURES

from int8gate.machine.cgroup import (
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
from int8gate.machine.cpu import (
    classify,
    cpu_from_pycpuinfo,
    flags_from_tokens,
    logical_cpus,
    parse_cpuinfo,
    smt_from_cpuinfo,
)
from int8gate.machine.expected import expected_range
from int8gate.machine.facts import Arch, CpuFlags, RunnerClass

FIXTURES = RUNNER_FIXTURES


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# (file, arch, brand, vendor, class, avx2, avx512f, avx512_vnni, avx_vnni, amx_int8, hypervisor)
X86_CASES = [
    ("x86_sapphirerapids_amx_this_machine.cpuinfo", "Intel(R) Xeon(R) Processor", "GenuineIntel",
     RunnerClass.X86_AMX, True, True, True, True, True, True),
    ("x86_broadwell_e5_2673v4_azure_runner.cpuinfo", "Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz",
     "GenuineIntel", RunnerClass.X86_NO_VNNI, True, False, False, False, False, True),
    ("x86_cascadelake_8272cl_azure_runner_vnni_hidden.cpuinfo",
     "Intel(R) Xeon(R) Platinum 8272CL CPU @ 2.60GHz", "GenuineIntel", RunnerClass.X86_NO_VNNI,
     True, True, False, False, False, True),
    ("amd_epyc_7302p_zen2.cpuinfo", "AMD EPYC 7302P 16-Core Processor", "AuthenticAMD",
     RunnerClass.X86_NO_VNNI, True, False, False, False, False, True),
    ("amd_epyc_9754_zen4c_avx512_vnni.cpuinfo", "AMD EPYC 9754 128-Core Processor", "AuthenticAMD",
     RunnerClass.X86_VNNI, True, True, True, False, False, True),
    ("x86_alderlake_i5_12400_avx_vnni.cpuinfo", "12th Gen Intel(R) Core(TM) i5-12400",
     "GenuineIntel", RunnerClass.X86_VNNI, True, False, False, True, False, False),
]


@pytest.mark.parametrize(
    ("name", "brand", "vendor", "cls", "avx2", "avx512f", "vnni512", "avx_vnni", "amx", "hyp"),
    X86_CASES,
)
def test_x86_samples_give_brand_flags_and_class(
    name: str, brand: str, vendor: str, cls: RunnerClass, avx2: bool, avx512f: bool,
    vnni512: bool, avx_vnni: bool, amx: bool, hyp: bool,
) -> None:
    cpu = parse_cpuinfo(fixture(name))
    assert (cpu.arch, cpu.brand, cpu.vendor, cpu.cpu_class) == (Arch.X86_64, brand, vendor, cls)
    f = cpu.flags
    assert (f.avx2, f.avx512f, f.avx512_vnni, f.avx_vnni, f.amx_int8) == (
        avx2, avx512f, vnni512, avx_vnni, amx)
    assert f.sse4_1 and not f.neon and not f.asimddp
    assert cpu.hypervisor is hyp


def test_this_machine_lists_every_amx_and_avx512_feature() -> None:
    cpu = parse_cpuinfo(fixture("x86_sapphirerapids_amx_this_machine.cpuinfo"))
    f = cpu.flags
    assert f.amx_tile and f.amx_bf16 and f.avx512bw and f.avx512vl
    assert not f.avx_vnni_int8  # a Sierra Forest / Arrow Lake feature, absent here
    assert (cpu.family, cpu.model) == (6, 167)


def test_cascade_lake_under_hyper_v_keeps_avx512_but_loses_vnni() -> None:
    f = parse_cpuinfo(fixture("x86_cascadelake_8272cl_azure_runner_vnni_hidden.cpuinfo")).flags
    assert f.avx512f and f.avx512bw and f.avx512vl
    assert not f.avx512_vnni


def test_neoverse_n1_has_dot_product_but_no_i8mm() -> None:
    cpu = parse_cpuinfo(fixture("arm_neoverse_n1_ampere_altra.cpuinfo"))
    assert cpu.arch is Arch.AARCH64
    assert (cpu.vendor, cpu.core, cpu.brand) == ("ARM", "Neoverse-N1", "ARM Neoverse-N1")
    assert (cpu.family, cpu.model) == (8, 0xD0C)
    assert cpu.flags.neon and cpu.flags.asimddp
    assert not cpu.flags.i8mm and not cpu.flags.sve and not cpu.flags.avx2
    assert cpu.cpu_class is RunnerClass.ARM_DOTPROD


def test_neoverse_v1_has_i8mm_and_sve() -> None:
    cpu = parse_cpuinfo(fixture("arm_neoverse_v1_graviton3.cpuinfo"))
    assert cpu.core == "Neoverse-V1"
    assert cpu.flags.i8mm and cpu.flags.sve and cpu.flags.asimddp and not cpu.flags.sve2
    assert cpu.cpu_class is RunnerClass.ARM_I8MM


def test_unknown_arm_part_still_gets_a_brand() -> None:
    text = "processor\t: 0\nFeatures\t: fp asimd\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xfff\n"
    cpu = parse_cpuinfo(text)
    assert cpu.brand == "ARM part 0xfff"
    assert cpu.core is None
    assert cpu.cpu_class is RunnerClass.ARM_NEON


def test_machine_argument_overrides_guessing() -> None:
    cpu = parse_cpuinfo(fixture("arm_neoverse_n1_ampere_altra.cpuinfo"), machine="aarch64")
    assert cpu.arch is Arch.AARCH64
    assert parse_cpuinfo("", machine="riscv64").cpu_class is RunnerClass.UNKNOWN


def test_both_vnni_spellings_are_accepted() -> None:
    assert flags_from_tokens(["avx512vnni"]).avx512_vnni
    assert flags_from_tokens(["AVX512_VNNI"]).avx512_vnni
    assert flags_from_tokens(["avxvnni"]).avx_vnni
    assert flags_from_tokens(["avx_vnni_int8"]).avx_vnni_int8


def test_amx_without_vnni_is_not_the_amx_class() -> None:
    # A hypervisor may pass AMX through while hiding VNNI bits (or the reverse); AMX alone is not enough.
    flags = CpuFlags(avx2=True, amx_int8=True, amx_tile=True)
    assert classify(Arch.X86_64, flags) is RunnerClass.X86_NO_VNNI
    assert classify(Arch.X86_64, CpuFlags()) is RunnerClass.UNKNOWN


def test_counts_and_smt_from_cpuinfo() -> None:
    assert logical_cpus(fixture("x86_sapphirerapids_amx_this_machine.cpuinfo")) == 2
    assert logical_cpus(fixture("x86_alderlake_i5_12400_avx_vnni.cpuinfo")) == 2
    assert smt_from_cpuinfo(fixture("x86_alderlake_i5_12400_avx_vnni.cpuinfo")) is True  # 12 > 6
    assert smt_from_cpuinfo(fixture("x86_sapphirerapids_amx_this_machine.cpuinfo")) is False
    assert smt_from_cpuinfo(fixture("arm_neoverse_n1_ampere_altra.cpuinfo")) is None


def test_pycpuinfo_dict_fallback_on_this_machine_shape() -> None:
    info: dict[str, object] = {
        "arch_string_raw": "x86_64", "brand_raw": "Intel(R) Xeon(R) Processor",
        "vendor_id_raw": "GenuineIntel", "family": 6, "model": 167,
        "flags": ["avx2", "avx512f", "avx512bw", "avx512vnni", "avx512_vnni", "amx_int8", "hypervisor"],
    }
    cpu = cpu_from_pycpuinfo(info)
    assert cpu.cpu_class is RunnerClass.X86_AMX
    assert (cpu.family, cpu.model, cpu.hypervisor) == (6, 167, True)


def test_cpu_lists_and_affinity() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == (0, 1, 2, 3, 8, 10, 11)
    assert affinity_from_status(fixture("this_machine.proc_self_status")) == (0, 1)
    assert affinity_from_status("Name:\tx\n") is None
    with pytest.raises(ValueError, match="not a CPU list"):
        parse_cpu_list("0-a")


def test_cgroup_v2_quota() -> None:
    assert quota_from_cpu_max(fixture("cgroup_v2_docker_cpus2.cpu.max")) == 2.0
    assert quota_from_cpu_max(fixture("cgroup_v2_unlimited.cpu.max")) is None
    assert quota_from_cpu_max("50000 100000") == 0.5


def test_cgroup_v1_quota() -> None:
    assert quota_from_cfs(fixture("cgroup_v1_this_machine.cpu.cfs_quota_us"),
                          fixture("cgroup_v1_this_machine.cpu.cfs_period_us")) is None
    assert quota_from_cfs(fixture("cgroup_v1_docker_cpus1.5.cpu.cfs_quota_us"),
                          fixture("cgroup_v1_docker_cpus1.5.cpu.cfs_period_us")) == 1.5


@pytest.mark.parametrize(("usable", "quota", "want"),
                         [(8, None, 8), (8, 1.5, 2), (8, 2.0, 2), (2, 4.0, 2), (4, 0.5, 1)])
def test_effective_cpus_is_min_of_affinity_and_ceil_quota(usable: int, quota: float | None,
                                                          want: int) -> None:
    assert effective_cpus(usable, quota) == want


def test_proc_self_cgroup_v1_hybrid_and_v2() -> None:
    v1 = parse_proc_cgroup(fixture("cgroup_v1_this_machine.proc_self_cgroup"))
    assert v1 is not None
    assert (v1.version, v1.cpu_path, v1.memory_path) == (1, "/", "/process_api/job")
    v2 = parse_proc_cgroup(fixture("cgroup_v2_docker_cpus2.proc_self_cgroup"))
    assert v2 is not None
    assert (v2.version, v2.cpu_path) == (2, "/")
    assert parse_proc_cgroup("") is None


def test_memory() -> None:
    assert memory_total_bytes(fixture("this_machine.meminfo")) == 24684084 * 1024
    assert memory_limit_bytes("9223372036854771712\n") is None
    assert memory_limit_bytes("max\n") is None
    assert memory_limit_bytes("2147483648\n") == 2 << 30


def test_container_hints() -> None:
    assert looks_like_container(marker_files=["/.dockerenv"], pid1_cgroup="0::/\n")
    assert looks_like_container(marker_files=[], pid1_cgroup="0::/kubepods/burstable/pod1/abc\n")
    assert not looks_like_container(marker_files=[], pid1_cgroup="0::/init.scope\n")


@pytest.mark.parametrize(
    ("cls", "low", "high"),
    [(RunnerClass.X86_AMX, 1.2, 2.0), (RunnerClass.X86_VNNI, 1.2, 2.0),
     (RunnerClass.X86_NO_VNNI, 0.9, 1.1), (RunnerClass.ARM_I8MM, 1.2, 2.0),
     (RunnerClass.ARM_DOTPROD, 1.1, 1.8), (RunnerClass.ARM_NEON, 0.9, 1.1),
     (RunnerClass.UNKNOWN, 0.9, 1.1)],
)
def test_expected_range_per_class_for_a_large_model(cls: RunnerClass, low: float, high: float) -> None:
    rng = expected_range(cls, model_macs=4_000_000_000, fp32_median_ms=25.0)
    assert (rng.low, rng.high) == (low, high)
    assert rng.label and rng.reason


def test_small_model_overrides_the_class() -> None:
    by_macs = expected_range(RunnerClass.X86_VNNI, model_macs=3_000_000, fp32_median_ms=None)
    assert (by_macs.low, by_macs.high, by_macs.label) == (0.8, 1.0, "small model on CPU")
    assert "3.0 M MACs" in by_macs.reason
    by_time = expected_range(RunnerClass.X86_VNNI, model_macs=None, fp32_median_ms=0.4)
    assert by_time.low == 0.8 and "0.400 ms" in by_time.reason
    unknown_size = expected_range(RunnerClass.X86_VNNI, model_macs=None, fp32_median_ms=None)
    assert unknown_size.low == 1.2


def test_arm_ranges_say_they_are_assumptions() -> None:
    for cls in (RunnerClass.ARM_I8MM, RunnerClass.ARM_DOTPROD, RunnerClass.ARM_NEON):
        assert "assumption" in expected_range(cls, model_macs=None, fp32_median_ms=None).reason
