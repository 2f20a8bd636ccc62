# The int8gate GitHub Action (a Docker container action; GitHub rebuilds it on every run).
# To skip the rebuild, publish this image and point action.yml's runs.image at docker://IMAGE@sha256:...
#
# BASE_IMAGE must provide python3 (3.10+) with the venv module. Tests build on a local Debian
# bookworm image; pass a CA bundle for the build only with:
#   DOCKER_BUILDKIT=1 docker build --secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt .
# The secret is mounted for the pip step and never stored in a layer.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /opt/int8gate
COPY docker/requirements.txt docker/requirements.txt
RUN --mount=type=secret,id=cacert,required=false \
    python3 -m venv /opt/venv \
    && if [ -s /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
    && pip install --no-deps --only-binary=:all: -r docker/requirements.txt

COPY pyproject.toml README.md ./
COPY int8gate ./int8gate
RUN pip install --no-deps --no-build-isolation --no-index . \
    && python -c "import int8gate.action, onnxruntime"

ENTRYPOINT ["python", "-m", "int8gate.action"]
