"""The import-layering contract (``[tool.importlinter]`` in pyproject.toml, run by
``make layers``) places every module of the package: a new module that no layer names would
escape the check. Real: the package's modules as found on disk and the real config."""

from __future__ import annotations

import pkgutil
import tomllib

import kubetriage
from tests.support.cases import REPO


def _layer_modules() -> set[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "layers")["layers"]
    names: set[str] = set()
    for layer in layers:
        for part in layer.replace("|", ":").split(":"):
            names.add(part.strip())
    return names


def _covered(module: str, layers: set[str]) -> bool:
    return any(module == name or module.startswith(name + ".") for name in layers)


def test_every_module_belongs_to_a_layer() -> None:
    layers = _layer_modules()
    modules = [
        info.name
        for info in pkgutil.walk_packages(kubetriage.__path__, prefix="kubetriage.")
        if not info.ispkg
    ]
    assert "kubetriage.models.base" in modules
    unplaced = sorted(m for m in modules if not _covered(m, layers))
    assert not unplaced, f"add these modules to a layer in pyproject.toml: {unplaced}"


def test_the_layer_names_exist() -> None:
    packages = {
        info.name for info in pkgutil.walk_packages(kubetriage.__path__, prefix="kubetriage.")
    }
    missing = sorted(name for name in _layer_modules() if name not in packages)
    assert not missing, f"layers name modules that do not exist: {missing}"
