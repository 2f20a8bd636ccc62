"""A GitHub stand-in: a real HTTP server on 127.0.0.1 that holds every request and answer to the contract.

It serves the REST operations int8gate uses (list, create, update and delete issue comments, get a
pull request, and ``GET /user``) from in-memory state, paginates with ``Link`` headers, and checks
every request and every response against ``tests/fixtures/github/rest-subset.openapi.json`` (see
``ghcontract``). A request that breaks the contract gets GitHub's error shape *and* is recorded in
``violations``; the ``standin`` fixture fails the test if any were recorded.

``GET /user`` is not in the cut-down description; its answer is held to ``simple-user``. Like
GitHub, it answers 403 "Resource not accessible by integration" to an installation token, and so do
writes with a read-only token (a fork PR's). Faults are injected on demand: N x 5xx, 429 with
``retry-after``, secondary and primary rate-limit 403s, a dropped connection (before or after the
write is done), a stall, or being down for good.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from int8gate.github.client import GitHubClient, RetryPolicy, make_session
from support.ghcontract import ERROR_EXAMPLES_FILE, EVENTS_DIR, Contract, Operation
from support.ghfaults import FakeClock, Faults

CONTRACT = Contract()
ERROR_EXAMPLES = json.loads(ERROR_EXAMPLES_FILE.read_text(encoding="utf-8"))["examples"]
TOO_LONG_POST = ERROR_EXAMPLES[0]
TOO_LONG_PATCH = ERROR_EXAMPLES[1]
READ_ONLY_403 = ERROR_EXAMPLES[2]
MAX_BODY = 65_536

# GET /user is not in the cut-down description: its 200 is held to simple-user in ``_get_user``.
USER_OPERATION = Operation("GET", "/user", "users/get-authenticated (stand-in extension)", "", re.compile("^/user$"))

PAT = "ghp_standinPAT0000000000000000000000000"
ACTIONS = "ghs_standinActions000000000000000000000"
READ_ONLY = "ghs_standinReadOnly00000000000000000000"
OTHER_USER = "ghp_standinOtherUser000000000000000000"
APP = "ghs_standinAppInstallation0000000000000"
ACTIONS_BOT = "github-actions[bot]"
APP_BOT = "int8gate-ci[bot]"


@dataclass(frozen=True)
class TokenInfo:
    """Who a token is and what it may do."""

    login: str
    installation: bool
    can_write: bool


@dataclass(frozen=True)
class Seen:
    """One request as the stand-in saw it, and what it answered (0: no answer)."""

    method: str
    path: str
    query: str
    status: int
    token_login: str | None
    headers: tuple[tuple[str, str], ...]


@dataclass
class _Comment:
    id: int
    repo: str
    issue: int
    body: str
    login: str
    created_at: str
    updated_at: str


@dataclass
class _State:
    tokens: dict[str, TokenInfo] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, _Comment] = field(default_factory=dict)
    next_id: int = 1_000_001
    clock: int = 0


def user_json(login: str, user_id: int, kind: str) -> dict[str, Any]:
    """A ``simple-user`` object as GitHub returns it."""
    api = f"https://api.github.com/users/{login}"
    return {
        "login": login, "id": user_id, "node_id": f"U_standin{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4", "gravatar_id": "",
        "url": api, "html_url": f"https://github.com/{login}", "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}", "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs", "repos_url": f"{api}/repos", "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events", "type": kind, "site_admin": False,
        "user_view_type": "public",
    }  # fmt: skip


class StandIn(Faults):
    """The server and its state. Use as a context manager, or through the ``standin`` fixture."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix.rstrip("/")
        self._lock = threading.Lock()
        self._state = _State()
        self._stop = threading.Event()
        self.violations: list[str] = []
        self.seen: list[Seen] = []
        self.limit_in_bytes = False
        """Count the 65,536 limit in UTF-8 bytes instead of characters (to exercise the fallback)."""
        self.add_token(PAT, "octocat", installation=False)
        self.add_token(OTHER_USER, "mallory", installation=False)
        self.add_token(ACTIONS, ACTIONS_BOT, installation=True)
        self.add_token(READ_ONLY, ACTIONS_BOT, installation=True, can_write=False)
        self.add_token(APP, APP_BOT, installation=True)  # a GitHub App's installation token
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name="ghstandin", daemon=True
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def __enter__(self) -> StandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The API base URL to hand the client (``GITHUB_API_URL``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    # -- arranging state --------------------------------------------------------------------------

    def add_token(self, token: str, login: str, *, installation: bool, can_write: bool = True) -> None:
        with self._lock:
            self._state.tokens[token] = TokenInfo(login, installation, can_write)
            if login not in self._state.users:
                kind = "Bot" if login.endswith("[bot]") else "User"
                uid = 41898282 if login == ACTIONS_BOT else 583231 + len(self._state.users)
                self._state.users[login] = user_json(login, uid, kind)

    def open_pull(self, repo: str, number: int, *, head_repo: str | None = None,
                  head_sha: str = "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
                  head_ref: str = "changes") -> None:  # fmt: skip
        """Open a pull request (and so its issue) from the real ``pull_request.opened`` payload."""
        pr = json.loads((EVENTS_DIR / "pull_request.opened.json").read_text(encoding="utf-8"))["pull_request"]
        text = json.dumps(pr).replace("Codertocat/Hello-World", repo)
        pr = json.loads(text)
        pr["number"] = number
        pr["head"]["sha"], pr["head"]["ref"] = head_sha, head_ref
        if head_repo is not None and head_repo != repo:
            pr["head"]["repo"] = json.loads(json.dumps(pr["head"]["repo"]).replace(repo, head_repo))
            pr["head"]["repo"]["fork"] = True
        with self._lock:
            self._state.pulls[(repo, number)] = pr

    def add_comment(self, repo: str, issue: int, body: str, login: str) -> int:
        """A comment written by ``login`` (someone else, or an earlier run)."""
        with self._lock:
            return self._create(repo, issue, body, login).id

    def comments(self, repo: str, issue: int) -> list[_Comment]:
        """The comments of an issue, oldest first (copies)."""
        with self._lock:
            found = [c for c in self._state.comments.values() if c.repo == repo and c.issue == issue]
            return [_Comment(**vars(c)) for c in sorted(found, key=lambda c: c.id)]

    # -- faults -----------------------------------------------------------------------------------

    # -- serving ----------------------------------------------------------------------------------

    def handle(self, req: _Handler) -> None:
        split = urlsplit(req.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        token = _bearer(req.headers.get("Authorization", ""))
        who = self._state.tokens.get(token) if token else None
        note = (req.command, path, split.query, who.login if who else None,
                tuple((k.lower(), v) for k, v in req.headers.items() if k.lower() != "authorization"))  # fmt: skip
        fault = self._take_fault(req.command, path)
        if fault is not None and fault.kind in ("drop", "stall"):
            self._stop.wait(fault.stall_s)
            return self._record(note, 0, req)
        if fault is not None and fault.kind == "status":
            return self._reply(req, note, None, fault.status, fault.body, dict(fault.headers))
        operation, status, body, headers = self._serve(req, path, query, raw, who)
        if fault is not None and fault.kind == "drop-after":
            return self._record(note, 0, req)
        self._reply(req, note, operation, status, body, headers)
        return None

    def _serve(
        self, req: _Handler, path: str, query: dict[str, list[str]], raw: bytes, who: TokenInfo | None
    ) -> tuple[Operation | None, int, Any, dict[str, str]]:
        if self.prefix:
            if not path.startswith(self.prefix + "/"):
                self.violations.append(f"{req.command} {path}: outside the API prefix {self.prefix}")
                return None, 404, _error("Not Found"), {}
            path = path[len(self.prefix) :]
        problems = _header_problems(req)
        self.violations.extend([f"{req.command} {path}: {p}" for p in problems])
        if not req.headers.get("Authorization"):
            return None, 401, _error("Requires authentication"), {}
        if who is None:
            return None, 401, _error("Bad credentials"), {}
        if not req.headers.get("User-Agent"):
            return None, 403, _error("Request forbidden by administrative rules. "
                                     "Please make sure your request has a User-Agent header"), {}  # fmt: skip
        if req.command == "GET" and path == "/user":
            return self._get_user(query, raw, who)
        route = CONTRACT.route(req.command, path)
        if route is None:
            self.violations.append(f"{req.command} {path}: no such operation in the contract")
            return None, 404, _error("Not Found"), {}
        bad, data = CONTRACT.request_problems(route, query, req.headers.get("Content-Type", ""), raw)
        if bad:
            self.violations.extend([f"{req.command} {path}: {p}" for p in bad])
            errors = [{"resource": "IssueComment", "code": "invalid", "field": "body", "message": p} for p in bad]
            return route.operation, 422, {"message": "Validation Failed", "errors": errors,
                                          "documentation_url": "https://docs.github.com/rest"}, {}  # fmt: skip
        params = route.path_params
        repo = f"{params['owner']}/{params['repo']}"
        with self._lock:
            status, body, headers = self._dispatch(route.operation.operation_id, repo, params, query, data, who)
        return route.operation, status, body, headers

    def _get_user(
        self, query: dict[str, list[str]], raw: bytes, who: TokenInfo
    ) -> tuple[Operation | None, int, Any, dict[str, str]]:
        if query or raw:
            self.violations.append("GET /user takes no query and no body")
        if who.installation:
            body = {"message": READ_ONLY_403["body"]["message"],
                    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                    "status": "403"}  # fmt: skip
            return USER_OPERATION, 403, body, {}
        user = dict(self._state.users[who.login])
        problems = CONTRACT.schema_problems("/components/schemas/simple-user", user)
        self.violations.extend([f"stand-in GET /user answer: {p}" for p in problems])
        return USER_OPERATION, 200, user, {}

    def _dispatch(
        self, op_id: str, repo: str, params: Mapping[str, str], query: dict[str, list[str]], data: Any, who: TokenInfo
    ) -> tuple[int, Any, dict[str, str]]:
        state = self._state
        if op_id == "pulls/get":
            pr = state.pulls.get((repo, int(params["pull_number"])))
            return (200, pr, {}) if pr is not None else (404, _error("Not Found"), {})
        if op_id in ("issues/list-comments", "issues/create-comment"):
            issue = int(params["issue_number"])
            if (repo, issue) not in state.pulls:
                return 404, _error("Not Found"), {}
            if op_id == "issues/list-comments":
                return self._list(repo, issue, query)
            if not who.can_write:
                return 403, READ_ONLY_403["body"], _read_only_headers()
            if self._too_long(data["body"]):
                return 422, TOO_LONG_POST["body"], {}
            comment = self._create(repo, issue, data["body"], who.login)
            return 201, self._comment_json(comment), {"Location": self._comment_api_url(comment)}
        found = state.comments.get(int(params["comment_id"]))
        if found is None or found.repo != repo:
            return 404, _error("Not Found"), {}
        comment = found
        if op_id == "issues/get-comment":
            return 200, self._comment_json(comment), {}
        if not who.can_write:
            return 403, READ_ONLY_403["body"], _read_only_headers()
        if op_id == "issues/delete-comment":
            del state.comments[comment.id]
            return 204, None, {}
        if self._too_long(data["body"]):
            return 422, TOO_LONG_PATCH["body"], {}
        # GitHub lets a collaborator with write access edit anyone's comment; so does the stand-in, so
        # only int8gate's own rule keeps it off other people's comments.
        comment.body, comment.updated_at = data["body"], self._tick()
        return 200, self._comment_json(comment), {}

    def _too_long(self, body: str) -> bool:
        return (len(body.encode("utf-8")) if self.limit_in_bytes else len(body)) > MAX_BODY

    def _list(self, repo: str, issue: int, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        per_page = min(100, max(1, int(query.get("per_page", ["30"])[0])))
        page = max(1, int(query.get("page", ["1"])[0]))
        found = sorted((c for c in self._state.comments.values() if c.repo == repo and c.issue == issue),
                       key=lambda c: c.id)  # fmt: skip
        last = max(1, -(-len(found) // per_page))
        items = [self._comment_json(c) for c in found[(page - 1) * per_page : page * per_page]]
        base = f"{self.url}/repos/{repo}/issues/{issue}/comments"
        links = []
        if page < last:
            links += [f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"',
                      f'<{base}?per_page={per_page}&page={last}>; rel="last"']  # fmt: skip
        if page > 1:
            links += [f'<{base}?per_page={per_page}&page={page - 1}>; rel="prev"',
                      f'<{base}?per_page={per_page}&page=1>; rel="first"']  # fmt: skip
        return 200, items, ({"Link": ", ".join(links)} if links else {})

    def _create(self, repo: str, issue: int, body: str, login: str) -> _Comment:
        now = self._tick()
        comment = _Comment(self._state.next_id, repo, issue, body, login, now, now)
        self._state.comments[comment.id] = comment
        self._state.next_id += 1
        return comment

    def _tick(self) -> str:
        self._state.clock += 1
        minutes, seconds = divmod(self._state.clock, 60)
        return f"2024-05-01T{10 + minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}Z"

    def _comment_api_url(self, c: _Comment) -> str:
        return f"{self.url}/repos/{c.repo}/issues/comments/{c.id}"

    def _comment_json(self, c: _Comment) -> dict[str, Any]:
        return {
            "id": c.id, "node_id": f"IC_standin{c.id}", "url": self._comment_api_url(c),
            "html_url": f"https://github.com/{c.repo}/pull/{c.issue}#issuecomment-{c.id}", "body": c.body,
            "user": self._state.users[c.login], "created_at": c.created_at, "updated_at": c.updated_at,
            "issue_url": f"{self.url}/repos/{c.repo}/issues/{c.issue}",
            "author_association": "NONE" if c.login == "mallory" else "OWNER",
            "performed_via_github_app": None,
        }  # fmt: skip

    def _reply(self, req: _Handler, note: tuple[Any, ...], operation: Operation | None, status: int,
               body: Any, headers: dict[str, str]) -> None:  # fmt: skip
        if operation is USER_OPERATION:
            problems = [] if status == 200 else CONTRACT.response_problems(None, status, headers, body)
        else:
            problems = CONTRACT.response_problems(operation, status, headers, body)
        self.violations.extend([f"stand-in answer {status} to {note[0]} {note[1]}: {p}" for p in problems])
        payload = b"" if body is None else json.dumps(body).encode("utf-8")
        self._record(note, status, None)  # before answering, so the client never outruns the log
        req.send_response(status)
        base = {"Content-Type": "application/json; charset=utf-8", "X-GitHub-Api-Version-Selected": "2022-11-28",
                "X-GitHub-Request-Id": f"STANDIN:{len(self.seen)}", "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "1714560000", "X-RateLimit-Resource": "core",
                "Content-Length": str(len(payload))}  # fmt: skip
        lowered = {k.lower() for k in headers}
        for name, value in [*((k, v) for k, v in base.items() if k.lower() not in lowered), *headers.items()]:
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(payload)

    def _record(self, note: tuple[Any, ...], status: int, drop: _Handler | None) -> None:
        method, path, query, login, headers = note
        with self._lock:
            self.seen.append(Seen(method, path, query, status, login, headers))
        if drop is not None:
            drop.close_connection = True

    def requests_to(self, method: str, path_part: str = "") -> list[Seen]:
        """The requests seen with this method whose path contains ``path_part``."""
        with self._lock:
            return [s for s in self.seen if s.method == method and path_part in s.path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't wait 40 ms for an ACK
    server: ThreadingHTTPServer

    def _go(self) -> None:
        self.server.standin.handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _go  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:
        return


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "token") and token.strip() else None


def _header_problems(req: _Handler) -> list[str]:
    problems = []
    if "application/vnd.github+json" not in req.headers.get("Accept", ""):
        problems.append(f"Accept is {req.headers.get('Accept')!r}, GitHub asks for application/vnd.github+json")
    if req.headers.get("X-GitHub-Api-Version") != "2022-11-28":
        problems.append(f"X-GitHub-Api-Version is {req.headers.get('X-GitHub-Api-Version')!r}")
    if not req.headers.get("User-Agent"):
        problems.append("no User-Agent header (GitHub answers 403)")
    return problems


def _error(message: str) -> dict[str, str]:
    return {"message": message, "documentation_url": "https://docs.github.com/rest"}


def _read_only_headers() -> dict[str, str]:
    seen = READ_ONLY_403["headers_seen"]
    return {"X-Accepted-GitHub-Permissions": seen["x-accepted-github-permissions"]}


def running_standin(prefix: str = "") -> Iterator[StandIn]:
    """For a fixture: a running stand-in; the test fails if any request or answer broke the contract."""
    with StandIn(prefix) as server:
        yield server
        assert server.violations == [], "GitHub contract violations:\n" + "\n".join(server.violations)


def make_client(standin: StandIn, token: str = ACTIONS, clock: FakeClock | None = None,
                **policy: Any) -> GitHubClient:  # fmt: skip
    """A client of the stand-in with a fake clock, seeded jitter and no proxies from the environment."""
    clock = clock if clock is not None else FakeClock()
    return GitHubClient(
        token, base_url=standin.url, session=make_session(trust_env=False), policy=RetryPolicy(**policy),
        sleep=clock.sleep, monotonic=clock.monotonic, wall=clock.wall, rng=random.Random(6),
    )  # fmt: skip
