"""The sticky PR comment: find ours by a hidden marker and our own identity, then update or create it.

A comment is ours when it carries the scope's marker (``<!-- int8gate:{scope} -->``) *and* its author
is the token's own identity, so a comment by anyone else that quotes the marker is never touched.

The identity, in order: the ``author`` the caller names (the Action's ``comment-author`` input);
``GET /user`` for a personal access token; otherwise the token is an installation token (the
Actions ``GITHUB_TOKEN`` or a GitHub App's), which gets 403 there and whose bot login (
``github-actions[bot]``, ``myapp[bot]``) cannot be asked for. Then ours is a marker comment by a
bot (``user.type == "Bot"``): only an App installation can author one, and any App that can comment
on the PR may edit ours anyway, so this trusts no one new. Once we create a comment, its author in
our own POST's response is our identity for the rest of the run.

Runs of older commits never overwrite a newer one: given the head commit a run tested, the comment
names it in a second hidden line, and before writing we ask GitHub where the pull request's head is
now; a run whose commit is no longer the head posts nothing (the newer run will). Concurrent runs
of the same commit with the same scope may both create a comment; after creating, each run lists the
comments again, keeps the oldest of ours and deletes only the one it just made, so they converge on
one. The fleet view avoids the race altogether: matrix legs write reports and one merge job posts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from int8gate.github.answers import Comment, CommentTooLongError, ForbiddenError, GitHubError, ReadOnlyTokenError, Repo
from int8gate.github.client import GitHubClient
from int8gate.policy.spec import CommentMode
from int8gate.report.limits import fit_comment
from int8gate.report.syntax import head_marker, head_of, marker


@dataclass(frozen=True)
class Identity:
    """Who our comments are authored by, and how we know; ``login`` None: some bot, not known yet."""

    login: str | None
    is_bot: bool
    source: str

    @property
    def shown(self) -> str:
        return self.login or "this installation's bot"


INSTALLATION_IDENTITY = Identity(
    None, is_bot=True, source="an installation token (GET /user answers 403): the Actions or a GitHub App bot"
)


class StickyAction(str, Enum):
    """What happened to the comment."""

    CREATED = "created"
    UPDATED = "updated"
    SKIPPED = "skipped"
    READ_ONLY = "read-only"
    FAILED = "failed"


@dataclass(frozen=True)
class StickyResult:
    """The outcome, with a one-line reason for the log."""

    action: StickyAction
    comment_id: int | None
    url: str | None
    reason: str
    truncated: bool = False


class _Plan(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"


def resolve_identity(client: GitHubClient, author: str | None = None) -> Identity:
    """Our comments' author: ``author`` if given, ``GET /user`` for a PAT, some bot for an installation token."""
    if author:
        return Identity(author, author.endswith("[bot]"), "the comment author given")
    try:
        user = client.get_authenticated_user()
    except ForbiddenError:
        return INSTALLATION_IDENTITY
    return Identity(user.login, user.is_bot, "GET /user")


def is_own(comment: Comment, identity: Identity, marker: str) -> bool:
    """True when the comment carries the marker and was written by ``identity``."""
    user = comment.user
    if user is None or marker not in comment.body:
        return False
    if identity.login is None:
        return user.is_bot
    if user.login.lower() != identity.login.lower():
        return False
    return user.is_bot or not identity.is_bot


def find_own(comments: Iterable[Comment], identity: Identity, marker: str) -> Comment | None:
    """The oldest of our comments for this marker, if any."""
    own = [c for c in comments if is_own(c, identity, marker)]
    return min(own, key=lambda c: c.id) if own else None


def decide(mode: CommentMode, failed: bool, existing: bool) -> _Plan:
    """Pure mode logic. ``on-failure`` still updates an earlier comment, so a fixed PR says so."""
    if mode is CommentMode.OFF:
        return _Plan.SKIP
    if mode is CommentMode.NEW:
        return _Plan.CREATE
    if mode is CommentMode.ON_FAILURE and not failed and not existing:
        return _Plan.SKIP
    return _Plan.UPDATE if existing else _Plan.CREATE


