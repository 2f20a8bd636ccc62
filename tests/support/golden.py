"""Golden files: rendered text compared with a reviewed copy in tests/golden.

Regenerate with ``UPDATE_GOLDEN=1 python3 -m pytest tests/unit`` and review the diff; a golden file
that changes without a reason is a behaviour change.
"""

from __future__ import annotations

import os

from support.paths import GOLDEN

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """Assert ``text`` equals ``tests/golden/NAME`` (or write it there when ``UPDATE_GOLDEN=1``)."""
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 and review the diff"
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; rerun with UPDATE_GOLDEN=1 and review the diff"
