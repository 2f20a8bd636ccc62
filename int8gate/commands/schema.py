"""``schema``: the policy's published JSON Schema (imports nothing heavy, so it starts fast)."""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from int8gate.commands.output import STDOUT, deliver
from int8gate.policy.load import policy_schema


def run_schema(args: argparse.Namespace, out: TextIO) -> int:
    """Print the JSON Schema of policy version 1 (or write it to ``--json FILE``)."""
    deliver(args.json or STDOUT, json.dumps(policy_schema(), indent=2) + "\n", out)
    return 0
