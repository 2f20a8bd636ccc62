"""Failures on demand for the GitHub stand-in, and a fake clock so retry tests never really wait.

``Faults`` is mixed into ``StandIn``: each ``*_next`` call queues one failure (or N) for the next
matching request; ``go_down`` fails everything until ``come_back``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from support.ghcontract import ERROR_EXAMPLES_FILE

SECONDARY_MESSAGE = json.loads(ERROR_EXAMPLES_FILE.read_text(encoding="utf-8"))["examples"][3]["message"]


@dataclass(frozen=True)
class Fault:
    """One injected failure; ``method`` and ``path`` (a substring) limit which requests it hits."""

    kind: str  # status | drop | drop-after | stall
    status: int = 0
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    method: str | None = None
    stall_s: float = 0.0
    path: str | None = None


class Faults:
    """A queue of injected failures, taken by the server one per matching request."""

    def __init__(self) -> None:
        self._fault_lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._down: Fault | None = None
        self._healthy_left: int | None = None

    def fail_next(self, count: int, status: int = 502, method: str | None = None, path: str | None = None) -> None:
        body = {"message": "Server Error"} if status != 503 else {"message": "Service Unavailable"}
        self._push(Fault("status", status, (), body, method, path=path), count)

    def rate_limit_next(self, retry_after: int, method: str | None = None, path: str | None = None) -> None:
        body = {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"}
        self._push(Fault("status", 429, (("retry-after", str(retry_after)),), body, method, path=path), 1)

    def secondary_rate_limit_next(self, retry_after: int | None, method: str | None = None) -> None:
        headers = (("retry-after", str(retry_after)),) if retry_after is not None else ()
        body = {
            "message": SECONDARY_MESSAGE,
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
        }
        self._push(Fault("status", 403, headers, body, method), 1)

    def primary_rate_limit_next(self, reset_epoch: int, method: str | None = None) -> None:
        headers = (("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", str(reset_epoch)))
        body = {
            "message": "API rate limit exceeded for installation.",
            "documentation_url": "https://docs.github.com/rest",
        }
        self._push(Fault("status", 403, headers, body, method), 1)

    def drop_next(self, *, after_processing: bool = False, method: str | None = None, path: str | None = None) -> None:
        self._push(Fault("drop-after" if after_processing else "drop", method=method, path=path), 1)

    def stall_next(self, seconds: float, method: str | None = None) -> None:
        self._push(Fault("stall", method=method, stall_s=seconds), 1)

    def go_down(self, status: int = 503, after: int = 0) -> None:
        """Answer every request with ``status`` (after ``after`` more good ones) until ``come_back``."""
        with self._fault_lock:
            self._down = Fault("status", status, (), {"message": "Service Unavailable"})
            self._healthy_left = after

    def come_back(self) -> None:
        with self._fault_lock:
            self._down, self._healthy_left = None, None

    def _push(self, fault: Fault, count: int) -> None:
        with self._fault_lock:
            self._faults.extend([fault] * count)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._fault_lock:
            if self._down is not None and not self._healthy_left:
                return self._down
            if self._healthy_left:
                self._healthy_left -= 1
            for fault in self._faults:
                if fault.method in (None, method) and (fault.path is None or fault.path in path):
                    self._faults.remove(fault)
                    return fault
        return None


class FakeClock:
    """Time that moves only when the client sleeps, so retry tests are exact and take no time."""

    def __init__(self, wall_start: float = 1_714_560_000.0) -> None:
        self.now = 0.0
        self.wall_start = wall_start
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_start + self.now
