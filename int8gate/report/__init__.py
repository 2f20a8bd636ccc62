"""The one report.

Its data and versioned JSON, and every text rendering of it (Markdown syntax and GitHub's limits,
the comment and summary, the fleet view, plain terminal text).
"""
