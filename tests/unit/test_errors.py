"""One log line per message: untrusted text cannot start a line of its own."""

from __future__ import annotations

import pytest

from int8gate.errors import log_safe


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("m\n::error title=x::pwned", "m\\n::error title=x::pwned"),
        ("a\rb\tc", "a\\rb\\tc"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("line\u2028separator\u2029para\x85next", "line\\u2028separator\\u2029para\\x85next"),
        ("plain text, é and ü", "plain text, é and ü"),
    ],
)
def test_log_safe_shows_line_breaks_and_control_characters_as_escapes(text: str, shown: str) -> None:
    assert log_safe(text) == shown
    assert len(log_safe(text).splitlines()) == 1
