"""Docker for the container tests: the engine, a local base image, the test-only CA layer, and the Action's image.

No public registry is reachable here, so the base is Debian bookworm made by ``debootstrap`` and
``docker import``. A machine behind a TLS-inspecting proxy needs its CA for pip; that goes into a
test-only base layer (``BASE_CA``), never into the user-facing Dockerfile, which builds with the
legacy builder and BuildKit alike. Containers run with ``--network host`` or ``none`` only.
``INT8GATE_TEST_IMAGE`` names an image to test instead of building one (a pulled release, say).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from support.paths import REPO

BASE = "int8gate-base:bookworm"
BASE_CA = "int8gate-test-base:bookworm-ca"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_DOCKERFILE = """\
# Test-only: the local base plus this machine's CA bundle, for pip behind a TLS-inspecting proxy.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY host-ca-bundle.crt /etc/ssl/certs/int8gate-test-ca-bundle.crt
ENV PIP_CERT=/etc/ssl/certs/int8gate-test-ca-bundle.crt
"""


@dataclass(frozen=True)
class Image:
    """The Action's image under test: which docker client, its reference, and how long the build took."""

    docker: str
    ref: str
    build_s: float | None


def skip_loudly(reason: str) -> NoReturn:
    message = f"container test SKIPPED: {reason}"
    print(message, file=sys.stderr)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


def run(args: Sequence[str], env: Mapping[str, str] | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, env=env, **kw)  # type: ignore[call-overload, no-any-return]


def docker_client() -> str:
    docker = shutil.which("docker")
    if docker is None:
        skip_loudly("no docker client on PATH")
    info = run([docker, "info", "--format", "{{.ServerVersion}}"])
    if info.returncode != 0:
        skip_loudly(f"`docker info` failed, no engine running: {info.stderr.strip()[:200]}")
    return docker


def _ensure_base(docker: str, work: Path) -> None:
    if run([docker, "image", "inspect", BASE]).returncode == 0:
        return
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        skip_loudly(f"{BASE} is missing and debootstrap is not installed to make it")
    rootfs = work / "rootfs"
    made = run([debootstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                "bookworm", str(rootfs), "http://deb.debian.org/debian"])  # fmt: skip
    if made.returncode != 0:
        skip_loudly(f"debootstrap failed: {made.stderr.strip()[-300:]}")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run([docker, "import", "-", BASE], stdin=tar.stdout, capture_output=True, text=True,
                              check=False)  # fmt: skip
    tar.wait()
    assert imported.returncode == 0, imported.stderr


def build(docker: str, context: Path, tag: str, build_args: Mapping[str, str] | None = None) -> float:
    """``docker build`` with whichever builder this machine has (BuildKit, else the legacy one); seconds taken."""
    args = ["build", "--network", "host", "--force-rm", "-t", tag]
    for name, value in (build_args or {}).items():
        args += ["--build-arg", f"{name}={value}"]
    errors = []
    # The static client needs the buildx plugin for BuildKit; Debian's client has BuildKit built in.
    for client, buildkit in ((docker, "1"), ("/usr/bin/docker", "1"), (docker, "0")):
        if not Path(client).exists():
            continue
        started = time.monotonic()
        built = run([client, *args, str(context)], env={**os.environ, "DOCKER_BUILDKIT": buildkit})
        if built.returncode == 0:
            return time.monotonic() - started
        errors.append(f"{client} (BuildKit={buildkit}): {built.stderr.strip()[-400:]}")
    pytest.fail("docker build failed:\n" + "\n".join(errors))


def build_base(docker: str, work: Path) -> str:
    """The base the test image builds on: the local bookworm base, plus this machine's CA if it has one."""
    _ensure_base(docker, work)
    if not CA_BUNDLE.is_file():
        return BASE
    context = work / "ca-base"
    context.mkdir()
    (context / "Dockerfile").write_text(CA_DOCKERFILE, encoding="utf-8")
    shutil.copy(CA_BUNDLE, context / "host-ca-bundle.crt")
    build(docker, context, BASE_CA, {"BASE_IMAGE": BASE})
    return BASE_CA


