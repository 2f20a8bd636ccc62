"""``env``: the runner's facts (CPU features, usable CPUs, ONNX Runtime), as text or the ``env`` JSON."""

from __future__ import annotations

import argparse
from typing import TextIO

from int8gate.commands.output import Outputs, deliver, json_text
from int8gate.machine.probe import probe_runner
from int8gate.report.terminal import render_runner_text
from int8gate.runtime.ortinfo import ort_info


def run_env(args: argparse.Namespace, out: TextIO) -> int:
    """``int8gate env``: what this runner is (``--json`` for the ``env`` contract)."""
    outputs = Outputs.from_args(args)
    profile = probe_runner(ort_info())
    deliver(outputs.json, json_text(profile), out)
    if outputs.text_to_stdout:
        out.write(render_runner_text(profile) + "\n")
    return 0
