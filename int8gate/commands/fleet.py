"""``merge``: several runners' JSON reports read back into one comparison, as Markdown."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from int8gate.commands.output import STDOUT, Outputs, deliver, json_text
from int8gate.errors import UsageError
from int8gate.judge.verdict import FailOn, exit_code
from int8gate.report.fleet import merge, parse_runner, render_fleet
from int8gate.report.markdown import RenderOptions
from int8gate.report.syntax import marker
from int8gate.workspace import JsonFileError, read_json


def run_merge(args: argparse.Namespace, out: TextIO) -> int:
    """``int8gate merge REPORT...``: one comparison; the exit code follows the worst verdict."""
    outputs = Outputs.from_args(args)
    runners = []
    for name in args.reports:
        try:
            data = read_json(Path(name))
        except JsonFileError as exc:
            raise UsageError(f"cannot read a JSON report: {exc}") from None
        runners.append(parse_runner(data, name))
    fleet = merge(runners)
    text = render_fleet(fleet, RenderOptions(marker=marker(args.scope) if args.scope else None))
    deliver(outputs.json, json_text(fleet), out)
    # The Markdown is the human text here: stdout unless a file was named or stdout carries the JSON.
    deliver(outputs.markdown or (STDOUT if outputs.text_to_stdout else None), text, out)
    return exit_code(fleet.verdict, FailOn(args.fail_on))
