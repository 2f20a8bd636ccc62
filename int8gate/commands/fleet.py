"""``merge``: several runners' JSON reports read back into one comparison, as Markdown."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from int8gate.errors import UsageError
from int8gate.judge.verdict import FailOn, exit_code
from int8gate.report.fleet import merge, parse_runner, render_fleet
from int8gate.report.markdown import RenderOptions
from int8gate.report.syntax import marker
from int8gate.workspace import atomic_write_text


def run_merge(args: argparse.Namespace, out: TextIO) -> int:
    """``int8gate merge REPORT...``: one comparison; the exit code follows the worst verdict."""
    runners = []
    for name in args.reports:
        path = Path(name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{name}: cannot read a JSON report ({exc})") from None
        runners.append(parse_runner(data, name))
    fleet = merge(runners)
    text = render_fleet(fleet, RenderOptions(marker=marker(args.scope) if args.scope else None))
    if args.markdown:
        atomic_write_text(Path(args.markdown), text)
    else:
        out.write(text)
    return exit_code(fleet.verdict, FailOn(args.fail_on))
