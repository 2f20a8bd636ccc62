"""Where a command's documents go: one convention for ``--json`` and ``--markdown`` on every command.

``--json FILE`` writes the JSON document (atomically); ``--json -`` prints it on stdout and nothing
else, so ``int8gate inspect M --json - | jq`` and ``int8gate check --json - > r.json`` work; the
human text is then left out (progress and errors are on stderr anyway). ``--markdown`` is the same
for the Markdown report. Only one document can have stdout.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from int8gate.errors import UsageError
from int8gate.report.jsonable import to_jsonable
from int8gate.workspace import atomic_write_text

STDOUT = "-"


@dataclass(frozen=True)
class Outputs:
    """The documents a command was asked for: a file name, ``-`` for stdout, or ``None``."""

    json: str | None = None
    markdown: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Outputs:
        """Read ``--json`` and ``--markdown`` (when the command has them); both on stdout is a usage error."""
        wanted = cls(getattr(args, "json", None), getattr(args, "markdown", None))
        if wanted.json == STDOUT and wanted.markdown == STDOUT:
            raise UsageError("--json - and --markdown -: only one document can go to stdout; write one to a file")
        for flag, value in (("--json", wanted.json), ("--markdown", wanted.markdown)):
            if value == "":
                raise UsageError(f"{flag}: empty file name (use - for stdout)")
        return wanted

    @property
    def text_to_stdout(self) -> bool:
        """True when no document claimed stdout, so the human text may go there."""
        return STDOUT not in (self.json, self.markdown)


def use_color(stream: TextIO, env: Mapping[str, str]) -> bool:
    """Colour only on a terminal, never when ``NO_COLOR`` is set (https://no-color.org) or ``TERM=dumb``."""
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def json_text(document: Any) -> str:
    """A dataclass tree as the indented JSON every command writes."""
    return json.dumps(to_jsonable(document), indent=2) + "\n"


def deliver(
    target: str | None,
    text: str,
    out: TextIO,
    place: Callable[[str], Path] = Path,
    *,
    write: Callable[[Path, str], None] = atomic_write_text,
) -> Path | None:
    """Send ``text`` to ``target``: stdout for ``-``, else the file ``place(target)`` written by ``write``
    (atomically; ``Workspace.write_text`` also refuses links on the way); the file, if one was written."""
    if target is None:
        return None
    if target == STDOUT:
        out.write(text)
        out.flush()
        return None
    path = place(target)
    write(path, text)
    return path
