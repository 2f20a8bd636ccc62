"""The results cache: earlier measurements of the same content, on the same kind of runner, kept as files.

One JSON file per key in a folder the Action keeps between runs (``actions/cache`` or an artifact;
see the README). The key is a digest of everything a measurement depends on: the pair's file
digests, its policy settings, the thread counts it resolved to, the runner class, the ONNX Runtime
version and int8gate's version. So a hit is a result for the same bytes measured the same way on a
comparable machine, and anything else is a miss. A file that cannot be read, is too large, or has
another shape is a miss too, never an error: the cache only ever saves time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from int8gate.baseline.changes import PairDigests
from int8gate.report.jsonable import ReportFormatError, from_jsonable, to_jsonable
from int8gate.report.vsbase import CachedResult
from int8gate.workspace import atomic_write_text, hand_back

CACHE_FORMAT = 1
MAX_ENTRY_BYTES = 4 << 20
MAX_ENTRIES = 500
"""The oldest entries beyond this many are removed when one is added."""


def result_key(
    digests: PairDigests,
    *,
    settings: Any,
    threads: tuple[int, ...],
    runner_class: str,
    onnxruntime: str,
    tool_version: str,
) -> str:
    """The cache key of one pair's measurement (``settings``: ``changes.pair_settings``, any dataclass tree)."""
    facts = {
        "format": CACHE_FORMAT,
        "digests": to_jsonable(digests),
        "settings": to_jsonable(settings),
        "threads": list(threads),
        "runner_class": runner_class,
        "onnxruntime": onnxruntime,
        "int8gate": tool_version,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ResultCache:
    """Cached results in ``folder``, one ``KEY.json`` each."""

    folder: Path

    def path(self, key: str) -> Path:
        """Where the entry for ``key`` lives."""
        return self.folder / f"{key}.json"

    def get(self, key: str) -> CachedResult | None:
        """The result stored under ``key``, or None (absent, unreadable, too large, or not a result)."""
        path = self.path(key)
        try:
            if not path.is_file() or path.stat().st_size > MAX_ENTRY_BYTES:
                return None
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or raw.get("format") != CACHE_FORMAT:
            return None
        try:
            result = from_jsonable(CachedResult, raw.get("result"))
        except (ReportFormatError, TypeError, ValueError):
            return None
        return result if isinstance(result, CachedResult) and result.key == key else None

    def put(self, result: CachedResult) -> None:
        """Store ``result`` under its key (atomically), then drop the oldest entries beyond ``MAX_ENTRIES``."""
        text = json.dumps({"format": CACHE_FORMAT, "result": to_jsonable(result)}, indent=1) + "\n"
        atomic_write_text(self.path(result.key), text)
        entries = sorted(self.folder.glob("*.json"), key=_age_key)
        for old in entries[: max(len(entries) - MAX_ENTRIES, 0)]:
            old.unlink(missing_ok=True)
        hand_back(self.folder, like=self.folder.parent)  # the runner's uid keeps it, not the container's root


def _age_key(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
