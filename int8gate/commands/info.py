"""``env`` and ``schema``: the runner's facts, and the policy's JSON Schema."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from int8gate.machine.probe import probe_runner
from int8gate.policy.load import policy_schema
from int8gate.report.jsonable import to_jsonable
from int8gate.report.terminal import render_runner_text
from int8gate.runtime.ortinfo import ort_info


def run_env(args: argparse.Namespace, out: TextIO) -> int:
    """``int8gate env``: what this runner is (``--json`` for the ``env`` contract)."""
    profile = probe_runner(ort_info())
    if args.json:
        out.write(json.dumps(to_jsonable(profile), indent=2) + "\n")
    else:
        out.write(render_runner_text(profile) + "\n")
    return 0


def run_schema(out: TextIO) -> int:
    """``int8gate schema``: the published JSON Schema of the policy."""
    out.write(json.dumps(policy_schema(), indent=2) + "\n")
    return 0
