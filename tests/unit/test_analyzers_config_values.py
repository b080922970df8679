"""Checks that a setting the application reports without a value is blamed on the ConfigMap or
Secret key its env var comes from (fix-config, the key named), in several spellings of the
setting's name and of "missing"; more firmly for an optional reference (the pod starts without
it); and that unrelated lines, env vars from elsewhere and a missing object stay out of it.

Real: the analyzer registry on Evidence models from ``tests.support.evidence``.
"""

from __future__ import annotations

import pytest

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import analyze, container, evidence, log, pod, terminated

POD = "web-7d9f6c8b5-a"
SECRET = ObjectRef(kind="Secret", namespace="shop", name="web-env")


def _evidence(line: str, *, optional: bool = True, exists: bool | None = None) -> Evidence:
    crashing = container("web", restarts=4, ready=False, last_state=terminated("Error", 1))
    refs = [
        ConfigReference(
            kind="Secret",
            name="web-env",
            key="SECRET_KEY_BASE",
            optional=optional,
            via="env SECRET_KEY_BASE",
            exists=exists,
        ),
        ConfigReference(kind="ConfigMap", name="web-config", key="MODE", via="env MODE"),
    ]
    return evidence(
        pods=[pod(POD, crashing, config_refs=refs)], logs=[log(POD, "web", f"boot\n{line}")]
    )


def _value_findings(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "config-missing-value"]


@pytest.mark.parametrize(
    "line",
    [
        "ArgumentError: Missing `secret_key_base` for 'production' environment",
        "FATAL: SECRET_KEY_BASE is not set",
        "KeyError: 'SECRET_KEY_BASE'",
        "config error: secretKeyBase must be provided",
        # a null argument where the setting is used: .NET, Java
        "Unhandled exception. System.ArgumentNullException: Value cannot be null. "
        "(Parameter 'secretKeyBase')",
        "java.lang.IllegalArgumentException: secretKeyBase must not be null",
    ],
)
def test_a_setting_without_value_is_the_key_of_its_secret(line: str) -> None:
    result = analyze(_evidence(line))
    top = result.findings[0]
    assert (top.category, top.action, top.target) == (
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        SECRET,
    )
    assert top.params == {"key": "SECRET_KEY_BASE"}


def test_an_optional_reference_is_firmer_evidence_than_a_required_one() -> None:
    line = "SECRET_KEY_BASE is not set"
    optional = _value_findings(_evidence(line, optional=True))
    required = _value_findings(_evidence(line, optional=False))
    assert optional[0].confidence > required[0].confidence


def test_other_settings_lines_and_missing_objects_are_not_this_case() -> None:
    # A line about another setting, a line naming the setting without saying it is missing,
    # and an object that does not exist at all (config-missing's own finding) stay out.
    assert not _value_findings(_evidence("DATABASE_URL is not set"))
    assert not _value_findings(_evidence("loaded secret_key_base from env"))
    assert not _value_findings(_evidence("Value cannot be null. (Parameter 'connectionString')"))
    assert not _value_findings(_evidence("SECRET_KEY_BASE is not set", exists=False))
