"""The command line: parse arguments, run the command's composition (``commands``), map errors to exit codes.

Every command follows one convention (``--help`` says it to users, ``HELP_EPILOG`` below):
``--json FILE`` writes the command's JSON document, ``--json -`` (or a bare ``--json``) prints it
on stdout and nothing else; a command with a verdict takes ``--fail-on``; exit codes are 0 pass,
1 fail, 2 bad input or usage, 3 internal error (``int8gate.errors``).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import shutil
import sys
import textwrap
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from int8gate import __version__
from int8gate.cancel import EXIT_CANCELLED, Cancelled, cancel_on_sigterm
from int8gate.errors import EXIT_INTERNAL, Int8gateError, UsageError, log_safe
from int8gate.judge.verdict import FailOn, Verdict
from int8gate.policy.spec import AUTO, BenchmarkSettings, CommentMode, OptLevel

INTERNAL_ERROR_HINT = "set INT8GATE_DEBUG=1 for the traceback, and please report it"
MAX_THREADS = 1024
MAX_BUDGET_SECONDS = 3600.0
MAX_SPEEDUP = 100.0


def _seconds(text: str) -> float:
    """A budget in seconds: a finite number above 0, at most an hour (what the policy allows)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_BUDGET_SECONDS):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0 and at most 3600")
    return value


def _speedup(text: str) -> str:
    """``auto`` or a finite speedup above 0 and at most 100 (kept as text, like ``auto``)."""
    if text == AUTO:
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= MAX_SPEEDUP):
        raise argparse.ArgumentTypeError(f"{text!r} is not 'auto' or a speedup above 0 and at most 100")
    return text


DESCRIPTION = (
    "int8gate checks that a committed INT8 ONNX model is really quantized, measures it against its FP32 "
    "source on this machine with ONNX Runtime (a 95% confidence interval on the speedup, and an output "
    "check), explains the result from the runner's CPU and the model's graph, and gives a verdict that a "
    "CI job can require. `check` runs the gate on a policy file (.int8gate.yml); the other commands look "
    "at one model, one pair, or this machine."
)

EXIT_CODES = """\
exit codes:
  0  pass (or nothing to judge)
  1  fail: a model failed the gate; --fail-on says which verdicts count
  2  bad input: a wrong argument, policy, model file or report path (one line on stderr says which)
  3  internal error: a bug in int8gate (set INT8GATE_DEBUG=1 for the traceback, and please report it)"""

HELP_EPILOG = f"""\
machine output: --json FILE writes the command's JSON document; --json - (or a bare --json) prints it
on stdout and nothing else. Progress and errors always go to stderr.

{EXIT_CODES}

examples:
  int8gate check                              the gate on .int8gate.yml (found upward to the repo root)
  int8gate inspect model_int8.onnx --json -   one model's quantization census as JSON on stdout
"""


def _epilog(*examples: tuple[str, str]) -> str:
    width = max(len(command) for command, _ in examples)
    lines = "\n".join(f"  {command:<{width}}  {what}" for command, what in examples)
    return f"{EXIT_CODES}\n\nexamples:\n{lines}\n"


