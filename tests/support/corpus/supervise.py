"""Run one command the way the hostile corpus needs it, and say what it did: ``python supervise.py < job.json``.

Standalone (standard library only) and run as its own process, because it makes itself a child
subreaper: workers a dying gate leaves behind stay its descendants, so they are seen, measured and
counted as left over. For the command in the job it:

- isolates it when it can (``unshare -n -m``, or ``-r -n -m`` without root): no network but an
  unconfigured loopback, so a DNS lookup fails at ``connect()`` where strace sees it and nothing is
  sent; the system ``/tmp`` and the account's ``~/.cache`` (where a process without ``HOME`` keeps
  ONNX Runtime's telemetry) are bind mounts of folders the job names, so writes there are seen too;
- traces it with ``strace -f --seccomp-bpf`` (file and network calls), when strace works;
- caps every process's address space (``RLIMIT_AS``) and kills the whole tree after ``timeout`` s;
- samples ``/proc`` every 50 ms: the largest ``VmHWM`` (peak resident memory) of any one process;
- for ``cancel_after``, sends SIGTERM to the gate's process group then, as a cancelled CI job does,
  and lists every process still alive 3 s later.

The job (JSON on stdin): argv, cwd, env, timeout, mem_cap_mb, cancel_after, strace ("narrow", "full"
or "off"), trace_log, sys_tmp, pw_cache. The answer (JSON on stdout): exit, stdout, stderr (lines),
wall_s, hang, cancelled, left, peak_kb, peak_cmd, traced, isolated, writes [[call, path]], opens,
network.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.05
SETTLE_SECONDS = 1.0
CANCEL_SETTLE_SECONDS = 3.0
PR_SET_CHILD_SUBREAPER = 36
STRACE_NARROW = ("trace=open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,rmdir,"
                 "symlink,symlinkat,link,linkat,truncate,%network")  # fmt: skip
STRACE_FULL = "trace=%file,%network"
HELPERS = {"strace", "unshare"}

ISOLATE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def bind(src, dst):
    if libc.mount(src.encode(), dst.encode(), None, 4096, None) != 0:
        raise SystemExit(f"isolate: mount --bind {src} {dst}: {os.strerror(ctypes.get_errno())}")
if sys.argv[3] and os.path.isdir(sys.argv[3]):
    bind(sys.argv[2], sys.argv[3])
if sys.argv[1]:
    bind(sys.argv[1], "/tmp")
os.execvp(sys.argv[4], sys.argv[4:])
"""
"""In the new namespaces: bind the job's folders over /tmp and ~/.cache, then exec the command (Python,
not sh, because sh drops variables named like the Action's ``INPUT_GITHUB-TOKEN``)."""


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _unshare() -> list[str]:
    for candidate in (["unshare", "-n", "-m", "--propagation", "private"],
                      ["unshare", "-r", "-n", "-m", "--propagation", "private"]):  # fmt: skip
        if _works([*candidate, sys.executable, "-c", ISOLATE, "", "", "", "true"]):
            return candidate
    return []


def _strace_works() -> bool:
    return shutil.which("strace") is not None and _works(["strace", "-f", "-qq", "-o", "/dev/null", "true"])


def _account_cache() -> str:
    try:
        return str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache")
    except KeyError:
        return ""


class Tree:
    """This process's descendants (it is a subreaper, so orphans stay descendants) and their peaks."""

    def __init__(self) -> None:
        self.me = os.getpid()
        self.members: set[int] = set()
        self.peak_kb = 0
        self.peak_cmd = ""

    @staticmethod
    def _stat(pid: int) -> tuple[int, str, str] | None:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        rest = text[text.rindex(")") + 2 :].split()
        return int(rest[1]), text[text.index("(") + 1 : text.rindex(")")], rest[0]

    def scan(self) -> dict[int, tuple[int, str, str]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                info = self._stat(int(entry.name))
                if info is not None:
                    found[int(entry.name)] = info
        self.members &= set(found)
        changed = True
        while changed:
            changed = False
            for pid, (ppid, _, _) in found.items():
                if pid not in self.members and (ppid == self.me or ppid in self.members):
                    self.members.add(pid)
                    changed = True
        return {pid: found[pid] for pid in self.members}

    def sample(self) -> None:
        procs = self.scan()
        lines = {pid: _cmdline(pid) for pid in procs}
        for pid, (ppid, comm, state) in procs.items():
            if state == "Z" or comm in HELPERS or lines.get(ppid) == lines[pid]:
                continue  # zombies, the wrappers, and a fork not yet exec'd (it reports its parent's pages)
            hwm = _hwm_kb(pid)
            if hwm > self.peak_kb:
                self.peak_kb, self.peak_cmd = hwm, lines[pid]

    def alive(self, exclude: int) -> list[int]:
        return [pid for pid, (_, _, state) in self.scan().items() if state != "Z" and pid != exclude]

    def reap(self, main: int) -> None:
        for pid, (ppid, _, state) in self.scan().items():
            if state == "Z" and ppid == self.me and pid != main:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def kill_all(self, main: int) -> None:
        for _ in range(3):
            for pid in self.alive(main):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            self.reap(main)


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)[:200]


_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")
_MUTATING = {"mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "rmdir", "symlink",
             "symlinkat", "link", "linkat", "truncate", "creat"}  # fmt: skip
_NET = {"connect", "sendto", "sendmsg"}
_LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$")
_STR = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DIRFD = re.compile(r"^(?:AT_FDCWD|-?\d+<([^>]*)>)")


