"""``env``: the runner's facts (CPU features, usable CPUs, ONNX Runtime), as text or the ``env`` JSON."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from int8gate.machine.probe import probe_runner
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