def action_image(work: Path) -> Iterator[Image]:
    """For a session fixture: the Action's image built from this checkout (removed afterwards)."""
    docker = docker_client()
    given = os.environ.get("INT8GATE_TEST_IMAGE")
    if given:
        yield Image(docker, given, None)
        return
    tag = f"int8gate-action-test:{os.getpid()}"
    base = build_base(docker, work)
    seconds = build(docker, REPO, tag, {"BASE_IMAGE": base})
    try:
        yield Image(docker, tag, seconds)
    finally:
        run([docker, "rmi", tag])


def docker_run(image: Image, env: Mapping[str, str], volumes: Mapping[Path, str], *, network: str = "host",
               args: Sequence[str] = ()) -> tuple[subprocess.CompletedProcess[str], float]:  # fmt: skip
    """Run the image as GitHub's runner runs a Docker action: env passed by name, workspace as the working folder."""
    command = [image.docker, "run", "--rm", "--network", network, "--workdir", "/github/workspace"]
    for host, inside in volumes.items():
        command += ["-v", f"{host}:{inside}"]
    for name in env:
        command += ["-e", name]  # values come from the environment, as the runner passes them
    started = time.monotonic()
    done = run([*command, *args, image.ref], env={**os.environ, **env})
    return done, time.monotonic() - started


@dataclass(frozen=True)
class Registry:
    """A running loopback registry: where to push (``host``, e.g. ``127.0.0.1:5055``)."""

    host: str

    def manifest_digest(self, repository: str, reference: str) -> str:
        """The digest the registry itself names for a tag (the ``Docker-Content-Digest`` header)."""
        accept = ", ".join(["application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json",
                            "application/vnd.docker.distribution.manifest.v2+json"])  # fmt: skip
        request = urllib.request.Request(f"http://{self.host}/v2/{repository}/manifests/{reference}",
                                         method="HEAD", headers={"Accept": accept})  # fmt: skip
        with _NO_PROXY.open(request, timeout=10) as answer:
            return str(answer.headers["Docker-Content-Digest"])


    def verify_pull(self, repository: str, digest: str) -> int:
        """Fetch what a pull by ``digest`` fetches (manifest, config, every layer) and check each digest; bytes read.

        The engine skips layers it already holds, so this is the proof that the registry alone
        serves the whole image under that digest.
        """
        base = f"http://{self.host}/v2/{repository}"
        manifest = self._get(f"{base}/manifests/{digest}", digest, accept=_MANIFEST_TYPES)
        document = json.loads(manifest)
        blobs = [document["config"], *document["layers"]]
        return len(manifest) + sum(len(self._get(f"{base}/blobs/{blob['digest']}", blob["digest"])) for blob in blobs)

    @staticmethod
    def _get(url: str, digest: str, accept: str = "*/*") -> bytes:
        request = urllib.request.Request(url, headers={"Accept": accept})
        with _NO_PROXY.open(request, timeout=60) as answer:
            body: bytes = answer.read()
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        assert actual == digest, f"{url}: served {actual}, not {digest}"
        return body


_MANIFEST_TYPES = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

REGISTRY_CONFIG = """\
# A throwaway loopback registry for one test session (Debian's docker-registry). No auth, no TLS.
version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loopback_registry(work: Path) -> Iterator[Registry]:
    """A registry of its own on 127.0.0.1 (Debian's ``docker-registry``), stopped afterwards.

    The engine trusts plain HTTP to 127.0.0.0/8 by default, so push and pull need no set-up.
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        skip_loudly("docker-registry is not installed (apt-get install docker-registry; .ci/run does)")
    port = _free_port()
    config = work / "registry.yml"
    config.write_text(REGISTRY_CONFIG.format(root=work / "data", port=port), encoding="utf-8")
    server = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL,
                              stderr=(work / "registry.log").open("w"))  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with _NO_PROXY.open(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log = (work / "registry.log").read_text(encoding="utf-8")[-500:]
                    pytest.fail(f"the loopback registry did not start: {log}")
                time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(10)
