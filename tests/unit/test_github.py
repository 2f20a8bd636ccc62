"""The REST client against the loopback stand-in: contract, pagination, typed errors, retries and budget."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from requests.structures import CaseInsensitiveDict
from support.ghfaults import FakeClock
from support.ghstandin import (
    ACTIONS,
    ERROR_EXAMPLES,
    PAT,
    READ_ONLY,
    StandIn,
    make_client,
    running_standin,
)

from int8gate.github.answers import (
    AuthenticationError,
    Comment,
    CommentTooLongError,
    ForbiddenError,
    GitHubRequestError,
    GitHubUnavailableError,
    NotFoundError,
    RateLimitedError,
    ReadOnlyTokenError,
    Repo,
    rate_limit_wait,
)
from int8gate.github.client import GitHubClient, RetryPolicy, make_session

REPO = Repo("octo-org", "octo-repo")
PR = 7


@pytest.fixture
def standin(standin: StandIn) -> StandIn:
    """The shared stand-in (tests/conftest.py) with this module's pull request open."""
    standin.open_pull(REPO.full_name, PR)
    return standin


def test_requests_carry_githubs_headers_and_pass_the_contract(standin: StandIn) -> None:
    client = make_client(standin)
    created = client.create_comment(REPO, PR, "hello")
    assert client.update_comment(REPO, created.id, "hello again").body == "hello again"
    assert [c.body for c in client.list_issue_comments(REPO, PR)] == ["hello again"]
    client.delete_comment(REPO, created.id)
    client.delete_comment(REPO, created.id)  # already gone is fine
    assert client.list_issue_comments(REPO, PR) == ()
    for seen in standin.seen:
        headers = dict(seen.headers)
        assert headers["accept"] == "application/vnd.github+json"
        assert headers["x-github-api-version"] == "2022-11-28"
        assert headers["user-agent"].startswith("int8gate/")
        assert seen.token_login == "github-actions[bot]"


def test_the_token_stays_out_of_repr_errors_and_logs(standin: StandIn, caplog: pytest.LogCaptureFixture) -> None:
    client = make_client(standin, token=READ_ONLY)
    assert READ_ONLY not in repr(client)
    assert "***" in repr(client)
    caplog.set_level(logging.DEBUG)
    standin.fail_next(1, 502, method="GET")
    client.list_issue_comments(REPO, PR)  # one retry, logged
    assert "retry 1" in caplog.text
    with pytest.raises(ReadOnlyTokenError) as caught:
        client.create_comment(REPO, PR, "x")
    bad = make_client(standin, token="ghp_not_a_real_token_123")
    with pytest.raises(AuthenticationError) as unauthenticated:
        bad.list_issue_comments(REPO, PR)
    for text in (str(caught.value), repr(caught.value), str(unauthenticated.value), caplog.text):
        assert READ_ONLY not in text
        assert "ghp_not_a_real_token_123" not in text


def test_all_pages_are_read_through_link_headers(standin: StandIn) -> None:
    for i in range(250):
        standin.add_comment(REPO.full_name, PR, f"comment {i}", "mallory")
    comments = make_client(standin).list_issue_comments(REPO, PR)
    assert [c.body for c in comments] == [f"comment {i}" for i in range(250)]
    pages = standin.requests_to("GET", "/comments")
    assert [p.query for p in pages] == ["per_page=100&page=1", "per_page=100&page=2", "per_page=100&page=3"]


def test_enterprise_server_base_url_with_a_path_prefix() -> None:
    gen = running_standin(prefix="/api/v3")
    server = next(gen)
    server.open_pull(REPO.full_name, PR)
    for i in range(120):
        server.add_comment(REPO.full_name, PR, f"c{i}", "mallory")
    client = make_client(server)
    assert client.base_url.endswith("/api/v3")
    client.create_comment(REPO, PR, "from GHES")
    assert len(client.list_issue_comments(REPO, PR)) == 121
    assert all(s.path.startswith("/api/v3/") for s in server.seen)
    next(gen, None)


def test_get_authenticated_user_works_for_a_pat_and_is_403_for_the_actions_token(standin: StandIn) -> None:
    me = make_client(standin, token=PAT).get_authenticated_user()
    assert (me.login, me.type, me.is_bot) == ("octocat", "User", False)
    with pytest.raises(ForbiddenError, match="Resource not accessible by integration"):
        make_client(standin, token=ACTIONS).get_authenticated_user()


