"""Cancellation: SIGTERM (a cancelled CI job, ``docker stop``) unwinds the gate like Ctrl-C does.

Python's default for SIGTERM ends the process on the spot: temporary folders stay behind, and in
the Action's container the gate is PID 1, for which the kernel ignores SIGTERM altogether (``docker
stop`` then waits 10 s and kills). Under ``cancel_on_sigterm`` the signal raises ``Cancelled``
instead: ``subprocess.run`` stops the running child as the exception passes (and every child dies
with the gate anyway, see ``runtime.child``), ``with`` blocks clean up, and the entry point exits
``EXIT_CANCELLED`` with one line. Only the entry points (``cli``, ``action``) install it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_CANCELLED = 128 + signal.SIGTERM


class Cancelled(BaseException):
    """The gate was asked to stop (SIGTERM)."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Cancelled


@contextmanager
def cancel_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Cancelled`` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