def _unescape(text: str) -> str:
    try:
        return bytes(text, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")
    except (UnicodeDecodeError, ValueError):
        return text


def _merged(lines: list[str]) -> list[str]:
    pending: dict[str, str] = {}
    out = []
    for line in lines:
        pid = line.split(" ", 1)[0]
        if line.endswith("<unfinished ...>"):
            pending[pid] = line[: -len("<unfinished ...>")].rstrip()
            continue
        resumed = re.match(r"^(\d+)\s+<\.\.\. \w+ resumed>(.*)$", line)
        head = pending.pop(resumed.group(1), None) if resumed else None
        out.append(head + resumed.group(2) if resumed and head is not None else line)
    return out


def parse_strace(path: Path, cwd: str) -> tuple[list[list[str]], list[str], list[str]]:
    """(writes [call, absolute path] that succeeded, every path opened, network calls off loopback)."""
    writes: list[list[str]] = []
    opens: list[str] = []
    network: list[str] = []
    if not path.is_file():
        return writes, opens, network
    for line in _merged(path.read_text(errors="replace").splitlines()):
        m = _LINE.match(line)
        if not m:
            continue
        _, call, args, ret, tail = m.groups()
        if call in _NET:
            address = re.search(r"\{sa_family=[^}]*\}", args)
            if address and "127.0.0.1" not in address.group(0) and "sun_path" not in address.group(0):
                network.append(f"{call} {address.group(0)} = {ret}{tail.strip()[:40]}")
            continue
        if ret == "?" or int(ret) < 0:
            continue
        strings = [_unescape(s) for s in _STR.findall(args)]
        if not strings:
            continue
        dirfd = _DIRFD.match(args)
        relative_to_fd = (call.endswith("at") or call == "renameat2") and dirfd and dirfd.group(1)
        base = dirfd.group(1) if relative_to_fd and dirfd else cwd
        if call in ("open", "openat"):
            opens.append(_absolute(base, strings[0]))
            if not any(flag in args for flag in _WRITE_FLAGS):
                continue
        elif call not in _MUTATING:
            continue
        targets = strings[:2] if call.startswith(("rename", "link")) else strings[-1:] if call.startswith("symlink") else strings[:1]
        writes.extend([call, _absolute(base, target)] for target in targets)
    return writes, opens, network


def _absolute(base: str, target: str) -> str:
    return os.path.normpath(target if target.startswith("/") else f"{base}/{target}")


def supervise(job: dict[str, Any]) -> dict[str, Any]:
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    cancel_after = job.get("cancel_after")
    traced = job.get("strace", "narrow") != "off" and cancel_after is None and _strace_works()
    command = list(job["argv"])
    if traced:
        expression = STRACE_FULL if job.get("strace") == "full" else STRACE_NARROW
        command = ["strace", "-f", "-qq", "--seccomp-bpf", "-y", "-s", "300", "-e", expression, "-e", "signal=none",
                   "-o", job["trace_log"], "--", *command]  # fmt: skip
    prefix = _unshare() if job.get("isolate", True) else []
    if prefix:
        under_tmp = Path(job["sys_tmp"]).resolve().is_relative_to(Path("/tmp").resolve())
        command = [*prefix, sys.executable, "-c", ISOLATE, "" if under_tmp else job["sys_tmp"], job["pw_cache"],
                   _account_cache(), *command]  # fmt: skip
    cap = int(job.get("mem_cap_mb", 4096)) << 20

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    tree = Tree()
    stderr: list[str] = []
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=job["cwd"], env=job["env"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=limit)  # noqa: PLW1509 - no thread runs yet  # fmt: skip
    chunks: list[bytes] = []

    def read(stream: Any, sink: Any) -> None:
        for raw in stream:
            sink(raw)

    readers = [threading.Thread(target=read, args=(proc.stdout, chunks.append), daemon=True),
               threading.Thread(target=read, args=(proc.stderr, lambda raw: stderr.append(
                   raw.decode("utf-8", "replace").rstrip("\n"))), daemon=True)]  # fmt: skip
    for reader in readers:
        reader.start()
    hang = cancelled = False
    while proc.poll() is None:
        tree.sample()
        tree.reap(proc.pid)
        elapsed = time.monotonic() - start
        if cancel_after is not None and not cancelled and elapsed >= float(cancel_after):
            cancelled = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        if elapsed > float(job["timeout"]):
            hang = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            tree.kill_all(proc.pid)
            break
        time.sleep(SAMPLE_SECONDS)
    proc.wait()
    wall = time.monotonic() - start
    settle = time.monotonic() + (CANCEL_SETTLE_SECONDS if cancelled else SETTLE_SECONDS)
    while time.monotonic() < settle and tree.alive(proc.pid):
        tree.sample()
        tree.reap(proc.pid)
        time.sleep(SAMPLE_SECONDS)
    left = [f"{pid} {_cmdline(pid)}" for pid in tree.alive(proc.pid)]
    if left:
        tree.kill_all(proc.pid)
    for reader in readers:
        reader.join(timeout=5)
    writes, opens, network = parse_strace(Path(job["trace_log"]), job["cwd"]) if traced else ([], [], [])
    return {
        "exit": proc.returncode, "stdout": b"".join(chunks).decode("utf-8", "replace"), "stderr": stderr,
        "wall_s": round(wall, 2), "hang": hang, "cancelled": cancelled, "left": left,
        "peak_kb": tree.peak_kb, "peak_cmd": tree.peak_cmd, "traced": traced, "isolated": bool(prefix),
        "writes": writes, "opens": opens, "network": sorted(set(network)),
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(supervise(json.loads(sys.stdin.read()))))