def test_read_only_token_is_a_distinct_error_and_is_not_retried(standin: StandIn) -> None:
    clock = FakeClock()
    with pytest.raises(ReadOnlyTokenError, match="read-only") as caught:
        make_client(standin, token=READ_ONLY, clock=clock).create_comment(REPO, PR, "x")
    assert caught.value.status == 403
    assert clock.sleeps == []
    assert len(standin.requests_to("POST")) == 1


def test_refusals_map_to_typed_errors(standin: StandIn) -> None:
    client = make_client(standin)
    with pytest.raises(NotFoundError, match="HTTP 404"):
        client.list_issue_comments(REPO, 999)
    with pytest.raises(NotFoundError):
        client.update_comment(REPO, 123, "x")
    with pytest.raises(CommentTooLongError, match="65,536"):
        client.create_comment(REPO, PR, "x" * 65_537)
    assert client.create_comment(REPO, PR, "x" * 65_536).id > 0
    with pytest.raises(GitHubRequestError, match="owner/name"):
        Repo.parse("just-a-name")
    with pytest.raises(AuthenticationError):
        GitHubClient("")


def test_5xx_is_retried_with_growing_backoff(standin: StandIn) -> None:
    clock = FakeClock()
    standin.fail_next(3, 502)
    assert make_client(standin, clock=clock).list_issue_comments(REPO, PR) == ()
    assert len(standin.requests_to("GET")) == 4
    assert len(clock.sleeps) == 3
    for attempt, wait in enumerate(clock.sleeps, start=1):
        ceiling = 2 ** (attempt - 1)
        assert ceiling / 2 <= wait <= ceiling


def test_429_retry_after_is_honoured(standin: StandIn) -> None:
    clock = FakeClock()
    standin.rate_limit_next(retry_after=7)
    make_client(standin, clock=clock).create_comment(REPO, PR, "after the wait")
    assert clock.sleeps[0] >= 7
    assert len(standin.comments(REPO.full_name, PR)) == 1


@pytest.mark.parametrize(("retry_after", "expected"), [(3, 3.0), (None, 60.0)])
def test_secondary_rate_limit_403_waits_as_github_says(
    standin: StandIn, retry_after: int | None, expected: float
) -> None:
    clock = FakeClock()
    standin.secondary_rate_limit_next(retry_after, method="POST")
    make_client(standin, clock=clock).create_comment(REPO, PR, "x")
    assert clock.sleeps[0] == pytest.approx(expected)
    assert len(standin.comments(REPO.full_name, PR)) == 1


def test_primary_rate_limit_waits_until_reset(standin: StandIn) -> None:
    clock = FakeClock()
    standin.primary_rate_limit_next(reset_epoch=int(clock.wall()) + 20)
    make_client(standin, clock=clock).list_issue_comments(REPO, PR)
    assert clock.sleeps == [pytest.approx(21.0)]


def test_a_rate_limit_beyond_the_budget_fails_at_once_without_sleeping(standin: StandIn) -> None:
    clock = FakeClock()
    standin.rate_limit_next(retry_after=3600)
    with pytest.raises(RateLimitedError, match="exceed the 120 s retry budget"):
        make_client(standin, clock=clock).list_issue_comments(REPO, PR)
    assert clock.sleeps == []


def test_dropped_connection_on_a_read_is_retried(standin: StandIn) -> None:
    standin.drop_next()
    assert make_client(standin).list_issue_comments(REPO, PR) == ()
    assert [s.status for s in standin.requests_to("GET")] == [0, 200]


def test_a_write_that_may_have_landed_is_not_blindly_repeated(standin: StandIn) -> None:
    standin.drop_next(after_processing=True, method="POST")
    with pytest.raises(GitHubUnavailableError, match="may have landed"):
        make_client(standin).create_comment(REPO, PR, "once")
    assert len(standin.comments(REPO.full_name, PR)) == 1


def test_confirm_finds_a_write_that_landed_before_the_connection_dropped(standin: StandIn) -> None:
    client = make_client(standin)
    standin.drop_next(after_processing=True, method="POST")

    def confirm() -> Comment | None:
        return next(iter(client.list_issue_comments(REPO, PR)), None)

    made = client.create_comment(REPO, PR, "once", confirm=confirm)
    assert made.body == "once"
    assert len(standin.comments(REPO.full_name, PR)) == 1
    assert len(standin.requests_to("POST")) == 1


def test_read_timeout_is_retried() -> None:
    gen = running_standin()
    server = next(gen)
    server.open_pull(REPO.full_name, PR)
    server.stall_next(5.0)
    started = time.monotonic()
    client = make_client(server, read_timeout_s=0.2)
    assert client.list_issue_comments(REPO, PR) == ()
    assert time.monotonic() - started < 3
    assert client.retries[0].reason.startswith("no answer within 0.2 s")
    next(gen, None)


