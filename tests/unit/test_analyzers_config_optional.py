"""Checks the config-missing rule for optional sources: a pod that references a ConfigMap or
Secret as optional starts without it when it does not exist, and when the application then
says its configuration is missing (pydantic-settings' validation error, a missing variable),
the absent source is what to fix, not the crash it causes.

Everything is real: Evidence models built by ``tests.support.evidence`` and the full analyzer
registry via ``run_analyzers``; nothing is mocked.
"""

from __future__ import annotations

from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import CHECKOUT_POD, analyze, assert_leads, by_category

_PYDANTIC = """Traceback (most recent call last):
  File "/app/ingest/main.py", line 14, in <module>
    settings = Settings()
pydantic_core._pydantic_core.ValidationError: 2 validation errors for Settings
kafka_bootstrap_servers
  Field required [type=missing, input_value={'log_level': 'info'}, input_type=dict]
kafka_topic
  Field required [type=missing, input_value={'log_level': 'info'}, input_type=dict]
"""


def _starts_without(*, kafka_exists: bool, via: str = "envFrom", log: str = _PYDANTIC) -> Evidence:
    refs = [
        ConfigReference(kind="ConfigMap", name="ingest-settings", via="envFrom", exists=True),
        ConfigReference(
            kind="ConfigMap", name="ingest-kafka", via=via, optional=True, exists=kafka_exists
        ),
    ]
    app = make.crash_looping("app", exit_code=1, restarts=8)
    return make.evidence(
        workload=make.deployment(ready=1, replicas=3),
        pods=[make.pod(CHECKOUT_POD, app, config_refs=refs)],
        logs=[make.checkout_log(log)],
    )


def test_absent_optional_env_source_is_what_the_application_misses() -> None:
    result = analyze(_starts_without(kafka_exists=False))
    finding = assert_leads(
        result,
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        ObjectRef(kind="ConfigMap", namespace="shop", name="ingest-kafka"),
    )
    assert finding.confidence >= 0.85
    assert any("optional) does not exist" in e.fact for e in finding.evidence)


def test_an_optional_source_that_exists_is_not_blamed() -> None:
    # Near miss: the same complaint with the optional ConfigMap present.
    findings = by_category(analyze(_starts_without(kafka_exists=True)), Category.CONFIG_MISSING)
    assert all(f.target.name != "ingest-kafka" for f in findings)


def test_a_missing_file_does_not_point_at_an_absent_optional_env_source() -> None:
    # Near miss: the complaint is about a file, the absent optional source feeds env only.
    log = "open /etc/ingest/config.yaml: no such file or directory"
    findings = by_category(
        analyze(_starts_without(kafka_exists=False, log=log)), Category.CONFIG_MISSING
    )
    assert all(f.target.name != "ingest-kafka" for f in findings)
