"""The GitHub REST client: the only module that talks HTTP, with bounded retries and pagination.

Retries: 5xx, timeouts, dropped connections, 429 and secondary rate limits are retried with
exponential backoff and jitter, honouring ``retry-after`` and ``x-ratelimit-reset``. One budget of
seconds (waiting plus failed attempts) covers every call of a client, so a GitHub outage costs at
most the budget plus one request timeout. A write that may have landed (POST answered by 5xx, a
read timeout or a dropped connection) is retried only after a ``confirm`` probe says it did not.
The error hierarchy and the data types live in ``answers``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
import urllib3.exceptions

from int8gate import __version__
from int8gate.github.answers import (
    AuthenticationError,
    Comment,
    GitHubRequestError,
    GitHubUnavailableError,
    NotFoundError,
    RateLimitedError,
    Repo,
    User,
    parse_comment,
    parse_pull_request,
    parse_user,
    rate_limit_wait,
    refusal,
)
from int8gate.github.event import PullRequestFacts

__all__ = ["API_VERSION", "DEFAULT_API_URL", "GitHubClient", "RetryNote", "RetryPolicy", "make_session"]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. ``budget_s`` bounds all waiting plus failed attempts of one client."""

    max_attempts: int = 8
    base_delay_s: float = 1.0
    max_delay_s: float = 32.0
    budget_s: float = 120.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    secondary_wait_s: float = 60.0
    """GitHub's docs: a secondary rate limit without retry-after means wait at least a minute."""
    max_pages: int = 100


@dataclass(frozen=True)
class RetryNote:
    """One retry the client made, for the log and the report: what failed and how long it waited."""

    method: str
    path: str
    reason: str
    wait_s: float


@dataclass(frozen=True)
class _Failure:
    reason: str
    ambiguous: bool
    """The request may have been processed (only matters for writes)."""
    hint_s: float | None = None
    """Seconds GitHub asked us to wait (rate limits)."""
    status: int | None = None


def make_session(*, trust_env: bool = True) -> requests.Session:
    """A plain ``requests`` session; tests pass ``trust_env=False`` so no proxy sees loopback calls."""
    session = requests.Session()
    session.trust_env = trust_env
    return session


