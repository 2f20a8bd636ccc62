"""``schema``: the policy's published JSON Schema (imports nothing heavy, so it starts fast)."""

from __future__ import annotations

import json
from typing import TextIO

from int8gate.policy.load import policy_schema


def run_schema(out: TextIO) -> int:
    """Print the JSON Schema of policy version 1."""
    out.write(json.dumps(policy_schema(), indent=2) + "\n")
    return 0
