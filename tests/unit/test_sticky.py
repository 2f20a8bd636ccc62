"""The sticky comment against the stand-in: one comment per scope, never someone else's, through faults."""

from __future__ import annotations

import threading

import pytest
from support.ghfaults import FakeClock
from support.ghstandin import ACTIONS, ACTIONS_BOT, APP, APP_BOT, PAT, READ_ONLY, StandIn, make_client

from int8gate.errors import UsageError
from int8gate.github.answers import GitHubUnavailableError, Repo
from int8gate.github.sticky import (
    INSTALLATION_IDENTITY,
    Identity,
    StickyAction,
    StickyResult,
    post_sticky,
    resolve_identity,
)
from int8gate.policy.spec import CommentMode
from int8gate.report.limits import COMMENT_LIMIT, fit_comment
from int8gate.report.syntax import marker as marker_for

REPO = Repo("octo-org", "octo-repo")
PR = 7
SCOPE = "policy-.int8gate.yml"
MARKER = marker_for(SCOPE)


@pytest.fixture
def standin(standin: StandIn) -> StandIn:
    """The shared stand-in (tests/conftest.py) with this module's pull request open."""
    standin.open_pull(REPO.full_name, PR)
    return standin


def post(standin: StandIn, body: str, *, token: str = ACTIONS, scope: str = SCOPE,
         mode: CommentMode = CommentMode.UPDATE, failed: bool = False, clock: FakeClock | None = None,
         author: str | None = None, **policy: float) -> StickyResult:  # fmt: skip
    client = make_client(standin, token=token, clock=clock, **policy)
    return post_sticky(client, REPO, PR, body, scope=scope, mode=mode, failed=failed, author=author)


def bodies(standin: StandIn) -> list[str]:
    return [c.body for c in standin.comments(REPO.full_name, PR)]


@pytest.mark.parametrize(("token", "author"), [(ACTIONS, None), (PAT, None), (APP, None), (APP, APP_BOT)],
                         ids=["actions-token", "pat", "app-token", "app-token-with-author"])  # fmt: skip
def test_two_runs_on_the_same_pr_leave_one_comment_updated(standin: StandIn, token: str, author: str | None) -> None:
    first = post(standin, "run 1: pass", token=token, author=author)
    second = post(standin, "run 2: fail", token=token, author=author)
    assert first.action is StickyAction.CREATED
    assert second.action is StickyAction.UPDATED
    assert second.comment_id == first.comment_id
    assert (second.url or "").endswith(f"#issuecomment-{first.comment_id}")
    assert bodies(standin) == [f"{MARKER}\nrun 2: fail"]


def test_identity_is_the_given_author_the_pat_owner_or_an_installation_bot(standin: StandIn) -> None:
    assert resolve_identity(make_client(standin, token=PAT)) == Identity("octocat", False, "GET /user")
    for token in (ACTIONS, APP):
        assert resolve_identity(make_client(standin, token=token)) == INSTALLATION_IDENTITY
    given = resolve_identity(make_client(standin, token=APP), APP_BOT)
    assert (given.login, given.is_bot) == (APP_BOT, True)
    assert len(standin.requests_to("GET", "/user")) == 3  # a given author needs no question


def test_an_app_tokens_comment_is_authored_by_its_bot_and_found_again(standin: StandIn) -> None:
    actions = post(standin, "the Actions token", scope="other-scope")
    mine = [post(standin, f"app run {run}", token=APP) for run in (1, 2)]
    assert [r.action for r in mine] == [StickyAction.CREATED, StickyAction.UPDATED]
    assert APP_BOT in mine[0].reason  # read back from our own POST's answer
    comments = standin.comments(REPO.full_name, PR)
    assert [(c.login, c.body) for c in comments] == [
        (ACTIONS_BOT, f"{marker_for('other-scope')}\nthe Actions token"), (APP_BOT, f"{MARKER}\napp run 2")
    ]  # fmt: skip
    assert actions.comment_id == comments[0].id


def test_four_matrix_legs_then_a_merge_leave_one_comment(standin: StandIn) -> None:
    for push in (1, 2):
        for leg in ("x64-vnni", "x64", "arm64", "x64-avx512"):
            assert post(standin, f"{leg} report", mode=CommentMode.OFF).action is StickyAction.SKIPPED
        merged = post(standin, f"push {push}: fleet of 4 runners")
        assert merged.action is (StickyAction.CREATED if push == 1 else StickyAction.UPDATED)
    assert bodies(standin) == [f"{MARKER}\npush 2: fleet of 4 runners"]
    assert standin.requests_to("DELETE") == []


