"""GitHub.

The REST client and its answers, the event payload, the sticky comment, the Actions publishing steps
and the fork comment artifact.
"""
