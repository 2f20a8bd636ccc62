"""What changed against base, whether to benchmark again, and the results cache keyed by content."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest
from support import reportdata

from int8gate.baseline.cache import MAX_ENTRIES, ResultCache, result_key
from int8gate.baseline.changes import PairDigests, benchmark_decision, compare_pair, policy_changed
from int8gate.baseline.versions import BaseFile, FileState
from int8gate.gate.against import keep
from int8gate.measure.stats import Call
from int8gate.policy.load import parse_policy
from int8gate.policy.spec import BenchmarkWhen
from int8gate.report.jsonable import ReportFormatError, from_jsonable, to_jsonable
from int8gate.report.vsbase import BaseStatus, CachedResult

REF = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
HEAD = PairDigests(int8="i" * 64, fp32="f" * 64)


def present(path: str, digest: str) -> BaseFile:
    return BaseFile(path, FileState.PRESENT, Path("/scratch") / path, digest)


def test_the_same_bytes_are_unchanged_and_not_benchmarked_again() -> None:
    base = compare_pair(REF, HEAD, int8=present("a_int8.onnx", "i" * 64), fp32=present("a.onnx", "f" * 64),
                        samples=None, policy_changed=False)  # fmt: skip
    assert (base.status, base.changed, base.why) == (BaseStatus.UNCHANGED, (), "the same files as base f95f852bd8fc")
    decision = benchmark_decision(base, BenchmarkWhen.CHANGED)
    assert decision.skipped
    assert decision.why == "neither the pair's files nor its policy changed against base f95f852bd8fc"
    assert not benchmark_decision(base, BenchmarkWhen.ALWAYS).skipped  # today's behaviour, on request


def test_a_policy_change_alone_benchmarks_again_but_the_files_stay_unchanged() -> None:
    base = compare_pair(REF, HEAD, int8=present("a_int8.onnx", "i" * 64), fp32=present("a.onnx", "f" * 64),
                        samples=None, policy_changed=True)  # fmt: skip
    assert (base.status, base.changed) == (BaseStatus.UNCHANGED, ("policy",))
    assert benchmark_decision(base, BenchmarkWhen.CHANGED) == replace(
        benchmark_decision(base, BenchmarkWhen.CHANGED), skipped=False, why="the policy changed against base f95f852bd8fc"
    )


def test_a_requantized_model_is_changed_with_the_base_copies_to_measure() -> None:
    base = compare_pair(REF, HEAD, int8=present("a_int8.onnx", "x" * 64), fp32=present("a.onnx", "f" * 64),
                        samples=present("s.npz", "s" * 64), policy_changed=False)  # fmt: skip
    assert base.status is BaseStatus.CHANGED
    assert base.changed == ("int8", "samples")  # the head has no samples digest: they differ
    assert base.why == "the INT8 model and the sample inputs changed against base f95f852bd8fc"
    assert base.int8 == Path("/scratch/a_int8.onnx")
    assert not benchmark_decision(base, BenchmarkWhen.CHANGED).skipped


@pytest.mark.parametrize(
    ("int8", "status", "why"),
    [
        (BaseFile("a_int8.onnx", FileState.ABSENT), BaseStatus.NEW,
         "the INT8 model is new: a_int8.onnx is absent on base f95f852bd8fc"),
        (BaseFile("a_int8.onnx", FileState.LFS_POINTER, problem="a_int8.onnx is a Git LFS pointer on base"),
         BaseStatus.UNAVAILABLE, "a_int8.onnx is a Git LFS pointer on base"),
        (BaseFile("a_int8.onnx", FileState.NOT_A_FILE, problem="a_int8.onnx is a symlink on base, not a file"),
         BaseStatus.UNAVAILABLE, "a_int8.onnx is a symlink on base, not a file"),
    ],
)  # fmt: skip
def test_new_and_unavailable_say_why(int8: BaseFile, status: BaseStatus, why: str) -> None:
    base = compare_pair(REF, HEAD, int8=int8, fp32=present("a.onnx", "f" * 64), samples=None, policy_changed=False)
    assert (base.status, base.why) == (status, why)
    assert not benchmark_decision(base, BenchmarkWhen.CHANGED).skipped


def test_an_fp32_model_absent_on_base_is_a_change_and_says_so() -> None:
    base = compare_pair(REF, HEAD, int8=present("a_int8.onnx", "i" * 64), fp32=BaseFile("a.onnx", FileState.ABSENT),
                        samples=None, policy_changed=False)  # fmt: skip
    assert (base.status, base.fp32) == (BaseStatus.CHANGED, None)
    assert base.why == "the FP32 model changed against base f95f852bd8fc (the FP32 model is absent on base)"


POLICY = """
models:
  - {name: net, fp32: a.onnx, int8: a_int8.onnx}
  - {name: other, fp32: b.onnx, int8: b_int8.onnx}