class _Parser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (exit 2, one line) instead of exiting on its own."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)  # the epilog's columns stay
        if isinstance(kwargs.get("description"), str):  # ...and the paragraph is filled to the terminal
            width = max(40, min(100, shutil.get_terminal_size().columns) - 2)
            kwargs["description"] = textwrap.fill(str(kwargs["description"]), width)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = _Parser(prog="int8gate", description=DESCRIPTION, epilog=HELP_EPILOG)
    parser.add_argument("--version", action="version", version=f"int8gate {__version__}",
                        help="print int8gate's version and exit")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND",
                                     title="commands")  # fmt: skip

    check = commands.add_parser(
        "check", help="run the gate on a policy (the CI step)",
        description="Run the gate: verify each INT8 model in the policy is really quantized, benchmark it "
        "against its FP32 source, check its outputs, explain the result and give a verdict. A short report "
        "goes to the terminal (to stderr when --json - or --markdown - has stdout); --markdown and --json write "
        "the full one, and in GitHub Actions the Markdown is also added to the job summary. With --base, "
        "every pair is compared with that commit: a changed pair is measured beside its base version, an "
        "unchanged one is not benchmarked again.",
        epilog=_epilog(("int8gate check --markdown report.md", "the gate, with the full report as Markdown"),
                       ("int8gate check --dry-run", "check the policy and the model files, measure nothing"),
                       ("int8gate check --base main --cache .int8gate-cache", "against main, with a results cache")),
    )  # fmt: skip
    check.add_argument("--policy", default=None, metavar="FILE",
                       help="the policy file (default: .int8gate.yml or .int8gate.yaml in this folder or a parent, "
                            "up to the repository root)")  # fmt: skip
    check.add_argument("--dry-run", action="store_true",
                       help="check the policy, the model and sample files and every input's shape, then stop: "
                            "nothing is run or measured (quick enough for a pre-commit hook)")  # fmt: skip
    check.add_argument("--workspace", default=None, metavar="DIR",
                       help="paths in the policy must stay inside this folder (default: the repository root, "
                            "else the current folder)")  # fmt: skip
    check.add_argument("--base", default=None, metavar="REF",
                       help="compare every pair with this commit (e.g. main): unchanged pairs are not benchmarked")
    check.add_argument("--cache", default=None, metavar="DIR",
                       help="results cache: earlier measurements of the same files on this kind of runner")
    _add_outputs(check, "the report")
    _add_fail_on(check, FailOn.FAIL)

    demo = commands.add_parser(
        "demo", help="run check on the bundled example (no set-up, no network)",
        description="Run `check` on the example that ships with int8gate: a small ResNet-like model, its real "
        "INT8 version, and a fake INT8 copy that is the FP32 graph under an INT8 name. The example holds a "
        "fake on purpose, so its overall verdict is fail; the demo exits 0 when the gate gives the known "
        "answer (the fake caught, the real model recognised as quantized).",
        epilog=_epilog(("int8gate demo", "the example, about 30 s"),
                       ("int8gate demo --budget 2 --markdown demo.md", "quicker, with the full report as Markdown")),
    )  # fmt: skip
    demo.add_argument("--budget", type=_seconds, default=None, metavar="S",
                      help="seconds per model and thread setting (default: the example's 6)")
    _add_outputs(demo, "the report")
    _add_fail_on(demo, FailOn.NEVER, note="; the example fails on purpose")

    inspect = commands.add_parser(
        "inspect", help="the quantization census of one or more models",
        description="Read a model and say whether it is really quantized: its format (QDQ, QOperator, dynamic), "
        "the share of compute ops and MACs in integer, weight bytes by type, and what ONNX Runtime keeps after "
        "graph optimization. A model that is not quantized, or has a failing finding, fails (exit 1).",
        epilog=_epilog(("int8gate inspect model_int8.onnx", "a short census"),
                       ("int8gate inspect a_int8.onnx b_int8.onnx --json -", "a JSON list, one census per model")),
    )  # fmt: skip
    inspect.add_argument("models", nargs="+", metavar="MODEL", help="an .onnx file (several: one census each)")
    _add_inputs(inspect)
    inspect.add_argument("--optimization-level", choices=[level.value for level in OptLevel], default="all",
                         help="ONNX Runtime's graph optimization level for the after-optimization counts "
                              "(default: all)")  # fmt: skip
    _add_json(inspect, "the census (one object; a list for several models)")
    _add_fail_on(inspect, FailOn.FAIL)

    bench = commands.add_parser(
        "bench", help="an ad-hoc FP32 vs INT8 comparison, without a policy",
        description="Benchmark an FP32 model against its INT8 version at each thread setting (interleaved, in "
        "worker processes), with a 95% confidence interval on the speedup, then compare their outputs. Fails "
        "when INT8 is measurably slower than --min-speedup, a row crashes, or the outputs drift.",
        epilog=_epilog(("int8gate bench m.onnx m_int8.onnx", "1 thread and all usable CPUs, 10 s each"),
                       ("int8gate bench m.onnx m_int8.onnx --threads 1 --budget 3 --json -", "one quick row as JSON")),
    )  # fmt: skip
    bench.add_argument("fp32", metavar="FP32", help="the FP32 .onnx model (the reference)")
    bench.add_argument("int8", metavar="INT8", help="its INT8 .onnx version")
    _add_inputs(bench)
    bench.add_argument("--threads", default="1,auto", metavar="LIST",
                       help="comma-separated intra-op thread settings; auto = usable CPUs (default: 1,auto)")
    bench.add_argument("--budget", type=_seconds, default=10.0, metavar="S",
                       help="seconds per thread setting (default: 10)")
    bench.add_argument("--min-speedup", type=_speedup, default=AUTO, metavar="X",
                       help="the speedup INT8 must reach; auto = the lower edge of this runner's expected range "
                            "(default: auto)")  # fmt: skip
    _add_json(bench, "the measurements")
    _add_fail_on(bench, FailOn.FAIL)

    env = commands.add_parser(
        "env", help="this runner's facts: CPU features, usable CPUs, ONNX Runtime",
        description="Print what the gate knows about this machine: the CPU and its INT8 features (VNNI, AMX, "
        "dot-product), the CPUs this process may use (affinity and cgroup quota), and ONNX Runtime.",
        epilog=_epilog(("int8gate env", "one line"), ("int8gate env --json runner.json", "the facts as JSON")),
    )  # fmt: skip
    _add_json(env, "the facts")

    schema = commands.add_parser(
        "schema", help="print the policy's JSON Schema",
        description="Print the JSON Schema of the policy file (.int8gate.yml), for editors and validators.",
        epilog=_epilog(("int8gate schema", "on stdout"), ("int8gate schema --json policy.schema.json", "to a file")),
    )  # fmt: skip
    _add_json(schema, "the schema (it is printed on stdout anyway)")

    merge = commands.add_parser(
        "merge", help="one comparison from several runners' JSON reports",
        description="Merge the JSON reports of several runners (matrix legs) into one comparison: one row per "
        "model, one column per runner. The exit code follows the worst verdict.",
        epilog=_epilog(("int8gate merge reports/*.json --markdown merged.md", "the comparison as Markdown"),
                       ("int8gate merge a.json b.json --json - --fail-on never", "as JSON, never failing")),
    )  # fmt: skip
    merge.add_argument("reports", nargs="+", metavar="REPORT", help="a JSON report written by check --json")
    merge.add_argument("--markdown", default=None, metavar="FILE",
                       help="write the comparison as Markdown to FILE ('-': stdout; the default)")
    _add_json(merge, "the comparison")
    merge.add_argument("--scope", default=None, metavar="SCOPE",
                       help="put the sticky-comment marker for this scope on top")
    _add_fail_on(merge, FailOn.FAIL)

    comment = commands.add_parser(
        "comment", help="post reports or a saved comment as the sticky PR comment",
        description="Post JSON reports (one is shown as the report, several as the comparison of runners), a "
        "comment written earlier (same-repository pull requests only), or a fork run's int8gate-comment.json "
        "(the workflow_run poster, which renders it itself) as the pull request's sticky comment, using "
        "GITHUB_TOKEN and the runner's GITHUB_* variables. On a fork's read-only run the reports are left for "
        "the poster. Problems posting are logged; the exit code stays 0.",
        epilog=_epilog(("int8gate comment --report reports/*.json --scope fleet", "post the runners' comparison"),
                       ("int8gate comment --artifact int8gate-fork/int8gate-comment.json", "a fork PR's comment")),
    )  # fmt: skip
    source = comment.add_mutually_exclusive_group(required=True)
    source.add_argument("--report", nargs="+", default=None, metavar="FILE",
                        help="JSON reports: one is shown as the report, several as the comparison of runners")
    source.add_argument("--markdown", default=None, metavar="FILE",
                        help="a rendered comment (same-repository PRs only: a fork's run can leave only reports)")
    source.add_argument("--artifact", default=None, metavar="FILE",
                        help="the workflow_run poster: a fork run's int8gate-comment.json")
    comment.add_argument("--scope", default=None, metavar="SCOPE", help="sticky-comment scope (default: job/policy)")
    comment.add_argument("--mode", choices=[m.value for m in CommentMode], default=None,
                         help="update one comment, add a new one, post only on failure, or not at all "
                              "(default: update)")  # fmt: skip
    comment.add_argument("--verdict", choices=[v.value for v in Verdict], default=Verdict.INCONCLUSIVE.value,
                         help="the verdict behind --markdown (for --mode on-failure)")
    comment.add_argument("--fork-artifact-folder", default=None, metavar="DIR",
                         help="where a fork PR's comment is left for the workflow_run poster")
    return parser


