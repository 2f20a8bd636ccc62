"""Markdown syntax for text GitHub will render: escaping, inline code, tables, details, the marker.

The only code that knows how repository-controlled text can turn into markup (emphasis, links,
HTML, @mentions, #123 references, :emoji:, table pipes). ``markdown`` composes reports from these
pieces; nothing else writes Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from int8gate.errors import UsageError

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


ZWSP = "\u200b"
"""A zero-width space: invisible, but it breaks GitHub's mention, reference and emoji patterns."""
_REFERENCE = re.compile(r"(#|\bGH-)(?=\d)", re.IGNORECASE)
_AUTOLINK = re.compile(r"(?<=:/)(?=/)|(?<=\bwww)(?=\.)", re.IGNORECASE)


def escape(text: str) -> str:
    """Plain text safe in Markdown and in a table cell: no markup, no HTML, one line, and nothing GitHub acts on.

    GitHub finds @mentions, ``#12``/``GH-12``/``owner/repo#12`` references, ``:emoji:`` and bare
    ``https://``/``www.`` links in the *rendered* text, after Markdown has decoded entities and
    backslash escapes, so those are broken with a zero-width space (after the ``@``, the ``#``, in
    ``https:/ /``): a mention then notifies no one, a reference or a link to another issue leaves no
    cross-reference there, and repository text makes no link at all.
    """
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = text.replace("@", "@" + ZWSP)
    text = _REFERENCE.sub(lambda m: m.group(1) + ZWSP, text)
    text = _AUTOLINK.sub(ZWSP, text)
    return re.sub(r":([A-Za-z0-9_+-]+):", ":" + ZWSP + r"\1:", text)


def code(text: str) -> str:
    """Inline code that survives any backticks or newlines inside ``text`` (not for table cells)."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,99}")
DEFAULT_SCOPE = "int8gate"


def sanitize_scope(text: str) -> str:
    """Any text as a marker-safe scope (never an error): other characters become ``-``, runs of ``-``
    one, it starts with a letter or digit and is at most 100 characters; nothing usable gives ``int8gate``.
    """
    scope = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._:/@+=-]", "-", text))
    scope = re.sub(r"^[^A-Za-z0-9]+", "", scope)[:100]
    return scope if _SCOPE.fullmatch(scope) and "--" not in scope else DEFAULT_SCOPE


def marker(scope: str) -> str:
    """The hidden comment that identifies our sticky comment for one policy/job scope.

    The scope is a short plain token (it sits inside an HTML comment and is matched verbatim).
    """
    if not _SCOPE.fullmatch(scope) or "--" in scope:
        raise UsageError(f"comment scope {scope!r}: use 1-100 letters, digits and . _ : / @ + = - (no '--')")
    return f"<!-- int8gate:{scope} -->"


_SHA = re.compile(r"[0-9a-f]{7,64}")
_HEAD = re.compile(r"<!-- int8gate-head:([0-9a-f]{7,64}) -->")


def head_marker(sha: str) -> str:
    """The hidden line naming the pull request head commit a comment reports on."""
    if not _SHA.fullmatch(sha):
        raise UsageError(f"head commit {sha!r} is not a hexadecimal SHA")
    return f"<!-- int8gate-head:{sha} -->"


def head_of(body: str) -> str | None:
    """The head commit a comment's hidden line names, if any."""
    found = _HEAD.search(body)
    return found.group(1) if found else None


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub table; cells must already be escaped."""
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def details(summary: str, body: str) -> str:
    """A collapsed block (summary must already be escaped)."""
    return f"<details><summary>{summary}</summary>\n\n{body}\n\n</details>"