report: {title: T}
"""


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        (lambda t: t.replace("title: T", "title: Other"), False),  # how the report looks
        (lambda t: "\n\n" + t, False),  # where the lines are
        (lambda t: t + "benchmark: {when: always}\n", False),  # whether to measure, not how
        (lambda t: t + "benchmark: {budget_seconds: 3}\n", True),
        (lambda t: t + "require: {speedup: 1.5}\n", True),
        (lambda t: t.replace("{name: net, fp32", "{name: net, samples: s.npz, fp32"), True),
        (lambda t: t.replace("name: net,", "name: renamed,"), True),  # no pair of that name on base
        (lambda t: t.replace("b_int8.onnx", "c_int8.onnx"), False),  # another pair's business
    ],
)
def test_only_a_pairs_own_settings_count_as_a_policy_change(edit, changed: bool) -> None:  # type: ignore[no-untyped-def]
    base = parse_policy(POLICY, ".int8gate.yml")
    head = parse_policy(edit(POLICY), ".int8gate.yml")
    assert policy_changed(head, base, head.models[0]) is changed
    assert policy_changed(head, None, head.models[0])  # no policy on base


def cached(key: str) -> CachedResult:
    runs = (reportdata.row(1, 9.2, 3.9, 2.28, 2.38, Call.FASTER), reportdata.failed_row(2, "worker crashed"))
    return CachedResult(key, "2026-11-30T12:00:00+00:00", REF, "0.1.0", runs, reportdata.fidelity(0.9991, True))


def test_a_cached_result_reads_back_as_it_was_written(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path / "cache")
    key = result_key(HEAD, settings=(), threads=(1, 2), runner_class="x86-vnni", onnxruntime="1.32.0",
                     tool_version="0.1.0")  # fmt: skip
    assert cache.get(key) is None
    cache.put(cached(key))
    assert cache.get(key) == cached(key)


def test_the_key_changes_with_anything_a_measurement_depends_on() -> None:
    base = {"settings": (), "threads": (1, 2), "runner_class": "x86-vnni", "onnxruntime": "1.32.0",
            "tool_version": "0.1.0"}  # fmt: skip
    keys = {result_key(HEAD, **base)}  # type: ignore[arg-type]
    for name, value in (("threads", (1, 4)), ("runner_class", "x86-avx2"), ("onnxruntime", "1.31.0"),
                        ("tool_version", "0.2.0"), ("settings", ({"budget": 3},))):  # fmt: skip
        keys.add(result_key(HEAD, **{**base, name: value}))  # type: ignore[arg-type]
    keys.add(result_key(replace(HEAD, int8="j" * 64), **base))  # type: ignore[arg-type]
    assert len(keys) == 7


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"format": 99, "result": {}}', '{"format": 1, "result": {"key": 3}}'],
)
def test_an_unreadable_cache_entry_is_a_miss_not_an_error(tmp_path: Path, text: str) -> None:
    cache = ResultCache(tmp_path)
    cache.path("k").write_text(text, encoding="utf-8")
    assert cache.get("k") is None


def test_an_entry_stored_under_another_key_is_a_miss(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.put(cached("a"))
    cache.path("a").rename(cache.path("b"))
    assert cache.get("b") is None


def test_the_cache_keeps_the_newest_entries(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    for i in range(MAX_ENTRIES + 3):
        (tmp_path / f"old{i:04d}.json").write_text("{}", encoding="utf-8")
    cache.put(cached("new"))
    assert len(list(tmp_path.glob("*.json"))) == MAX_ENTRIES
    assert cache.get("new") is not None


def test_from_jsonable_reverses_to_jsonable_and_names_the_place_that_does_not_fit() -> None:
    run = reportdata.row(4, 3.1, 1.7, 1.70, 1.95, Call.FASTER)
    data = json.loads(json.dumps(to_jsonable(run)))
    assert from_jsonable(type(run), data) == run
    data["speedup"]["ci_low"] = None  # a non-finite float was written as null
    assert math.isnan(from_jsonable(type(run), data).speedup.ci_low)
    data["call"] = "sideways"
    with pytest.raises(ReportFormatError, match=r"^\$\.call: 'sideways' is not one of "):
        from_jsonable(type(run), data)


@pytest.mark.skipif(os.geteuid() != 0, reason="handing files to another uid needs root")
def test_as_root_the_cache_is_left_to_the_workspace_owner(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    os.chown(workspace, 4242, 4242)  # the runner's checkout; the Action's container runs as root
    ResultCache(workspace / ".int8gate-cache").put(cached("k"))
    owners = {p.stat().st_uid for p in [workspace / ".int8gate-cache", *(workspace / ".int8gate-cache").iterdir()]}
    assert owners == {4242}


def test_a_row_the_deadline_left_unmeasured_is_not_cached(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    measured = reportdata.row(1, 10.0, 5.0, 1.9, 2.1, Call.FASTER)
    cut = replace(reportdata.row(2, 6.0, 3.0, 1.9, 2.1, Call.FASTER), not_measured="the run's deadline had passed")
    fid = reportdata.fidelity(0.999, True)
    keep(cache, "partial", (measured, cut), fid, commit=None, stamp=lambda: "t")
    keep(cache, "whole", (measured,), fid, commit=None, stamp=lambda: "t")
    assert cache.get("partial") is None  # a later run would judge from it and never measure row 2
    assert cache.get("whole") is not None
