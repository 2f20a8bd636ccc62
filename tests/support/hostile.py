"""A hostile checkout: Python files a pull request could add to shadow the modules int8gate imports.

Each file, if Python ever imports it, leaves ``PWNED-<name>`` in the workspace root and exits 99, so
a test sees both that it ran and, through the exit code, what running it does to a step.
"""

from __future__ import annotations

from pathlib import Path

# Module files a pull request could add: a third-party import, a standard-library module, a
# site hook, and a whole int8gate package (including the worker a child would start by name).
HOSTILE_FILES = (
    "requests.py",
    "token.py",
    "numpy.py",
    "yaml.py",
    "sitecustomize.py",
    "int8gate/__init__.py",
    "int8gate/action.py",
    "int8gate/runtime/__init__.py",
    "int8gate/runtime/worker.py",
)

_BODY = """\
import os as _os
_root = _os.path.abspath(__file__)
for _ in range({depth}):
    _root = _os.path.dirname(_root)
open(_os.path.join(_root, "PWNED-{name}"), "w").close()
raise SystemExit(99)
"""


def plant(workspace: Path) -> None:
    """Write every hostile file into ``workspace``."""
    for relative in HOSTILE_FILES:
        path = workspace / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        name = relative.replace("/", ".").removesuffix(".py")
        path.write_text(_BODY.format(depth=relative.count("/") + 1, name=name), encoding="utf-8")


def ran(workspace: Path) -> list[str]:
    """The hostile files that were imported (their markers), sorted."""
    return sorted(path.name.removeprefix("PWNED-") for path in workspace.glob("PWNED-*"))
