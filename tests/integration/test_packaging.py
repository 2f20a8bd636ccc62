"""The package as pip installs it: the wheel holds the demo and the licence, its metadata is complete, and every
third-party import is a declared dependency whose lower bound the "lowest" CI job installs."""

from __future__ import annotations

import ast
import email
import re
import subprocess
import sys
import zipfile
from importlib import metadata

import pytest
from support.paths import REPO

LOWEST = REPO / ".ci" / "lowest-constraints.txt"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out),
         str(REPO)], capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("int8gate-*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_carries_the_demo_the_schema_and_the_licence(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    demo = {"int8gate/demo/.int8gate.yml", *(f"int8gate/demo/models/convnet_{k}.onnx" for k in ("fp32", "int8", "fake_int8"))}
    assert demo <= names, sorted(demo - names)
    assert {"int8gate/policy/policy.schema.json", "int8gate/py.typed"} <= names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any(name.startswith(("tests/", "examples/", "benchmarks/")) for name in names)


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = (n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(wheel.read(name))


def _all(meta: email.message.Message, field: str) -> list[str]:
    return [str(value) for value in meta.get_all(field) or []]


def test_the_metadata_has_an_spdx_licence_urls_and_classifiers(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    assert meta["License-Expression"] == "Apache-2.0" and meta["License-File"] == "LICENSE"
    assert {url.split(",")[0] for url in _all(meta, "Project-URL")} >= {"Homepage", "Issues", "Source"}
    classifiers = set(_all(meta, "Classifier"))
    assert {f"Programming Language :: Python :: 3.{minor}" for minor in range(10, 14)} <= classifiers
    assert {"Operating System :: MacOS", "Operating System :: Microsoft :: Windows"} <= classifiers
    assert meta["Requires-Python"] == ">=3.10"


def _declared(wheel: zipfile.ZipFile) -> dict[str, str]:
    """Declared dependency name (normalised) → its lower bound, as the built wheel says."""
    out = {}
    for requirement in _all(_metadata(wheel), "Requires-Dist"):
        if "extra ==" in requirement:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", requirement.strip())
        assert match, f"{requirement}: give every dependency a lower bound (name>=version)"
        out[match[1].lower().replace("_", "-")] = match[2]
    return out


def test_every_third_party_import_is_a_declared_dependency(wheel: zipfile.ZipFile) -> None:
    imported: set[str] = set()
    for path in (REPO / "int8gate").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    # Namespace packages are not always mapped back to their distribution (google.protobuf on older pips).
    owners = {"google": ["protobuf"], **metadata.packages_distributions()}
    typing_only = {"_typeshed"}  # imported under TYPE_CHECKING; typeshed's, never at run time
    third_party = {n for n in imported if n not in sys.stdlib_module_names and n not in {"int8gate", *typing_only}}
    distributions = {dist.lower() for name in third_party for dist in owners.get(name, [name])}
    assert distributions - set(_declared(wheel)) == set()


def test_the_lowest_ci_job_installs_exactly_the_lower_bounds(wheel: zipfile.ZipFile) -> None:
    pinned = {}
    for line in LOWEST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[name.lower()] = version
    assert pinned == _declared(wheel)
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    assert "-c .ci/lowest-constraints.txt" in workflow


def test_the_ci_matrix_tests_every_python_the_package_claims(wheel: zipfile.ZipFile) -> None:
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    claimed = {c.rsplit(" ", 1)[1] for c in _all(_metadata(wheel), "Classifier")
               if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}  # fmt: skip
    tested = set(re.findall(r'"(3\.\d+)"', workflow))
    assert claimed <= tested, f"claimed but not tested in ci.yml: {sorted(claimed - tested)}"
    for runner in ("macos-latest", "windows-latest"):
        assert runner in workflow


def test_the_readme_has_two_set_up_commands_and_says_what_runs_where() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = readme[readme.index("## Set-up on a fresh machine"):readme.index("## Use it in a workflow")]
    commands = re.findall(r"```sh\n(.*?)\n```", setup, flags=re.S)
    assert commands == ["python3 -m pip install . && python3 -m int8gate demo",
                        "python3 -m pip install -e '.[dev]' && python3 -m pytest"]  # fmt: skip
    assert (REPO / ".ci" / "run").read_text(encoding="utf-8").rstrip().endswith(commands[1])
    where = readme[readme.index("## What runs where"):]
    assert all(system in where for system in ("Linux", "macOS", "Windows", "3.10"))
