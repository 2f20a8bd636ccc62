# The int8gate GitHub Action's image. Releases publish it to GHCR for amd64 and arm64, and the
# released action.yml points at it by digest, so a workflow pulls it instead of building it
# (.github/workflows/release.yml). A checkout of this repository used as `uses: ./` builds it.
#
# BASE_IMAGE must provide python3 (3.11+) with the venv module. Nothing here knows about build
# machines: a build behind a TLS-inspecting proxy uses a base image that trusts the proxy.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY docker/requirements.txt docker/requirements.txt
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-deps --only-binary=:all: -r docker/requirements.txt
COPY pyproject.toml README.md ./
COPY int8gate ./int8gate
# pip and setuptools only install; they stay behind in this stage.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation --no-index . \
    && /opt/venv/bin/pip uninstall --yes setuptools pip

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
# git reads the pull request's base versions of the models (and fetches that one commit from a shallow clone).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
RUN /opt/venv/bin/python -I -c "import int8gate.action, onnxruntime"
# A console script: Python puts its own folder (/opt/venv/bin) first on the import path, never the
# working folder GitHub sets (/github/workspace, the pull request's checkout).
ENTRYPOINT ["/opt/venv/bin/int8gate-action"]
