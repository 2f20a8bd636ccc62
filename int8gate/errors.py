"""The exception hierarchy: every error int8gate raises on purpose carries its exit code and one line.

    Int8gateError            exit 2 unless a subclass says otherwise; ``str()`` is the one line shown
    ├── UsageError           the command line is wrong (bad flag value, missing file argument)
    ├── PolicyError          ``.int8gate.yml`` is wrong: ``file:line: key: problem``
    ├── ModelFileError       a model file is unusable or unsafe: ``path: problem``
    └── WorkspaceError       a path leaves the workspace, or a report cannot be written

Exit codes are the gate's contract: 0 pass, 1 fail, 2 bad input or usage, 3 internal error (a bug:
any exception that is not an ``Int8gateError``; never used for a problem the user can fix).
Only entry points (``cli``, ``action``) turn these into exit codes; libraries never call ``sys.exit``.
"""

from __future__ import annotations

import unicodedata

EXIT_PASS = 0
EXIT_FAIL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3


class Int8gateError(Exception):
    """An expected failure with a one-line message and an exit code."""

    exit_code: int = EXIT_BAD_INPUT


class UsageError(Int8gateError):
    """The command line asks for something impossible."""


class PolicyError(Int8gateError):
    """The policy file is malformed or names something that does not exist."""

    def __init__(self, file: str, line: int | None, key: str, problem: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        prefix = f"{where}: {key}: " if key else f"{where}: "
        super().__init__(prefix + problem)


class ModelFileError(Int8gateError):
    """A model file cannot be read safely (missing, truncated, unsafe external data, too large)."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class WorkspaceError(Int8gateError):
    """A path points outside the workspace, or an output cannot be written."""


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (its type's name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_SHOWN = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_COMMAND_STARTS = ("::", "##[")  # what the Actions runner reads as a workflow command, after leading blanks


def command_safe(line: str) -> str:
    """A printed line that cannot be read as a workflow command: one that would start like one (a
    policy title or model name at its start, such as ``::error::``) gets ``> `` in front."""
    return f"> {line}" if line.lstrip().startswith(_COMMAND_STARTS) else line


def log_safe(text: str) -> str:
    """``text`` fit to print inside one log line: line breaks and other control characters shown as
    escapes (``\\n``, ``\\x1b``, ``\\u2028``), so nothing from a pull request (a model name, a file name,
    an input name) can start a line of its own, such as a workflow command (``::error::``) or a fake
    log line. Every line int8gate prints starts with ``int8gate:`` and puts untrusted text through this."""
    out = []
    for char in text:
        if char in _SHOWN:
            out.append(_SHOWN[char])
        elif unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
