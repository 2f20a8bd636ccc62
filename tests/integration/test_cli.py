"""The command line end to end on real quantized models: the gate's JSON contract, exit codes, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from examples.modelzoo import Zoo
from int8gate.cli import main

FAST_BENCH = "benchmark:\n  threads: [1]\n  budget_seconds: 0.6\n  sessions: 2\n  warmup_runs: 2\n  confirm: false\n"


@pytest.fixture(scope="module")
def workspace(zoo: Zoo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ws")
    (root / "models").mkdir()
    for name in ("conv_fp32", "conv_qdq", "conv_fake"):
        shutil.copy(getattr(zoo, name), root / "models" / f"{name}.onnx")
    return root


def write_policy(root: Path, body: str) -> Path:
    path = root / ".int8gate.yml"
    path.write_text(body)
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={})
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def checked(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, object], str]:
    policy = write_policy(
        workspace,
        "models:\n"
        "  - {name: real, fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\n"
        "  - {name: fake, fp32: models/conv_fp32.onnx, int8: models/conv_fake.onnx}\n"
        "require:\n  speedup: 0.5\n" + FAST_BENCH,
    )
    out_dir = tmp_path_factory.mktemp("out")
    code = main(
        ["check", "--policy", str(policy), "--workspace", str(workspace),
         "--json", str(out_dir / "r.json"), "--markdown", str(out_dir / "r.md")],
        environ={},
    )
    return code, json.loads((out_dir / "r.json").read_text()), (out_dir / "r.md").read_text()


def test_check_catches_the_fake_and_exits_1(checked: tuple[int, dict[str, object], str]) -> None:
    code, report, markdown = checked
    assert code == 1
    assert report["verdict"] == "fail"
    models = {m["name"]: m for m in report["models"]}  # type: ignore[attr-defined]
    assert models["fake"]["verdict"] == "fail"
    assert any("not really quantized" in r for r in models["fake"]["reasons"])
    assert models["real"]["quantization"]["is_quantized"] is True
    assert not any(r.startswith("not really quantized") for r in models["real"]["reasons"])
    assert markdown.startswith("## ❌")
    assert "| fake | ❌ fail |" in markdown


def test_check_json_holds_every_contract_field(checked: tuple[int, dict[str, object], str]) -> None:
    _, report, _ = checked
    assert report["schema_version"] == 1
    runner = report["runner"]
    assert isinstance(runner, dict)
    assert isinstance(runner["cpu"]["brand"], str)
    assert set(runner["cpu"]["flags"]) >= {"avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"}
    assert runner["cpu"]["class"]
    assert runner["cpus"]["usable"] >= 1
    assert runner["onnxruntime"]["version"]
    assert "CPUExecutionProvider" in runner["onnxruntime"]["providers"]
    for model in report["models"]:  # type: ignore[attr-defined]
        assert {"name", "verdict", "reasons", "quantization", "benchmark"} <= set(model)
        q = model["quantization"]
        assert q["format"] in {"qdq", "qoperator", "dynamic", "mixed", "float"}
        assert isinstance(q["is_quantized"], bool)
        assert q["compute_ops"]["total"] >= q["compute_ops"]["quantized"] >= 0
        (row,) = model["benchmark"]["runs"]
        assert row["intra_op_threads"] == 1
        assert row["fp32"]["median_ms"] > 0 and row["int8"]["median_ms"] > 0
        s = row["speedup"]
        assert s["ci_low"] <= s["estimate"] <= s["ci_high"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("models: [\n", ".int8gate.yml:2: invalid YAML"),
        ("models:\n  - {fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\nbenchmark:\n  thrads: [1]\n",
         ".int8gate.yml:4: benchmark.thrads: unknown key; did you mean `threads`?"),
        ("models:\n  - fp32: models/conv_fp32.onnx\n    int8: models/x.onnx\n",
         ".int8gate.yml:3: models[0].int8: file not found: models/x.onnx"),
        ("models:\n  - {fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\nbenchmark:\n  budget_seconds: soon\n",
         ".int8gate.yml:4: benchmark.budget_seconds: expected number, got 'soon'"),
        ("models:\n  - fp32: ../../etc/passwd.onnx\n    int8: models/conv_qdq.onnx\n",
         ".int8gate.yml:2: models[0].fp32: ../../etc/passwd.onnx points outside the workspace"),
    ],
)
def test_bad_policy_is_one_line_exit_2_and_no_report(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, expected: str
) -> None:
    policy = write_policy(workspace, body)
    code, out, err = run(["check", "--policy", str(policy), "--workspace", str(workspace),
                          "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")], capsys)
    assert code == 2
    assert err.startswith(f"int8gate: error: {expected}") and err.count("\n") == 1
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_truncated_model_is_bad_input_naming_the_file(workspace: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    broken = workspace / "models" / "broken.onnx"
    broken.write_bytes((workspace / "models" / "conv_qdq.onnx").read_bytes()[:200])
    policy = write_policy(workspace, "models:\n  - {fp32: models/conv_fp32.onnx, int8: models/broken.onnx}\n")
    code, _, err = run(["check", "--policy", str(policy), "--workspace", str(workspace),
                        "--json", str(tmp_path / "r.json")], capsys)
    assert code == 2
    assert err.startswith("int8gate: error: ") and "broken.onnx" in err and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()


def test_inspect_json_names_the_format_and_a_fake_exits_1(zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["inspect", str(zoo.conv_qdq), "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["format"] == "qdq" and data["is_quantized"] is True
    assert data["compute_ops"]["quantized"] == data["compute_ops"]["total"] > 0
    code, out, _ = run(["inspect", str(zoo.conv_fake), "--json", "-"], capsys)
    assert json.loads(out)["format"] == "float" and json.loads(out)["is_quantized"] is False
    assert code == 1  # "[fail] not-quantized" is a failing verdict
    code, out, _ = run(["inspect", str(zoo.conv_fake), "--fail-on", "never"], capsys)
    assert code == 0 and "quantized: NO" in out


def test_inspect_several_models_gives_a_list_and_the_worst_exit_code(
    zoo: Zoo, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "census.json"
    code, out, _ = run(["inspect", str(zoo.conv_qdq), str(zoo.conv_fake), "--json", str(target)], capsys)
    assert code == 1
    assert [item["format"] for item in json.loads(target.read_text())] == ["qdq", "float"]
    assert out.count("quantized: yes") == 1 and out.count("quantized: NO") == 1  # the text still on stdout


def test_bench_json_rows(zoo: Zoo, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["bench", str(zoo.conv_fp32), str(zoo.conv_qdq), "--threads", "1",
                          "--budget", "0.6", "--input", "input=1x3x32x32", "--json", "--min-speedup", "0.1"], capsys)
    assert code == 0, err
    data = json.loads(out)
    (row,) = data["runs"]
    assert row["intra_op_threads"] == 1
    assert row["fp32"]["median_ms"] > 0 and row["int8"]["median_ms"] > 0
    assert row["speedup"]["ci_low"] <= row["speedup"]["estimate"] <= row["speedup"]["ci_high"]
    assert data["verdict"] == "pass" and data["fidelity"]["passed"] is True


def test_bench_fails_a_pair_slower_than_required_unless_told_never(zoo: Zoo,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", str(zoo.conv_fp32), str(zoo.conv_fake), "--threads", "1", "--budget", "0.4",
            "--input", "input=1x3x32x32", "--min-speedup", "50"]
    code, out, _ = run(argv, capsys)
    assert code == 1
    assert "verdict: fail" in out and "slower than required at 1 thread" in out
    code, _, _ = run([*argv, "--fail-on", "never"], capsys)
    assert code == 0


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bench", "a.onnx", "b.onnx", "--threads", "0"], "--threads: '0' is not a whole number from 1 to 1024, or 'auto'"),
        (["bench", "a.onnx", "b.onnx", "--threads", "²"], "--threads: '²' is not a whole number from 1 to 1024"),
        (["bench", "a.onnx", "b.onnx", "--threads", "99999999999999999999"], "--threads: '99999999999999999999' is not"),
        (["bench", "a.onnx", "b.onnx", "--budget", "-1"], "argument --budget: '-1' is not a number of seconds above 0"),
        (["bench", "a.onnx", "b.onnx", "--budget", "nan"], "argument --budget: 'nan' is not a number of seconds"),
        (["bench", "a.onnx", "b.onnx", "--budget", "inf"], "argument --budget: 'inf' is not a number of seconds"),
        (["bench", "a.onnx", "b.onnx", "--min-speedup", "nan"], "argument --min-speedup: 'nan' is not 'auto' or a speedup"),
        (["demo", "--budget", "nan"], "argument --budget: 'nan' is not a number of seconds"),
        (["check", "--policy", "nope.yml", "--json", "adir"], "adir: is a folder, not a file"),  # before the policy
        (["check", "--policy", "p" * 5000 + ".yml"], "the policy is too long a path (5,004 characters)"),
        (["inspect", "missing.onnx"], "missing.onnx"),
        (["inspect", "x.onnx", "--input", "input=1xfoo"], "dims must be whole numbers"),
        (["check", "--policy", "nope.yml"], "nope.yml: policy file not found"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.onnx").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    code, _, err = run(argv, capsys)
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_env_and_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["env", "--json"], capsys)
    assert code == 0 and json.loads(out)["cpus"]["usable"] >= 1
    code, out, _ = run(["schema"], capsys)
    assert code == 0 and json.loads(out)["title"].startswith("int8gate policy")


def test_a_model_onnx_runtime_refuses_fails_its_row_and_the_report_is_still_written(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    # Parses as ONNX, but its types do not check (float + int64), so ONNX Runtime refuses to load it.
    graph = helper.make_graph(
        [helper.make_node("Add", ["input", "k"], ["out"])], "bad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 32, 32])],
        [numpy_helper.from_array(np.ones((1,), dtype=np.int64), "k")],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              workspace / "models" / "refused.onnx")
    policy = write_policy(
        workspace,
        "models:\n"
        "  - {name: refused, fp32: models/conv_fp32.onnx, int8: models/refused.onnx}\n"
        "  - {name: real, fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\n"
        "require:\n  speedup: 0.5\n" + FAST_BENCH,
    )
    code, _, _ = run(["check", "--policy", str(policy), "--workspace", str(workspace),
                      "--json", str(tmp_path / "r.json")], capsys)
    assert code == 1
    report = json.loads((tmp_path / "r.json").read_text())
    refused, real = report["models"]
    assert refused["verdict"] == "fail"
    assert "ONNX Runtime cannot load it" in refused["error"]
    assert real["benchmark"]["runs"][0]["speedup"]["estimate"] > 0  # the other model was still measured


def test_a_model_over_the_policy_cap_is_refused_before_anything_runs(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = write_policy(
        workspace,
        "models:\n  - {fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\nlimits:\n  max_model_mb: 0.001\n",
    )
    code, _, err = run(["check", "--policy", str(policy), "--workspace", str(workspace),
                        "--json", str(tmp_path / "r.json")], capsys)
    assert code == 2
    assert "conv_fp32.onnx" in err and "over the" in err and "limit" in err and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()


def test_sample_inputs_from_an_npz_feed_the_fidelity_check(
    zoo: Zoo, workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    name, shape = zoo.conv_input.name, zoo.conv_input.shape
    samples = np.random.default_rng(5).standard_normal((4, *shape)).astype(np.float32)
    with (workspace / "samples.npz").open("wb") as stream:
        np.savez(stream, allow_pickle=False, **{name: samples})
    policy = write_policy(
        workspace,
        "models:\n  - {name: real, fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx, samples: samples.npz}\n"
        "require:\n  speedup: 0.5\n" + FAST_BENCH + "report:\n  profile: false\n",
    )
    code, _, err = run(["check", "--policy", str(policy), "--workspace", str(workspace),
                        "--json", str(tmp_path / "r.json")], capsys)
    assert code in (0, 1), err
    (model,) = json.loads((tmp_path / "r.json").read_text())["models"]
    assert model["fidelity"]["source"] == "samples"
    assert model["benchmark"]["inputs"][0]["source"] == "samples"
    assert model["profile"] is None  # report.profile: false


def test_a_single_npy_feeds_a_single_input_model(
    zoo: Zoo, workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    samples = np.random.default_rng(6).standard_normal((3, *zoo.conv_input.shape)).astype(np.float32)
    np.save(workspace / "samples.npy", samples, allow_pickle=False)
    policy = write_policy(
        workspace,
        "models:\n  - {name: real, fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx, samples: samples.npy}\n"
        "require:\n  speedup: 0.5\n" + FAST_BENCH + "report:\n  profile: false\n",
    )
    code, _, err = run(["check", "--policy", str(policy), "--workspace", str(workspace),
                        "--json", str(tmp_path / "r.json")], capsys)
    assert code in (0, 1), err
    (model,) = json.loads((tmp_path / "r.json").read_text())["models"]
    assert model["benchmark"]["inputs"][0] == {"name": "input", "shape": list(zoo.conv_input.shape),
                                               "dtype": "float32", "source": "samples"}
    assert model["fidelity"]["source"] == "samples"


def test_demo_runs_from_an_empty_folder_with_the_packaged_example_and_fits_one_screen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["demo", "--budget", "0.5"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("int8gate demo: FAIL") and "policy .int8gate.yml" in lines[0]
    assert len(lines) <= 40 and max(map(len, lines)) <= 100, out
    assert "<details>" not in out and "```" not in out
    assert "pair 2/2 convnet-fake" in err and "s left" in err
    assert list(tmp_path.iterdir()) == []  # the demo writes nothing unless asked


def test_dry_run_checks_policy_models_and_inputs_without_measuring(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import int8gate.commands.check as check

    def no_measuring(*args: object, **kwargs: object) -> None:
        raise AssertionError("a dry run must not run the gate")

    monkeypatch.setattr(check, "run_gate", no_measuring)
    policy = write_policy(workspace, "models:\n  - {name: real, fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\n")
    code, out, err = run(["check", "--dry-run", "--policy", str(policy), "--workspace", str(workspace)], capsys)
    assert code == 0, err
    assert out.startswith(".int8gate.yml: valid; 1 model pair") and "nothing was measured" in out
    code, out, _ = run(["check", "--dry-run", "--policy", str(policy), "--workspace", str(workspace),
                        "--json", "-"], capsys)
    (model,) = json.loads(out)["models"]
    assert model["name"] == "real" and model["inputs"][0]["name"] == "input"
    bad = write_policy(workspace, "models:\n  - fp32: models/conv_fp32.onnx\n    int8: models/conv_qdq.onnx\n"
                                  "    inputs: {nope: {shape: [1, 3]}}\n")
    code, _, err = run(["check", "--dry-run", "--policy", str(bad), "--workspace", str(workspace)], capsys)
    assert code == 2 and "the model has no input named 'nope'" in err


def test_the_pre_commit_hooks_run_real_commands(zoo: Zoo, workspace: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    import yaml
    from support.paths import REPO

    hooks = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"int8gate-check", "int8gate-inspect"}
    check, inspect = hooks["int8gate-check"], hooks["int8gate-inspect"]
    assert all(hook["language"] == "python" and hook["entry"].startswith("int8gate ") for hook in hooks.values())
    assert re.search(check["files"], "ci/.int8gate.yaml") and re.search(check["files"], "m/a.onnx")
    assert re.search(inspect["files"], "models/resnet_INT8.onnx") and not re.search(inspect["files"], "resnet.onnx")

    (workspace / ".git").mkdir(exist_ok=True)  # pre-commit runs hooks at the repository root
    write_policy(workspace, "models:\n  - {fp32: models/conv_fp32.onnx, int8: models/conv_qdq.onnx}\n")
    monkeypatch.chdir(workspace)
    code, out, err = run(check["entry"].split()[1:], capsys)  # pass_filenames: false
    assert code == 0 and "valid" in out, err
    code, out, _ = run([*inspect["entry"].split()[1:], str(zoo.conv_qdq), str(zoo.conv_fake)], capsys)
    assert code == 1 and "quantized: NO" in out  # the fake stops the commit
