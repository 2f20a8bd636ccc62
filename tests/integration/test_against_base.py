"""``int8gate check --base`` on real git repositories and real models: a re-quantizing change shows
before → after, a change that touches no model finishes without benchmarking, and the results cache."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.gitrepo import Origin, clone_head, git, make_origin, write_files

from examples.modelzoo import Zoo
from int8gate.cli import main

POLICY = b"""\
models:
  - {name: net, fp32: models/net_fp32.onnx, int8: models/net_int8.onnx}
require: {speedup: 0.5}
benchmark: {threads: [1], budget_seconds: 0.6, sessions: 2, warmup_runs: 2, confirm: false}
report: {profile: false}
"""


def _base(zoo: Zoo) -> dict[str, bytes | Path]:
    # main's INT8 model: only the stem Conv quantized (the rest stayed float)
    return {".int8gate.yml": POLICY, "models/net_fp32.onnx": zoo.conv_fp32, "models/net_int8.onnx": zoo.conv_half_fake,
            "README.md": b"models\n"}  # fmt: skip


@pytest.fixture(scope="module")
def requantized(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Origin:
    """A PR that re-quantizes the whole model."""
    return make_origin(tmp_path_factory.mktemp("requantized"), lambda w: write_files(w, _base(zoo)),
                       lambda w: write_files(w, {"models/net_int8.onnx": zoo.conv_qdq}))  # fmt: skip


@pytest.fixture(scope="module")
def docs_only(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Origin:
    """A PR that touches no model: main already has the fully quantized model."""
    return make_origin(tmp_path_factory.mktemp("docs"),
                       lambda w: write_files(w, {**_base(zoo), "models/net_int8.onnx": zoo.conv_qdq}),
                       lambda w: write_files(w, {"README.md": b"models, better explained\n"}))  # fmt: skip


def check(work: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any], str, float]:
    started = time.monotonic()
    code = main(["check", "--policy", str(work / ".int8gate.yml"), "--workspace", str(work),
                 "--json", str(out / "r.json"), "--markdown", str(out / "r.md"), *extra], environ={})  # fmt: skip
    seconds = time.monotonic() - started
    return code, json.loads((out / "r.json").read_text()), (out / "r.md").read_text(), seconds


def test_a_requantizing_change_is_compared_with_base(requantized: Origin, tmp_path: Path) -> None:
    work = clone_head(requantized, tmp_path / "ws", shallow=False)
    code, report, _, _ = check(work, tmp_path, "--base", "origin/main")
    model = report["models"][0]
    vs = model["vs_base"]
    assert (vs["status"], vs["base_ref"], vs["changed"]) == ("changed", requantized.base, ["int8"])
    assert vs["benchmark"] == {"skipped": False, "why": f"the INT8 model changed against base {requantized.base[:12]}"}
    before, after = vs["census_delta"]["before"], vs["census_delta"]["after"]
    assert before["mac_share_quantized"] < 0.5 < after["mac_share_quantized"]
    assert before["compute_ops_quantized"] < after["compute_ops_quantized"] == after["compute_ops_total"]
    assert before["sha256"] != after["sha256"] and after["sha256"] == model["quantization"]["sha256"]
    assert vs["fidelity_delta"]["before"]["worst_cosine"] is not None
    head = model["benchmark"]["runs"][0]["speedup"]
    assert vs["head_speedup"] == head and vs["runs"][0]["head_speedup"] == head  # the same rounds
    ratio, base = vs["int8_latency_ratio"], vs["base_speedup"]
    assert ratio["ci_low"] <= ratio["estimate"] <= ratio["ci_high"] and ratio["estimate"] > 0
    assert base["estimate"] < head["estimate"]  # the PR quantized the float layers main had left
    assert code in (0, 1)


def test_a_changed_pair_is_measured_beside_base_from_a_relative_policy_path(
        requantized: Origin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = clone_head(requantized, tmp_path / "ws", shallow=False)
    monkeypatch.chdir(work)  # `int8gate check --base main` as typed in a repository: relative paths
    main(["check", "--policy", ".int8gate.yml", "--workspace", ".", "--json", str(tmp_path / "r.json"),
          "--base", "origin/main"], environ={})  # fmt: skip
    runs = json.loads((tmp_path / "r.json").read_text())["models"][0]["benchmark"]["runs"]
    assert [run["error"] for run in runs] == [None] and runs[0]["speedup"]["estimate"] > 0


def test_a_change_that_touches_no_model_is_not_benchmarked_and_says_why(docs_only: Origin, tmp_path: Path) -> None:
    work = clone_head(docs_only, tmp_path / "ws", shallow=False)
    code, report, _, seconds = check(work, tmp_path, "--base", "origin/main")
    model = report["models"][0]
    why = f"neither the pair's files nor its policy changed against base {docs_only.base[:12]}"
    assert model["vs_base"]["status"] == "unchanged"
    assert model["vs_base"]["benchmark"] == {"skipped": True, "why": why}
    assert model["benchmark"]["runs"] == []
    assert model["fidelity"] is None
    assert (code, model["verdict"]) == (0, "pass")
    assert model["reasons"][0] == f"not benchmarked again: {why}; no cached result for the same files on this kind of runner"
    assert model["quantization"]["is_quantized"] is True  # the census still ran
    print(f"\nunchanged pair, no cache: check took {seconds:.1f} s")


def test_the_cache_carries_mains_result_to_an_unchanged_pull_request(docs_only: Origin, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    main_ws = tmp_path / "main"
    git(tmp_path, "clone", "-q", "--branch", "main", docs_only.url, str(main_ws))
    (tmp_path / "o1").mkdir()
    _, on_main, _, _ = check(main_ws, tmp_path / "o1", "--cache", str(cache))
    assert on_main["models"][0]["vs_base"] is None  # no base: measured, and kept
    assert len(list(cache.glob("*.json"))) == 1
    work = clone_head(docs_only, tmp_path / "ws", shallow=False)
    (tmp_path / "o2").mkdir()
    _, report, _, _ = check(work, tmp_path / "o2", "--base", "origin/main", "--cache", str(cache))
    model = report["models"][0]
    cached = model["vs_base"]["cached"]
    assert cached is not None and cached["runs"] == on_main["models"][0]["benchmark"]["runs"]
    assert cached["commit"] == docs_only.base  # main's checkout was at the base commit
    assert cached["fidelity"] == on_main["models"][0]["fidelity"]
    assert model["benchmark"]["runs"] == []
    assert "the cached result for the same files, runner class and ONNX Runtime stands" in model["reasons"][0]
    assert any("(cached: measured " in reason for reason in model["reasons"])


def test_a_base_that_names_no_commit_is_a_usage_error(docs_only: Origin, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = clone_head(docs_only, tmp_path / "ws", shallow=False)
    code = main(["check", "--policy", str(work / ".int8gate.yml"), "--workspace", str(work), "--base", "nope"],
                environ={})  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"int8gate: error: --base nope: not a commit in the repository at {work.resolve()}\n"


def test_a_git_lfs_pointer_on_base_is_said_as_such_and_the_head_is_measured(zoo: Zoo, tmp_path: Path) -> None:
    pointer = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 44000\n")  # fmt: skip
    origin = make_origin(tmp_path / "origin", lambda w: write_files(w, {**_base(zoo), "models/net_int8.onnx": pointer}),
                         lambda w: write_files(w, {"models/net_int8.onnx": zoo.conv_qdq}))  # fmt: skip
    work = clone_head(origin, tmp_path / "ws", shallow=False)
    _, report, markdown, _ = check(work, tmp_path, "--base", "origin/main")
    vs = report["models"][0]["vs_base"]
    assert vs["status"] == "unavailable"
    assert vs["why"] == "models/net_int8.onnx is a Git LFS pointer on base, not the file (LFS objects are not fetched)"
    assert report["models"][0]["benchmark"]["runs"]  # measured as without a base
    assert "| net | " in markdown and " | unavailable | " in markdown
