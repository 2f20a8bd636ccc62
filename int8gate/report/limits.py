"""GitHub's size limits and every "cut to fit" note: the one place that knows how long Markdown may be.

A comment may hold ``COMMENT_LIMIT`` characters (GitHub answers 422 beyond it); a job summary
``SUMMARY_LIMIT`` bytes per step. The renderer folds detail away level by level until a report
fits (``FOLD_NOTES``, ``folded_note``); what still does not fit is cut here as a last resort, at a
line end, with an open code fence and open ``<details>`` closed, and a note that says so.
"""

from __future__ import annotations

from collections.abc import Callable

COMMENT_LIMIT = 65_536
"""Characters in one issue or pull-request comment."""
COMMENT_TARGET = 16_384
"""What a comment aims at, in bytes of UTF-8 (16 KB): detail is folded away, level by level, until the
comment is this short (a reviewer reads a comment; the job summary and the JSON report keep everything).
The 16 pairs of the real-model corpus (benchmarks/realmodels) fit."""
SUMMARY_LIMIT = 1 << 20
"""A job summary per step: 1 MiB (the renderer counts characters, ``fit_summary`` bytes)."""

FOLD_LEVELS = 4
FOLD_NOTES = {
    1: "the environment and the per-model measurements and profiles",
    2: "the environment, measurements, profiles, the chart and each finding's evidence and fix",
    3: "every model's findings but its main cause, and what it was compared on",
    4: "every per-model section (each model keeps its first reason)",
}
REPORT_TOO_LARGE = "The full report is too large for a comment; the JSON report has everything."
FLEET_FOLDED = "_Reasons left out to fit GitHub's size limit; each runner's report has them._"
FLEET_TOO_LARGE = "The comparison is too large for a comment; each runner's report has it."
COMMENT_CUT_NOTE = (
    "\n\n> **Cut to fit.** This comment was shortened to GitHub's 65,536-character limit; "
    "the full report is in the job summary and the JSON artifact.\n"
)
SUMMARY_CUT_NOTE = "\n\n> **Cut to fit.** The job summary limit is 1 MiB; the JSON report has everything.\n"


def folded_note(limit: int, fold: int) -> str:
    """The line a folded report ends with: what was left out to stay under ``limit`` (GitHub's limit in
    characters, or the comment's target in bytes)."""
    aim = (f"to fit GitHub's {limit:,}-character limit" if limit >= COMMENT_LIMIT
           else f"to keep the comment under {limit:,} bytes")  # fmt: skip
    return f"_Folded {aim}: {FOLD_NOTES[fold]} are left out here; the job summary and the JSON report have them._"


def fit_comment(
    body: str, marker: str, limit: int = COMMENT_LIMIT, measure: Callable[[str], int] = len
) -> tuple[str, bool]:
    """The body with the marker first, cut (as a last resort) to ``limit``; True if it was cut.

    The renderer owns folding to stay under the limit; this only keeps a too-long body postable:
    it cuts at a line end, closes an open code fence and open ``<details>``, and says so.
    """
    text = body if body.startswith(marker) else f"{marker}\n{body.replace(marker, '')}"
    if measure(text) <= limit:
        return text, False
    keep = limit - measure(COMMENT_CUT_NOTE) - 64
    while keep > len(marker):
        cut = text[:keep]
        line_end = cut.rfind("\n")
        if line_end > len(marker):
            cut = cut[:line_end]
        closers = "\n```" if cut.count("```") % 2 else ""
        closers += "\n</details>" * max(0, cut.count("<details") - cut.count("</details>"))
        candidate = cut + closers + COMMENT_CUT_NOTE
        if measure(candidate) <= limit:
            return candidate, True
        keep -= max(measure(candidate) - limit, 64)
    return marker + COMMENT_CUT_NOTE, True


def fit_summary(markdown: str, room: int) -> tuple[str, bool]:
    """``markdown`` cut by UTF-8 bytes (at a line end) to fit ``room`` bytes, with the note; True if cut."""
    data = markdown.encode("utf-8")
    if len(data) <= room:
        return markdown, False
    keep = data[: max(0, room - len(SUMMARY_CUT_NOTE.encode("utf-8")) - 16)]
    text = keep.decode("utf-8", errors="ignore")
    return text[: text.rfind("\n") + 1] + SUMMARY_CUT_NOTE, True
