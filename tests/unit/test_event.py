"""Event reading over GitHub's real payloads (and the derived fork variants): PR, repository, fork, activity."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from support.ghcontract import EVENTS_DIR
from support.ghstandin import StandIn, make_client

from int8gate.github.answers import Repo
from int8gate.github.event import (
    Activity,
    EventPayloadError,
    PullRequestFacts,
    check_artifact_claim,
    find_activity,
)


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
    return data



@pytest.mark.parametrize(
    ("event_name", "file"),
    [
        ("pull_request", "pull_request.opened.json"),
        ("pull_request", "pull_request.reopened.json"),
        ("pull_request", "pull_request.synchronize.json"),
        ("pull_request_target", "pull_request_target.opened.json"),
        ("pull_request_target", "pull_request_target.synchronize.json"),
    ],
)
def test_same_repository_pull_request_is_commented_on_directly(event_name: str, file: str) -> None:
    facts = find_activity(event_name, payload(file))
    assert facts.activity is Activity.COMMENT
    assert facts.pr_number == 2
    assert facts.repository == "Codertocat/Hello-World"
    assert facts.is_fork is False
    assert facts.pull_request is not None
    assert facts.pull_request.head_sha == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert facts.pull_request.base_sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"  # what the gate compares with


def test_fork_pull_request_leaves_an_artifact_because_its_token_is_read_only() -> None:
    facts = find_activity("pull_request", payload("derived/pull_request.opened.fork.json"))
    assert facts.activity is Activity.FORK_ARTIFACT
    assert facts.is_fork is True
    assert facts.pr_number == 2
    assert facts.repository == "Codertocat/Hello-World"
    assert facts.pull_request is not None
    assert facts.pull_request.head_repo == "forker/Hello-World"


def test_fork_pull_request_target_has_a_write_token_so_it_comments() -> None:
    facts = find_activity("pull_request_target", payload("derived/pull_request_target.opened.fork.json"))
    assert facts.activity is Activity.COMMENT
    assert facts.is_fork is True


def test_workflow_run_with_a_pull_request_names_it() -> None:
    facts = find_activity("workflow_run", payload("workflow_run.completed.json"))
    assert facts.activity is Activity.POST_FROM_ARTIFACT
    assert facts.repository == "octo-org/octo-repo"
    assert facts.workflow_run is not None
    assert facts.workflow_run.pull_request_numbers == (2,)
    assert facts.workflow_run.run_id == 289782451
    assert facts.workflow_run.conclusion == "success"
    assert facts.pr_number == 2
    assert facts.is_fork is False


def test_workflow_run_without_pull_requests_has_no_number() -> None:
    facts = find_activity("workflow_run", payload("workflow_run.completed.no-pull-requests.json"))
    assert facts.activity is Activity.POST_FROM_ARTIFACT
    assert facts.pr_number is None


def test_workflow_run_of_a_fork_pr_has_an_empty_list_and_is_a_fork() -> None:
    facts = find_activity("workflow_run", payload("derived/workflow_run.completed.fork-pr.json"))
    assert facts.workflow_run is not None
    assert facts.workflow_run.pull_request_numbers == ()
    assert facts.workflow_run.event == "pull_request"
    assert facts.workflow_run.head_repo == "forker/octo-repo"
    assert facts.workflow_run.head_branch == "changes"
    assert facts.pr_number is None
    assert facts.is_fork is True


@pytest.mark.parametrize(
    ("event_name", "file"),
    [("push", "push.json"), ("push", "push.tag-deleted.json"), ("workflow_dispatch", "workflow_dispatch.json")],
)
def test_events_without_a_pull_request_get_summary_only(event_name: str, file: str) -> None:
    facts = find_activity(event_name, payload(file))
    assert facts.activity is Activity.NO_PULL_REQUEST
    assert facts.pr_number is None
    assert facts.is_fork is False
    assert facts.repository in ("Codertocat/Hello-World", "octo-org/octo-repo")


def test_repository_falls_back_to_github_repository() -> None:
    facts = find_activity("schedule", {}, repository="octo-org/octo-repo")
    assert facts.repository == "octo-org/octo-repo"
    with pytest.raises(EventPayloadError, match="GITHUB_REPOSITORY"):
        find_activity("schedule", {})


def test_deleted_fork_head_repo_null_counts_as_a_fork() -> None:
    data = payload("derived/pull_request.opened.fork.json")
    data["pull_request"]["head"]["repo"] = None
    facts = find_activity("pull_request", data)
    assert facts.is_fork is True
    assert facts.activity is Activity.FORK_ARTIFACT


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("pull_request"), r"pull_request\.pull_request is missing"),
        (lambda d: d["pull_request"].__setitem__("number", "2"), r"pull_request\.number is missing or not an int"),
        (lambda d: d["pull_request"]["base"].pop("repo"), r"base\.repo is missing"),
        (lambda d: d["pull_request"]["head"].__setitem__("sha", None), r"head\.sha is missing"),
    ],
)
def test_malformed_payload_says_which_field(mutate: Any, message: str) -> None:
    data = copy.deepcopy(payload("pull_request.opened.json"))
    mutate(data)
    with pytest.raises(EventPayloadError, match=message) as caught:
        find_activity("pull_request", data)
    assert caught.value.exit_code == 2


def test_fork_artifact_claim_is_checked_against_the_pull_request_as_github_reports_it(standin: StandIn) -> None:
    run = find_activity("workflow_run", payload("derived/workflow_run.completed.fork-pr.json")).workflow_run
    assert run is not None
    standin.open_pull("octo-org/octo-repo", 2, head_repo="forker/octo-repo", head_sha=run.head_sha)
    standin.open_pull("octo-org/octo-repo", 3)  # a same-repo PR an artifact might falsely name
    client = make_client(standin)
    claimed = client.get_pull_request(Repo.parse("octo-org/octo-repo"), 2)
    assert claimed.is_fork
    assert check_artifact_claim(claimed, run, "octo-org/octo-repo") is None
    other = client.get_pull_request(Repo.parse("octo-org/octo-repo"), 3)
    reason = check_artifact_claim(other, run, "octo-org/octo-repo")
    assert reason is not None
    assert "comes from octo-org/octo-repo, the run from forker/octo-repo" in reason


def test_fork_artifact_claim_refuses_a_moved_pr_and_another_base() -> None:
    run = find_activity("workflow_run", payload("derived/workflow_run.completed.fork-pr.json")).workflow_run
    assert run is not None
    moved = PullRequestFacts(2, "forker/octo-repo", "octo-org/octo-repo", "0" * 40, "changes")
    assert "moved on" in (check_artifact_claim(moved, run, "octo-org/octo-repo") or "")
    elsewhere = PullRequestFacts(2, "forker/octo-repo", "someone/else", run.head_sha, "changes")
    assert "targets someone/else" in (check_artifact_claim(elsewhere, run, "octo-org/octo-repo") or "")