def post_sticky(
    client: GitHubClient,
    repo: Repo,
    issue_number: int,
    body: str,
    *,
    scope: str,
    mode: CommentMode,
    failed: bool,
    author: str | None = None,
    head_sha: str | None = None,
) -> StickyResult:
    """Create or update our comment per ``mode``. A read-only token is a result, not an error.

    ``head_sha``: the pull request head commit this comment reports on; when given, nothing is
    written unless it is still the head. Other ``GitHubError``s propagate: the caller logs why no
    comment was posted and carries on.
    """
    marker_text = marker(scope)  # validates the scope too
    if mode is CommentMode.OFF:
        return StickyResult(StickyAction.SKIPPED, None, None, "comment mode is off")
    prefix = marker_text + (f"\n{head_marker(head_sha)}" if head_sha else "")
    body = body.replace(marker_text, "").lstrip("\n")
    text, truncated = fit_comment(body, prefix)

    def attempt(text: str, truncated: bool) -> StickyResult:
        try:
            return _post(client, repo, issue_number, text, marker=marker_text, mode=mode, failed=failed,
                         author=author, head_sha=head_sha, truncated=truncated)  # fmt: skip
        except ReadOnlyTokenError as exc:
            return StickyResult(StickyAction.READ_ONLY, None, None, str(exc), truncated)

    try:
        return attempt(text, truncated)
    except CommentTooLongError:
        # GitHub counted differently (e.g. in bytes): cut by UTF-8 bytes and try once more.
        text, _ = fit_comment(body, prefix, measure=lambda s: len(s.encode("utf-8")))
        return attempt(text, True)


def _superseded(client: GitHubClient, repo: Repo, number: int, head_sha: str) -> str | None:
    """Why a run of ``head_sha`` may not write (the pull request moved on), or None."""
    try:
        now = client.get_pull_request(repo, number).head_sha
    except ForbiddenError:  # the token may not read pull requests: nothing to compare, post as asked
        return None
    if now == head_sha:
        return None
    return (f"not posting: pull request #{number} is now at {now[:12]}, this run tested {head_sha[:12]} "
            "(the run for the newer commit comments)")  # fmt: skip


def _post(
    client: GitHubClient,
    repo: Repo,
    number: int,
    text: str,
    *,
    marker: str,
    mode: CommentMode,
    failed: bool,
    author: str | None,
    head_sha: str | None,
    truncated: bool,
) -> StickyResult:
    if head_sha is not None:
        stale = _superseded(client, repo, number, head_sha)
        if stale is not None:
            return StickyResult(StickyAction.SKIPPED, None, None, stale, truncated)
    me = resolve_identity(client, author)
    comments = client.list_issue_comments(repo, number)
    existing = find_own(comments, me, marker)
    if existing is not None and existing.user is not None and me.login is None:
        me = Identity(existing.user.login, existing.user.is_bot, "our earlier comment")
    plan = decide(mode, failed, existing is not None)
    if plan is _Plan.SKIP:
        return StickyResult(StickyAction.SKIPPED, None, None, "gate passed and comment mode is on-failure")
    if plan is _Plan.UPDATE and existing is not None:
        before = head_of(existing.body)
        updated = client.update_comment(repo, existing.id, text)
        was = f" (it reported on {before[:12]})" if before and before != head_sha else ""
        return StickyResult(StickyAction.UPDATED, updated.id, updated.html_url,
                            f"updated comment {updated.id} by {me.shown}{was}", truncated)  # fmt: skip
    seen = {c.id for c in comments}

    def confirm() -> Comment | None:
        fresh = client.list_issue_comments(repo, number)
        return find_own((c for c in fresh if c.id not in seen), me, marker)

    created = client.create_comment(repo, number, text, confirm=confirm)
    if created.user is not None:  # our own POST's answer names our author: exact from here on
        me = Identity(created.user.login, created.user.is_bot, "our own comment")
    if mode is not CommentMode.NEW:
        try:
            kept = _converge(client, repo, number, me=me, marker=marker, mine=created, text=text)
        except GitHubError as exc:  # the comment is there; only the duplicate check could not run
            return StickyResult(StickyAction.CREATED, created.id, created.html_url,
                                f"created comment {created.id}; duplicate check failed: {exc}", truncated)  # fmt: skip
        if kept.id != created.id:
            return StickyResult(
                StickyAction.UPDATED,
                kept.id,
                kept.html_url,
                f"a concurrent run had created comment {kept.id}; updated it",
                truncated,
            )
    return StickyResult(
        StickyAction.CREATED, created.id, created.html_url, f"created comment {created.id} as {me.shown}", truncated
    )


def _converge(
    client: GitHubClient, repo: Repo, number: int, *, me: Identity, marker: str, mine: Comment, text: str
) -> Comment:
    """Keep the oldest of our comments; if that is not the one just made, delete ours, update it."""
    keeper = find_own(client.list_issue_comments(repo, number), me, marker)
    if keeper is None or keeper.id >= mine.id:
        return mine
    client.delete_comment(repo, mine.id)
    return client.update_comment(repo, keeper.id, text)