class GitHubClient:
    """GitHub REST calls int8gate needs. ``repr`` and every message leave the token out."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if not token:
            raise AuthenticationError("no GitHub token: pass github-token (usually ${{ github.token }})")
        split = urlsplit(base_url)
        if split.scheme not in ("http", "https") or not split.netloc:
            raise GitHubRequestError(f"GitHub API URL {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self._origin = (split.scheme, split.netloc)
        self.__token = token
        self._session = session if session is not None else make_session()
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._wall = wall
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not secrecy
        self._spent = 0.0
        self._retries: list[RetryNote] = []

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r}, token='***')"

    @property
    def retries(self) -> tuple[RetryNote, ...]:
        """Every retry so far, oldest first."""
        return tuple(self._retries)

    @property
    def budget_spent_s(self) -> float:
        """Seconds of the retry budget used so far."""
        return self._spent

    # -- operations -------------------------------------------------------------------------------

    def get_authenticated_user(self) -> User:
        """GET /user. An Actions (installation) token gets 403 here: ``ReadOnlyTokenError``."""
        return self._call("GET", "/user", parse=lambda r: parse_user(_json_object(r)))

    def list_issue_comments(self, repo: Repo, issue_number: int) -> tuple[Comment, ...]:
        """Every comment on the issue or PR, following ``Link: rel="next"`` through all pages."""
        path = f"{_repo_path(repo)}/issues/{int(issue_number)}/comments"
        url: str | None = self.base_url + path
        params: dict[str, int] | None = {"per_page": 100, "page": 1}
        comments: list[Comment] = []
        for _ in range(self.policy.max_pages):
            if url is None:
                return tuple(comments)
            page, url = self._call("GET", url, params=params, parse=self._comment_page)
            comments.extend(page)
            params = None
        if url is None:
            return tuple(comments)
        raise GitHubRequestError(f"GET {path}: more than {self.policy.max_pages} pages of comments")

    def create_comment(
        self,
        repo: Repo,
        issue_number: int,
        body: str,
        *,
        confirm: Callable[[], Comment | None] | None = None,
    ) -> Comment:
        """POST a comment. ``confirm`` finds it if an ambiguous failure may have created it already."""
        path = f"{_repo_path(repo)}/issues/{int(issue_number)}/comments"
        return self._call(
            "POST",
            path,
            body={"body": body},
            parse=lambda r: parse_comment(_json_object(r)),
            idempotent=False,
            confirm=confirm,
        )

    def update_comment(self, repo: Repo, comment_id: int, body: str) -> Comment:
        """PATCH a comment's body (idempotent, so retried freely)."""
        path = f"{_repo_path(repo)}/issues/comments/{int(comment_id)}"
        return self._call("PATCH", path, body={"body": body}, parse=lambda r: parse_comment(_json_object(r)))

    def delete_comment(self, repo: Repo, comment_id: int) -> None:
        """DELETE a comment; one already gone counts as deleted."""
        path = f"{_repo_path(repo)}/issues/comments/{int(comment_id)}"
        try:
            self._call("DELETE", path, parse=lambda r: None)
        except NotFoundError:
            return

    def get_pull_request(self, repo: Repo, number: int) -> PullRequestFacts:
        """GET a pull request: its number, head and base repositories, head SHA and branch."""
        path = f"{_repo_path(repo)}/pulls/{int(number)}"
        return self._call("GET", path, parse=lambda r: parse_pull_request(_json_object(r)))

    # -- the retry loop ---------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path_or_url: str,
        *,
        parse: Callable[[requests.Response], T],
        params: Mapping[str, int] | None = None,
        body: Mapping[str, str] | None = None,
        idempotent: bool = True,
        confirm: Callable[[], T | None] | None = None,
    ) -> T:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        path = urlsplit(url).path
        attempt = 0
        while True:
            attempt += 1
            started = self._monotonic()
            outcome = self._attempt(method, url, path, params, body)
            if isinstance(outcome, requests.Response):
                return parse(outcome)
            self._spent += max(0.0, self._monotonic() - started)
            may_have_landed = outcome.ambiguous and not idempotent
            if may_have_landed and confirm is None:
                raise GitHubUnavailableError(
                    f"{method} {path}: {outcome.reason}; not retried because the write may have landed",
                    outcome.status,
                )
            if attempt >= self.policy.max_attempts:
                raise self._give_up(method, path, outcome, f"after {attempt} attempts")
            self._wait(method, path, outcome, attempt)
            if may_have_landed and confirm is not None:
                landed = confirm()
                if landed is not None:
                    return landed

    def _attempt(
        self,
        method: str,
        url: str,
        path: str,
        params: Mapping[str, int] | None,
        body: Mapping[str, str] | None,
    ) -> requests.Response | _Failure:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"int8gate/{__version__}",
            "Authorization": f"Bearer {self.__token}",
        }
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                allow_redirects=False,
                timeout=(self.policy.connect_timeout_s, self.policy.read_timeout_s),
            )
        except requests.exceptions.ConnectTimeout:
            return _Failure("no connection within the connect timeout", ambiguous=False)
        except requests.exceptions.ReadTimeout:
            return _Failure(f"no answer within {self.policy.read_timeout_s:g} s", ambiguous=True)
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                return _Failure("could not connect (refused or unresolvable)", ambiguous=False)
            return _Failure("connection dropped", ambiguous=True)
        except requests.exceptions.RequestException as exc:
            raise GitHubRequestError(f"{method} {path}: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        message = self._redact(_error_message(response))
        wait = rate_limit_wait(status, response.headers, message, self._wall(), self.policy.secondary_wait_s)
        if wait is not None:
            return _Failure(f"rate limited (HTTP {status}: {message})", ambiguous=False, hint_s=wait, status=status)
        if status >= 500:
            return _Failure(f"HTTP {status}: {message}", ambiguous=True, status=status)
        raise refusal(method, path, status, message)

    def _wait(self, method: str, path: str, failure: _Failure, attempt: int) -> None:
        ceiling = min(self.policy.max_delay_s, self.policy.base_delay_s * 2 ** (attempt - 1))
        backoff = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        wait = max(failure.hint_s, backoff) if failure.hint_s is not None else backoff
        remaining = self.policy.budget_s - self._spent
        if wait > remaining:
            raise self._give_up(
                method,
                path,
                failure,
                f"after {attempt} attempts; waiting {wait:.0f} s more would exceed the "
                f"{self.policy.budget_s:.0f} s retry budget",
            )
        log.warning("GitHub %s %s: %s; retry %d in %.1f s", method, path, failure.reason, attempt, wait)
        self._retries.append(RetryNote(method, path, failure.reason, wait))
        self._sleep(wait)
        self._spent += wait

    def _give_up(self, method: str, path: str, failure: _Failure, why: str) -> GitHubUnavailableError:
        kind = RateLimitedError if failure.hint_s is not None else GitHubUnavailableError
        return kind(f"{method} {path}: {failure.reason}; gave up {why}", failure.status)

    def _comment_page(self, response: requests.Response) -> tuple[tuple[Comment, ...], str | None]:
        data = _json(response)
        if not isinstance(data, list):
            raise GitHubRequestError("list comments: the response is not a JSON array")
        next_url = response.links.get("next", {}).get("url")
        if next_url is not None:
            split = urlsplit(next_url)
            if (split.scheme, split.netloc) != self._origin:
                raise GitHubRequestError("list comments: the next page is on another host; not following it")
        return tuple(parse_comment(item) for item in data), next_url

    def _redact(self, text: str) -> str:
        return text.replace(self.__token, "***") if self.__token else text


def _never_connected(exc: requests.exceptions.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _error_message(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason or "no message"
    if not isinstance(data, dict):
        return "no message"
    message = str(data.get("message", "no message"))
    details = [str(e["message"]) for e in data.get("errors", []) if isinstance(e, dict) and "message" in e]
    text = "; ".join([message, *details])
    return " ".join(text.split())[:300]


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        raise GitHubRequestError(
            f"{response.request.method} {urlsplit(response.url).path}: the response is not JSON"
        ) from None


def _json_object(response: requests.Response) -> dict[str, Any]:
    data = _json(response)
    if not isinstance(data, dict):
        raise GitHubRequestError(f"{urlsplit(response.url).path}: the response is not a JSON object")
    return data


def _repo_path(repo: Repo) -> str:
    return f"/repos/{quote(repo.owner, safe='')}/{quote(repo.name, safe='')}"