def test_sequential_legs_sharing_a_scope_update_one_comment(standin: StandIn) -> None:
    ids = {post(standin, f"leg {leg}").comment_id for leg in range(4)}
    assert len(ids) == 1
    assert bodies(standin) == [f"{MARKER}\nleg 3"]


def test_concurrent_legs_sharing_a_scope_converge_on_one_comment(standin: StandIn) -> None:
    barrier = threading.Barrier(4)
    results: list[StickyResult] = []

    def leg(n: int) -> None:
        client = make_client(standin)
        barrier.wait()
        results.append(post_sticky(client, REPO, PR, f"leg {n}", scope=SCOPE, mode=CommentMode.UPDATE, failed=False))

    threads = [threading.Thread(target=leg, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    survivors = standin.comments(REPO.full_name, PR)
    assert len(survivors) == 1
    assert {r.comment_id for r in results} == {survivors[0].id}


def test_each_scope_has_its_own_comment(standin: StandIn) -> None:
    for run in (1, 2):
        for scope in ("policy-a", "policy-b"):
            post(standin, f"{scope} run {run}", scope=scope)
    assert bodies(standin) == [f"{marker_for('policy-a')}\npolicy-a run 2", f"{marker_for('policy-b')}\npolicy-b run 2"]


def test_another_users_comment_quoting_the_marker_is_never_touched(standin: StandIn) -> None:
    quoted = f"Why does the bot write `{MARKER}`?\n\n> {MARKER}\n> int8gate says fail"
    theirs = standin.add_comment(REPO.full_name, PR, quoted, "mallory")
    other_bot = standin.add_comment(REPO.full_name, PR, f"{MARKER}\ncopied", "octocat")
    for run in (1, 2):
        post(standin, f"run {run}")
    comments = {c.id: c for c in standin.comments(REPO.full_name, PR)}
    assert comments[theirs].body == quoted
    assert comments[theirs].updated_at == comments[theirs].created_at
    assert comments[other_bot].body == f"{MARKER}\ncopied"
    assert len(comments) == 3
    patched = {s.path.rsplit("/", 1)[1] for s in standin.requests_to("PATCH")}
    assert patched.isdisjoint({str(theirs), str(other_bot)})


def test_a_pat_never_takes_over_the_actions_bots_comment(standin: StandIn) -> None:
    bot = post(standin, "from the Actions token")
    mine = post(standin, "from a PAT", token=PAT)
    assert mine.comment_id != bot.comment_id
    assert bodies(standin) == [f"{MARKER}\nfrom the Actions token", f"{MARKER}\nfrom a PAT"]


def test_our_comment_on_page_3_of_250_is_found(standin: StandIn) -> None:
    for i in range(230):
        standin.add_comment(REPO.full_name, PR, f"chatter {i}", "mallory")
    ours = post(standin, "first")
    for i in range(19):
        standin.add_comment(REPO.full_name, PR, f"more chatter {i}", "mallory")
    again = post(standin, "second")
    assert again.comment_id == ours.comment_id
    assert again.action is StickyAction.UPDATED
    assert len(standin.comments(REPO.full_name, PR)) == 250
    assert any("page=3" in s.query for s in standin.requests_to("GET", "/comments"))


def test_the_comment_lands_once_through_5xx_then_429_then_a_dropped_connection(standin: StandIn) -> None:
    clock = FakeClock()
    standin.fail_next(3, 502, path="/comments")
    standin.rate_limit_next(retry_after=5, path="/comments")
    standin.drop_next(method="POST")
    result = post(standin, "through the storm", clock=clock)
    assert result.action is StickyAction.CREATED
    assert bodies(standin) == [f"{MARKER}\nthrough the storm"]
    comment_calls = [(s.method, s.status) for s in standin.seen if s.path.endswith("/comments")]
    assert comment_calls[:7] == [("GET", 502), ("GET", 502), ("GET", 502), ("GET", 429), ("GET", 200),
                                 ("POST", 0), ("GET", 200)]  # fmt: skip
    assert comment_calls[7:] == [("POST", 201), ("GET", 200)]  # created once, then the convergence check
    assert clock.sleeps[3] >= 5  # retry-after honoured
    assert sum(clock.sleeps) <= 120


def test_a_post_that_landed_before_the_connection_dropped_is_not_duplicated(standin: StandIn) -> None:
    standin.drop_next(after_processing=True, method="POST")
    standin.fail_next(1, 502, method="POST")
    result = post(standin, "exactly once")
    assert len(standin.comments(REPO.full_name, PR)) == 1
    assert result.comment_id == standin.comments(REPO.full_name, PR)[0].id
    assert len(standin.requests_to("POST")) == 1


def test_a_post_answered_502_without_landing_is_sent_again(standin: StandIn) -> None:
    standin.fail_next(2, 502, method="POST")
    post(standin, "second time lucky")
    assert bodies(standin) == [f"{MARKER}\nsecond time lucky"]
    assert [s.status for s in standin.requests_to("POST")] == [502, 502, 201]


def test_a_failed_duplicate_check_after_creating_still_reports_the_comment(standin: StandIn) -> None:
    standin.go_down(503, after=3)  # GET /user, list, POST answer; then the duplicate check meets an outage
    result = post(standin, "landed", budget_s=10.0)
    assert result.action is StickyAction.CREATED
    assert "duplicate check failed" in result.reason
    assert bodies(standin) == [f"{MARKER}\nlanded"]


def test_github_down_for_good_is_a_typed_error_within_the_budget(standin: StandIn) -> None:
    clock = FakeClock()
    standin.go_down(502)
    with pytest.raises(GitHubUnavailableError, match="gave up") as caught:
        post(standin, "never", clock=clock, budget_s=30.0)
    assert "HTTP 502" in str(caught.value)
    assert sum(clock.sleeps) <= 30.0
    standin.come_back()
    assert bodies(standin) == []


def test_a_read_only_token_is_a_result_not_an_error(standin: StandIn) -> None:
    clock = FakeClock()
    result = post(standin, "from a fork", token=READ_ONLY, clock=clock)
    assert result.action is StickyAction.READ_ONLY
    assert "Resource not accessible by integration" in result.reason
    assert clock.sleeps == []
    assert bodies(standin) == []


def test_mode_off_makes_no_request(standin: StandIn) -> None:
    assert post(standin, "x", mode=CommentMode.OFF).action is StickyAction.SKIPPED
    assert standin.seen == []


def test_mode_new_adds_a_comment_each_run(standin: StandIn) -> None:
    a, b = post(standin, "a", mode=CommentMode.NEW), post(standin, "b", mode=CommentMode.NEW)
    assert (a.action, b.action) == (StickyAction.CREATED, StickyAction.CREATED)
    assert bodies(standin) == [f"{MARKER}\na", f"{MARKER}\nb"]


def test_mode_on_failure_comments_on_failure_and_later_says_it_passed(standin: StandIn) -> None:
    assert post(standin, "pass", mode=CommentMode.ON_FAILURE).action is StickyAction.SKIPPED
    assert standin.requests_to("POST") == []
    assert post(standin, "fail", mode=CommentMode.ON_FAILURE, failed=True).action is StickyAction.CREATED
    assert post(standin, "fixed", mode=CommentMode.ON_FAILURE).action is StickyAction.UPDATED
    assert bodies(standin) == [f"{MARKER}\nfixed"]


def test_an_oversized_body_is_cut_safely_and_still_lands(standin: StandIn) -> None:
    body = "# Report\n<details><summary>all rows</summary>\n\n```\n" + "row\n" * 40_000
    result = post(standin, body)
    assert result.truncated
    (posted,) = bodies(standin)
    assert len(posted) <= COMMENT_LIMIT
    assert posted.startswith(MARKER)
    assert posted.count("```") % 2 == 0
    assert posted.count("<details") == posted.count("</details>")
    assert "Cut to fit" in posted


def test_when_github_counts_bytes_the_body_is_cut_again_by_bytes(standin: StandIn) -> None:
    standin.limit_in_bytes = True
    result = post(standin, "é" * 60_000)
    assert result.truncated
    (posted,) = bodies(standin)
    assert len(posted.encode("utf-8")) <= COMMENT_LIMIT
    assert [s.status for s in standin.requests_to("POST")] == [422, 201]


def test_fit_body_leaves_short_bodies_alone_and_moves_the_marker_first() -> None:
    assert fit_comment("hello", MARKER) == (f"{MARKER}\nhello", False)
    assert fit_comment(f"{MARKER}\nhello", MARKER) == (f"{MARKER}\nhello", False)
    assert fit_comment(f"title\n{MARKER}\nhello", MARKER) == (f"{MARKER}\ntitle\n\nhello", False)
    text, cut = fit_comment("x" * 70_000, MARKER)
    assert cut
    assert len(text) <= COMMENT_LIMIT
    assert text.startswith(MARKER)


@pytest.mark.parametrize("scope", ["", "a b", "x-->", "a--b", "ü", "x" * 101])
def test_a_bad_scope_is_a_usage_error(scope: str) -> None:
    with pytest.raises(UsageError, match="comment scope"):
        marker_for(scope)
