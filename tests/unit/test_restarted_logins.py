"""Only the replicas started lately are refused their login while an older replica of the
same revision works: the Secret they read at start holds a credential the server no longer
accepts. Near misses: no older replica runs, the failing replicas run a new revision, the
credential comes from a mounted file, a failing replica says something else."""

from __future__ import annotations

from kubetriage.analyzers.restarted_logins import CONFIDENCE, check_restarted_logins
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ConfigReference
from kubetriage.models.vocabulary import Action, Category
from tests.support.evidence import (
    ago,
    app_pod,
    container,
    crash_looping,
    deployment,
    evidence,
    log,
)

SECRET = ObjectRef(kind="Secret", namespace="shop", name="inventory-db-credentials")
REFUSED = 'FATAL: password authentication failed for user "inventory" (SQLSTATE 28P01)'
RS = "inventory-7f9c5d6b8"


def _env_refs(via: str = "env PGPASSWORD") -> list[ConfigReference]:
    return [ConfigReference(kind="Secret", name=SECRET.name, key="password", via=via, exists=True)]


def _evidence(
    *,
    old_minutes: float = 60 * 24 * 7,
    new_rs: str = RS,
    via: str = "env PGPASSWORD",
    says: str = REFUSED,
) -> Evidence:
    old = app_pod(
        f"{RS}-k2mvd", container("api"), created_at=ago(old_minutes), config_refs=_env_refs(via)
    )
    new = [
        app_pod(
            f"{new_rs}-{s}", crash_looping("api"), created_at=ago(39), config_refs=_env_refs(via)
        )
        for s in ("w2pqz", "c8tlx")
    ]
    return evidence(
        workload=deployment("inventory", replicas=3, ready=1),
        pods=[old, *new],
        logs=[log(p.name, "api", f"could not connect to inventory-db:5432: {says}") for p in new],
    )


def test_replicas_started_since_are_refused_the_older_one_works() -> None:
    found = check_restarted_logins(_evidence())
    assert [(f.category, f.action, f.target) for f in found] == [
        (Category.CONFIG_MISSING, Action.FIX_CONFIG, SECRET)
    ]
    assert found[0].confidence == CONFIDENCE.restarted_refused


def test_no_older_replica_running_is_not_this_rule() -> None:
    # The "old" replica is younger than the failing ones: nothing says the earlier value worked.
    assert check_restarted_logins(_evidence(old_minutes=10)) == []


def test_failing_replicas_of_a_new_revision_are_a_change() -> None:
    assert check_restarted_logins(_evidence(new_rs="inventory-5b8c7d6e4")) == []


def test_credential_from_a_mounted_file_is_not_read_at_start() -> None:
    assert check_restarted_logins(_evidence(via="volume credentials")) == []


def test_failing_replicas_that_say_something_else_are_not_refused_logins() -> None:
    assert check_restarted_logins(_evidence(says="connection refused")) == []
