"""Checks that the package's top-level modules and each subpackage import on their own, first,
as a process that needs only that one would (a CLI subcommand, a test module run alone): an
import cycle hidden by the order in which the suite happens to import modules fails here
(``kubetriage.networkpolicy`` once read a helper from ``kubetriage.evidence``, whose package
imports the builder, which imports ``networkpolicy`` back). Modules inside a subpackage are
imported after their package's ``__init__`` in every real process, so they are not tried
alone (that would take a minute: each import rebuilds the pydantic models).

Real: the package's own modules, imported one at a time in a child interpreter that forgets
every ``kubetriage`` module between two imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "kubetriage"

_CHILD = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "kubetriage" or m.startswith("kubetriage.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}: {error}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def _modules() -> list[str]:
    names = []
    paths = [*sorted(PACKAGE.glob("*.py")), *sorted(PACKAGE.glob("*/__init__.py"))]
    for path in paths:
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_the_module_list_covers_the_package() -> None:
    modules = _modules()
    assert "kubetriage.networkpolicy" in modules
    assert "kubetriage.evidence" in modules
    assert len(modules) > 30


def test_every_module_imports_first_on_its_own() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, *_modules()],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=PACKAGE.parent,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
