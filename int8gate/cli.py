"""The command line: parse arguments, run the command's composition (``commands``), map errors to exit codes.

Commands (their names and JSON fields are a contract scripts rely on):
    check    the gate: policy → verify → benchmark → explain → report → verdict
    inspect  the quantization census of one model
    bench    an ad-hoc FP32 vs INT8 comparison
    env      the runner's facts
    demo     ``check`` on the bundled example (no configuration, no network, no token)
    schema   print the policy's JSON Schema
    comment  post a saved report as the sticky PR comment (the fork-safe ``workflow_run`` step)
    merge    one comparison from several runners' reports (matrix legs)
Exit codes: 0 pass, 1 fail, 2 bad input or usage (``int8gate.errors``).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from int8gate import __version__
from int8gate.errors import EXIT_INTERNAL, Int8gateError, UsageError
from int8gate.judge.verdict import FailOn, Verdict
from int8gate.policy.spec import AUTO, BenchmarkSettings, CommentMode, OptLevel

INTERNAL_ERROR_HINT = "set INT8GATE_DEBUG=1 for the traceback, and please report it"


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (exit 2, one line) instead of exiting on its own."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = _Parser(prog="int8gate", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"int8gate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser("check", help="run the gate on a policy")
    check.add_argument("--policy", default=".int8gate.yml", help="policy file (default: .int8gate.yml)")
    _add_outputs(check)
    check.add_argument("--workspace", default=None, help="paths must stay inside this folder (default: .)")

    inspect = commands.add_parser("inspect", help="the quantization census of one model")
    inspect.add_argument("model")
    inspect.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    _add_inputs(inspect)
    inspect.add_argument("--optimization-level", choices=[level.value for level in OptLevel], default="all")

    bench = commands.add_parser("bench", help="an ad-hoc FP32 vs INT8 comparison")
    bench.add_argument("fp32")
    bench.add_argument("int8")
    _add_inputs(bench)
    bench.add_argument("--threads", default="1,auto", help="comma-separated thread settings (default: 1,auto)")
    bench.add_argument("--budget", type=float, default=10.0, help="seconds per thread setting (default: 10)")
    bench.add_argument("--min-speedup", default=AUTO, help="threshold for the call (default: auto)")
    bench.add_argument("--json", action="store_true", help="print JSON instead of a summary")

    env = commands.add_parser("env", help="the runner's facts")
    env.add_argument("--json", action="store_true", help="print JSON instead of a summary")

    demo = commands.add_parser("demo", help="run check on the bundled example")
    _add_outputs(demo)
    demo.add_argument("--budget", type=float, default=None, help="override the example's budget (seconds)")

    commands.add_parser("schema", help="print the policy's JSON Schema")

    merge = commands.add_parser("merge", help="one comparison from several runners' JSON reports")
    merge.add_argument("reports", nargs="+", metavar="REPORT")
    merge.add_argument("--markdown", default=None, metavar="FILE", help="write the comparison (else stdout)")
    merge.add_argument("--scope", default=None, help="put the sticky-comment marker for this scope on top")
    merge.add_argument(
        "--fail-on", choices=[mode.value for mode in FailOn], default=FailOn.FAIL.value,
        help="which overall verdict exits 1 (default: fail)",
    )

    comment = commands.add_parser("comment", help="post a saved comment as the sticky PR comment")
    source = comment.add_mutually_exclusive_group(required=True)
    source.add_argument("--markdown", default=None, metavar="FILE", help="a rendered report or comparison")
    source.add_argument("--report", default=None, metavar="FILE", help="a fork run's int8gate-comment.json")
    comment.add_argument("--scope", default=None, help="sticky-comment scope (default: job/policy)")
    comment.add_argument("--mode", choices=[m.value for m in CommentMode], default=None, help="default: update")
    comment.add_argument("--verdict", choices=[v.value for v in Verdict], default=Verdict.INCONCLUSIVE.value,
                         help="the verdict behind --markdown (for --mode on-failure)")
    comment.add_argument("--fork-artifact-folder", default=None, metavar="DIR",
                         help="where a fork PR's comment is left for the workflow_run poster")
    return parser


def _add_outputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", dest="json_out", default=None, metavar="FILE", help="write the JSON report")
    parser.add_argument("--markdown", default=None, metavar="FILE", help="write the Markdown report")
    parser.add_argument(
        "--fail-on",
        choices=[mode.value for mode in FailOn],
        default=FailOn.FAIL.value,
        help="which overall verdict exits 1 (default: fail)",
    )


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=DIMS[:DTYPE]",
        help="fix an input's shape, e.g. input=1x3x224x224 or ids=1x128:int64 (repeatable)",
    )


def parse_threads(text: str) -> tuple[int | str, ...]:
    """``"1,2,auto"`` → ``(1, 2, "auto")``."""
    out: list[int | str] = []
    for raw in text.split(","):
        item = raw.strip()
        if item == AUTO:
            out.append(AUTO)
        elif item.isdigit() and int(item) >= 1:
            out.append(int(item))
        else:
            raise UsageError(f"--threads: {item!r} is not a positive whole number or 'auto'")
    return tuple(dict.fromkeys(out))


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run a command; return its exit code. The only place errors become exit codes."""
    env = os.environ if environ is None else environ
    try:
        args = build_parser().parse_args(argv)
        handler = _HANDLERS[args.command]
        return handler(args, env, sys.stdout)
    except Int8gateError as exc:
        print(f"int8gate: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("int8gate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, traceback only on request
        if env.get("INT8GATE_DEBUG"):
            traceback.print_exc()
        print(f"int8gate: internal error: {type(exc).__name__}: {exc} ({INTERNAL_ERROR_HINT})", file=sys.stderr)
        return EXIT_INTERNAL


def _cmd_schema(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.schema import run_schema

    return run_schema(out)


def _cmd_env(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.env import run_env

    return run_env(args, out)


def _cmd_inspect(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.models import run_inspect

    return run_inspect(args, out)


def _cmd_bench(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.models import run_bench

    settings = BenchmarkSettings(threads=parse_threads(args.threads), budget_seconds=args.budget)
    return run_bench(args, settings, env, out)


def _cmd_check(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.check import run_check

    workspace = Path(args.workspace) if args.workspace else Path.cwd()
    return run_check(Path(args.policy), workspace, args, env, out)


def _cmd_demo(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.check import run_demo

    return run_demo(args, env, out)


def _cmd_merge(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.fleet import run_merge

    return run_merge(args, out)


def _cmd_comment(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.comment import run_comment

    return run_comment(args, env, out, sys.stderr)


_HANDLERS: dict[str, Callable[[argparse.Namespace, Mapping[str, str], TextIO], int]] = {
    "schema": _cmd_schema,
    "env": _cmd_env,
    "inspect": _cmd_inspect,
    "bench": _cmd_bench,
    "check": _cmd_check,
    "demo": _cmd_demo,
    "merge": _cmd_merge,
    "comment": _cmd_comment,
}
