"""Load incident cases in the shared format (tests/cases/FORMAT.md) from disk.

Used by ``kubetriage diagnose``, ``eval``, ``demo`` and ``memory import``. A malformed case
raises ``CaseError`` naming the file and the field, so a bad case set stops a run loudly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kubetriage.models.case import Case


class CaseError(ValueError):
    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def _field(location: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for part in location:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if parts else part)
    return "".join(parts) or "(top level)"


def read_case_mapping(path: Path) -> dict[str, Any]:
    """The raw mapping of ``path`` (a case directory or its case.yaml), not yet validated.

    Parsed with libyaml's safe loader when PyYAML has it (the wheels do; several times faster
    on a case set of hundreds), else the pure-Python one: the same YAML either way."""
    file = path / "case.yaml" if path.is_dir() else path
    if not file.is_file():
        raise CaseError(file, "no case.yaml here")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        raw: Any = yaml.load(file.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as error:
        raise CaseError(file, f"invalid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise CaseError(file, "a case must be a YAML mapping")
    return raw


def load_case(path: Path) -> Case:
    """Load ``path`` (a case directory or its case.yaml)."""
    file = path / "case.yaml" if path.is_dir() else path
    raw = read_case_mapping(file)
    try:
        return Case.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{_field(tuple(e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise CaseError(file, problems) from error


def find_cases(directory: Path) -> list[Path]:
    """Case directories under ``directory`` (itself, if it is one), sorted by name."""
    if (directory / "case.yaml").is_file():
        return [directory]
    if not directory.is_dir():
        raise CaseError(directory, "not a directory of cases")
    found = sorted(p for p in directory.iterdir() if (p / "case.yaml").is_file())
    if not found:
        raise CaseError(directory, "no case directories (each holding case.yaml) found")
    return found


def load_case_set(directory: Path) -> list[Case]:
    cases = [load_case(path) for path in find_cases(directory)]
    seen: dict[str, Path] = {}
    for path, case in zip(find_cases(directory), cases, strict=True):
        if case.id in seen:
            raise CaseError(path, f"duplicate id {case.id!r} (also in {seen[case.id]})")
        seen[case.id] = path
    return cases