def test_github_down_for_good_gives_a_typed_error_within_the_budget(standin: StandIn) -> None:
    clock = FakeClock()
    standin.go_down(503)
    client = make_client(standin, clock=clock, budget_s=60.0, max_attempts=50)
    with pytest.raises(GitHubUnavailableError, match="HTTP 503") as caught:
        client.create_comment(REPO, PR, "x")
    assert not isinstance(caught.value, RateLimitedError)
    assert sum(clock.sleeps) <= 60.0
    assert client.budget_spent_s <= 60.0
    assert standin.comments(REPO.full_name, PR) == []


def test_the_budget_holds_in_real_time_too(standin: StandIn) -> None:
    standin.go_down(502)
    client = GitHubClient(
        ACTIONS, base_url=standin.url, session=make_session(trust_env=False),
        policy=RetryPolicy(budget_s=0.3, base_delay_s=0.02, max_attempts=100),
    )  # fmt: skip
    started = time.monotonic()
    with pytest.raises(GitHubUnavailableError, match="retry budget"):
        client.list_issue_comments(REPO, PR)
    elapsed = time.monotonic() - started
    assert client.budget_spent_s <= 0.3
    assert elapsed < 0.3 + 0.5, f"gave up after {elapsed:.2f} s"


def test_unreachable_github_is_connection_refused_within_the_budget() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = FakeClock()
    client = GitHubClient(
        ACTIONS, base_url=f"http://127.0.0.1:{port}", session=make_session(trust_env=False),
        sleep=clock.sleep, monotonic=clock.monotonic,
    )  # fmt: skip
    with pytest.raises(GitHubUnavailableError, match="could not connect"):
        client.create_comment(REPO, PR, "x")
    assert sum(clock.sleeps) <= client.policy.budget_s
    assert len(clock.sleeps) == client.policy.max_attempts - 1


def test_rate_limit_wait_reads_githubs_headers() -> None:
    read_only = ERROR_EXAMPLES[2]
    headers = CaseInsensitiveDict(read_only["headers_seen"])
    assert rate_limit_wait(403, headers, read_only["body"]["message"], 0, 60) is None
    assert rate_limit_wait(403, CaseInsensitiveDict(), ERROR_EXAMPLES[3]["message"], 0, 60) == 60
    assert rate_limit_wait(429, CaseInsensitiveDict({"Retry-After": "5"}), "", 0, 60) == 5
    reset = CaseInsensitiveDict({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"})
    assert rate_limit_wait(403, reset, "API rate limit exceeded", 990, 60) == 11
    date = CaseInsensitiveDict({"retry-after": "Wed, 01 May 2024 10:00:30 GMT"})
    assert rate_limit_wait(429, date, "", 1714557600.0, 60) == 30
    assert rate_limit_wait(500, CaseInsensitiveDict(), "", 0, 60) is None


def test_the_stand_in_refuses_requests_that_break_the_contract(standin: StandIn) -> None:
    session = make_session(trust_env=False)
    headers = {"Authorization": f"Bearer {ACTIONS}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "contract-probe"}  # fmt: skip
    comments = f"{standin.url}/repos/{REPO.full_name}/issues/{PR}/comments"
    bad_page = session.get(comments, params={"per_page": "lots"}, headers=headers, timeout=5)
    no_body = session.post(comments, json={"text": "hi"}, headers=headers, timeout=5)
    elsewhere = session.get(f"{standin.url}/repos/{REPO.full_name}/issues", headers=headers, timeout=5)
    assert (bad_page.status_code, no_body.status_code, elsewhere.status_code) == (422, 422, 404)
    assert no_body.json()["message"] == "Validation Failed"
    assert any("per_page='lots' is not an integer" in v for v in standin.violations)
    assert any("'body' is a required property" in v for v in standin.violations)
    assert any("no such operation" in v for v in standin.violations)
    standin.violations.clear()  # these were deliberate


def test_the_contract_catches_a_malformed_answer() -> None:
    from support.ghstandin import CONTRACT

    route = CONTRACT.route("POST", "/repos/o/r/issues/1/comments")
    assert route is not None
    problems = CONTRACT.response_problems(route.operation, 201, {}, {"id": "7", "body": "x"})
    assert any("'node_id' is a required property" in p for p in problems)
    assert any("'7' is not of type 'integer'" in p for p in problems)
    assert CONTRACT.response_problems(route.operation, 418, {}, {}) == [
        "status 418 is not a documented answer of issues/create-comment"
    ]
