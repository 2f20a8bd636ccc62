"""GitHub's answers as types: the error hierarchy, comment/user/PR data and rate-limit reading (no HTTP).

Every error names the method, the path, the status and GitHub's own message, never the token::

    Int8gateError
    └── GitHubError                 no usable answer from GitHub; ``.status`` is the HTTP status or None
        ├── GitHubUnavailableError  5xx, timeouts, dropped connections outlasted the retry budget
        │   └── RateLimitedError    429 or a rate-limit 403 asked for a wait beyond the retry budget
        ├── AuthenticationError     401: the token is wrong or expired
        ├── ForbiddenError          403 that is not a rate limit
        │   └── ReadOnlyTokenError  403 "Resource not accessible by integration" (a fork PR's token)
        ├── NotFoundError           404: no such repository, pull request or comment (or not visible)
        ├── CommentTooLongError     422: the body is over 65,536 characters
        └── GitHubRequestError      any other 4xx, or a response that is not what the contract says

Only ``client`` talks HTTP; this module is its answers as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from int8gate.errors import Int8gateError
from int8gate.github.event import PullRequestFacts
from int8gate.report.limits import COMMENT_LIMIT

READ_ONLY_MESSAGE = "Resource not accessible by integration"
T = TypeVar("T")


class GitHubError(Int8gateError):
    """GitHub gave no usable answer; the message says which call, what came back and why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class GitHubUnavailableError(GitHubError):
    """Transient failures (5xx, timeouts, dropped connections) outlasted the retry budget."""


class RateLimitedError(GitHubUnavailableError):
    """GitHub asked us to wait longer than the retry budget allows."""


class AuthenticationError(GitHubError):
    """401: the token is missing, wrong or expired."""


class ForbiddenError(GitHubError):
    """403 that is not a rate limit: the token may not do this."""


class ReadOnlyTokenError(ForbiddenError):
    """403 "Resource not accessible by integration": expected for the read-only token of a fork PR."""


class NotFoundError(GitHubError):
    """404: the repository, pull request or comment does not exist or the token cannot see it."""


class CommentTooLongError(GitHubError):
    """422: GitHub refused the body because it is over 65,536 characters."""


class GitHubRequestError(GitHubError):
    """Any other refusal (4xx), or a response that does not have the shape the contract promises."""


@dataclass(frozen=True)
class Repo:
    """A repository as ``owner/name``."""

    owner: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> Repo:
        owner, sep, name = text.strip().partition("/")
        if not sep or not owner or not name or "/" in name:
            raise GitHubRequestError(f"repository {text!r} is not of the form owner/name")
        return cls(owner, name)


@dataclass(frozen=True)
class User:
    """The author of a comment, or the owner of a token."""

    login: str
    id: int
    type: str

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot"


@dataclass(frozen=True)
class Comment:
    """An issue (pull request) comment."""

    id: int
    body: str
    user: User | None
    html_url: str
    created_at: str
    updated_at: str


def rate_limit_wait(
    status: int, headers: Mapping[str, str], message: str, now: float, secondary_wait_s: float
) -> float | None:
    """Seconds to wait if this response is a rate limit (primary or secondary), else None.

    GitHub's rule: honour ``retry-after``; else if ``x-ratelimit-remaining`` is 0 wait until
    ``x-ratelimit-reset``; else (secondary limit) wait at least a minute. ``headers`` must be
    case-insensitive (``requests`` gives such a mapping).
    """
    retry_after = headers.get("retry-after")
    remaining = headers.get("x-ratelimit-remaining")
    limited = status == 429 or (
        status == 403 and (retry_after is not None or remaining == "0" or "rate limit" in message.lower())
    )
    if not limited:
        return None
    if retry_after is not None:
        parsed = _parse_retry_after(retry_after, now)
        if parsed is not None:
            return parsed
    reset = headers.get("x-ratelimit-reset")
    if remaining == "0" and reset is not None and reset.strip().isdigit():
        return max(0.0, int(reset) - now) + 1.0
    return secondary_wait_s


def _parse_retry_after(value: str, now: float) -> float | None:
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, parsedate_to_datetime(text).timestamp() - now)
    except (TypeError, ValueError):
        return None


def refusal(method: str, path: str, status: int, message: str) -> GitHubError:
    """The typed error for a 4xx answer that is not a rate limit."""
    where = f"{method} {path}: HTTP {status}: {message}"
    if status == 401:
        return AuthenticationError(f"{where} (check the github-token input)", status)
    if status == 403 and READ_ONLY_MESSAGE.lower() in message.lower():
        return ReadOnlyTokenError(f"{where} (the token is read-only, as on a pull request from a fork)", status)
    if status == 403:
        return ForbiddenError(where, status)
    if status == 404:
        return NotFoundError(where, status)
    if status == 422 and "too long" in message.lower():
        return CommentTooLongError(f"{where} (the limit is {COMMENT_LIMIT:,} characters)", status)
    return GitHubRequestError(where, status)


def _field(data: Mapping[str, Any], key: str, kind: type[T]) -> T:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise GitHubRequestError(f"response field {key!r} is missing or not a {kind.__name__}")
    return value


def parse_user(data: Mapping[str, Any]) -> User:
    """A ``simple-user`` JSON object as a ``User``."""
    return User(_field(data, "login", str), _field(data, "id", int), _field(data, "type", str))


def parse_comment(data: Any) -> Comment:
    """An ``issue-comment`` JSON object as a ``Comment``."""
    if not isinstance(data, dict):
        raise GitHubRequestError("a comment in the response is not a JSON object")
    user, body = data.get("user"), data.get("body")
    return Comment(
        id=_field(data, "id", int),
        body=body if isinstance(body, str) else "",
        user=parse_user(user) if isinstance(user, dict) else None,
        html_url=_field(data, "html_url", str),
        created_at=_field(data, "created_at", str),
        updated_at=_field(data, "updated_at", str),
    )


def parse_pull_request(data: Mapping[str, Any]) -> PullRequestFacts:
    """A ``pull-request`` JSON object as the facts the comment needs."""
    head, base = _field(data, "head", dict), _field(data, "base", dict)
    head_repo = head.get("repo")
    return PullRequestFacts(
        number=_field(data, "number", int),
        head_repo=_field(head_repo, "full_name", str) if isinstance(head_repo, dict) else "",
        base_repo=_field(_field(base, "repo", dict), "full_name", str),
        head_sha=_field(head, "sha", str),
        head_ref=_field(head, "ref", str),
        base_sha=str(base.get("sha") or ""),
    )