def _add_json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                        help=f"write {what} as JSON to FILE; '-' or no FILE: print it on stdout, and nothing else")


def _add_outputs(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--markdown", default=None, metavar="FILE",
                        help=f"write {what} as GitHub Markdown to FILE ('-': stdout, and nothing else)")
    _add_json(parser, what)


def _add_fail_on(parser: argparse.ArgumentParser, default: FailOn, note: str = "") -> None:
    parser.add_argument(
        "--fail-on", choices=[mode.value for mode in FailOn], default=default.value,
        help=f"which overall verdict exits 1: fail, inconclusive (fail or inconclusive) or never "
             f"(default: {default.value}{note})",
    )  # fmt: skip


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
        elif item.isascii() and item.isdigit() and 1 <= int(item) <= MAX_THREADS:  # '²'.isdigit() is True
            out.append(int(item))
        else:
            raise UsageError(f"--threads: {item[:40]!r} is not a whole number from 1 to {MAX_THREADS}, or 'auto'")
    return tuple(dict.fromkeys(out))


def _tolerant(stream: TextIO) -> None:
    """Characters the stream's encoding lacks (✔ × on a Windows code page) print as ``?``, not a crash."""
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run a command; return its exit code. The only place errors become exit codes."""
    env = os.environ if environ is None else environ
    _tolerant(sys.stdout)
    _tolerant(sys.stderr)
    try:
        with cancel_on_sigterm():
            args = build_parser().parse_args(argv)
            handler = _HANDLERS[args.command]
            return handler(args, env, sys.stdout)
    except Cancelled:
        print("int8gate: cancelled (SIGTERM); the running step was stopped and no report written", file=sys.stderr)
        return EXIT_CANCELLED
    except Int8gateError as exc:
        print(f"int8gate: error: {log_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("int8gate: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, traceback only on request
        if env.get("INT8GATE_DEBUG"):
            traceback.print_exc()
        print(f"int8gate: internal error: {type(exc).__name__}: {log_safe(str(exc))} ({INTERNAL_ERROR_HINT})",
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERNAL


def _cmd_schema(args: argparse.Namespace, env: Mapping[str, str], out: TextIO) -> int:
    from int8gate.commands.schema import run_schema

    return run_schema(args, out)


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
    from int8gate.commands.policyfile import default_workspace, find_policy

    here = Path.cwd()
    policy = Path(args.policy) if args.policy else find_policy(here)
    workspace = Path(args.workspace) if args.workspace else default_workspace(here)
    for name in ("json", "markdown", "cache"):  # typed paths mean this folder, as --policy does, not the workspace
        value = getattr(args, name, None)
        if value and value != "-" and not Path(value).is_absolute():
            setattr(args, name, str(here / value))
    return run_check(policy, workspace, args, env, out)


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
