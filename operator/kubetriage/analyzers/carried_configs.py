"""A rollout that only carried a configuration change into the pods: its pod template
changed in nothing but a config checksum or a Reloader hash naming the ConfigMaps or Secrets
it covers. The edit of those objects is the change (rolling the template back would mount
the same edited objects again). Used by change correlation, the bad-rollout and crash rules
and the caller rules. Also a rollout that carried nothing: a ``kubectl rollout restart``
with nothing new for the restart to pick up, whose pods run what the previous revision's ran.

Pure functions of Evidence.
"""

from __future__ import annotations

from kubetriage.evidence.changes import CARRIER, RESTART, image_may_move
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.object_evidence import ChangeEvidence


def carried_configs(rollout: ChangeEvidence) -> list[ObjectRef]:
    """The ConfigMaps and Secrets a rollout did nothing but carry into the pods: its template
    changed only in a config checksum or Reloader hash that names them. Empty when the rollout
    changed what the pods run, or when the hash does not say which object changed."""
    if set(rollout.aspects) <= CARRIER:
        return list(rollout.configs)
    return []


def only_carried_config(evidence: Evidence, revision: int) -> bool:
    """Whether the rollout to ``revision`` only carried an edited ConfigMap or Secret into the
    pods (the timeline names the object): rolling the template back would mount it again."""
    return any(
        c.kind == "rollout" and c.to_revision == revision and carried_configs(c)
        for c in evidence.changes
    )


def carried_edit(rollout: ChangeEvidence, ref: ObjectRef) -> ChangeEvidence:
    """The edit of a ConfigMap or Secret, dated by the rollout that carried it into the pods."""
    return ChangeEvidence(
        at=rollout.at,
        kind="config",
        object=ref,
        aspects=["data"],
        details=[f"changed, carried into the pods by revision {rollout.to_revision}"],
    )


def only_restarted(evidence: Evidence, revision: int) -> bool:
    """Whether the rollout to ``revision`` was a bare restart: its pod template changed only in
    the restart stamp, no ConfigMap or Secret (nor the image a tag resolves to) changed before
    it for the restart to pick up, and the pods' image tags do not float. Its pods run what
    the previous revision's pods ran, so rolling back would recreate the same pods: whatever
    fails in them was latent in the previous revision too (it shows on a fresh start)."""
    rollouts = [c for c in evidence.changes if c.kind == "rollout" and c.to_revision == revision]
    if not rollouts or any(set(c.aspects) != {RESTART} or c.at is None for c in rollouts):
        return False
    restarted = min(c.at for c in rollouts if c.at is not None)
    picked_up = any(
        c.kind in ("config", "image-digest") and (c.at is None or c.at <= restarted)
        for c in evidence.changes
    )
    floating = any(image_may_move(c.image) for p in evidence.pods for c in p.containers)
    return not picked_up and not floating
