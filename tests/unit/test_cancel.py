"""Cancellation: SIGTERM raises Cancelled inside the entry points (so children stop and folders go), and
the previous handler comes back afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from int8gate.cancel import EXIT_CANCELLED, Cancelled, cancel_on_sigterm


def test_sigterm_raises_cancelled_inside_and_the_old_handler_returns() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Cancelled), cancel_on_sigterm():
        os.kill(os.getpid(), signal.SIGTERM)  # Python runs the handler right after this call returns
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_cli_exits_143_with_one_line_and_cleans_its_temporary_folder(tmp_path: Path) -> None:
    # A stand-in command runs a child that sleeps; SIGTERM to the gate stops both and removes the
    # child's private folder (Python's default for SIGTERM would leave it behind).
    script = tmp_path / "gate.py"
    script.write_text(
        "import sys\n"
        "from int8gate import cli\n"
        "from int8gate.runtime.child import run_child\n"
        "def sleeper(args, env, out):\n"
        "    print('started', flush=True)\n"
        "    run_child((sys.executable, '-c', 'import time; time.sleep(60)'), '', env={}, timeout=120)\n"
        "    return 0\n"
        "cli._HANDLERS['env'] = sleeper\n"
        "sys.exit(cli.main(['env']))\n"
    )
    gate = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TMPDIR": str(tmp_path)})  # fmt: skip
    assert gate.stdout is not None and gate.stdout.readline() == "started\n"
    time.sleep(0.5)  # the child is running by now
    gate.send_signal(signal.SIGTERM)
    _, err = gate.communicate(timeout=30)
    assert gate.returncode == EXIT_CANCELLED == 143
    assert err == "int8gate: cancelled (SIGTERM); the running step was stopped and no report written\n"
    assert not list(tmp_path.glob("int8gate-child-*"))
