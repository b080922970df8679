"""The refused cloud controller rule: Ready nodes keep the cloud provider's uninitialized
taint, the scheduler names it for the incident's Pending pods, and the cloud controller
manager that should initialize them (the dependency walk follows it by that taint:
``kubetriage.evidence.cloud_controllers``) logs that its cloud refuses its login: vSphere's
"Cannot complete login due to an incorrect user name or password" (``InvalidLogin``), AWS's
``AuthFailure``, Azure's ``AADSTS7000215``/``AADSTS7000222`` (a wrong or expired client
secret), Keystone's "The request you have made requires authentication", a refused static key
(``kubetriage.analyzers.cloud_keys``). The controller cannot read any node's provider ID,
addresses or zone, so no new node is ever initialized: nodes added would wait the same, and
the controller runs (restarting it sends the same credentials). The credentials are stale (a
password rotated in the cloud, not in the cluster): an SRE corrects the Secret the
controller's cloud config names (``DependencyRoute.credentials``), above the unschedulable
finding that would add nodes.

Silent when the controller's tails hold no refused login (a network timeout, a rate limit:
other stories), or when no credentials Secret is known for it.

Registered in ``kubetriage.analyzers.ANALYZERS``; pure functions of Evidence.
"""

from __future__ import annotations

import re
from typing import Final

from kubetriage import prose
from kubetriage.analyzers.base import Analyzer, make_finding
from kubetriage.analyzers.cloud_keys import key_refused
from kubetriage.analyzers.support import item, log_source, node_source
from kubetriage.evidence.cloud_controllers import UNINITIALIZED_TAINT
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.vocabulary import Action, Category

# The cloud controller manager's login is refused while Ready nodes wait on it: above the
# unschedulable finding's named reason (0.9), whose fix (more nodes) would wait the same.
CONFIDENCE: Final = 0.93
NAME: Final = "cloud-controller-credentials"
# Cloud APIs refusing a controller's credentials themselves (not a timeout, not a throttle).
CLOUD_LOGIN_REFUSED: Final = re.compile(
    r"(?i)Cannot complete login due to an incorrect user name or password|\bInvalidLogin\b"
    r"|\bAuthFailure\b|\bUnrecognizedClientException\b|AADSTS7000215|AADSTS7000222"
    r"|The request you have made requires authentication"
    r"|unable to authenticate your request|Unable to authenticate you"
)


def check_cloud_controller_credentials(evidence: Evidence) -> list[Finding]:
    findings: list[Finding] = []
    for dependency in evidence.dependencies:
        routes = [r for r in dependency.routed("cloud-controller") if r.credentials is not None]
        controller = dependency.workload or dependency.ref
        if not routes or controller is None:
            continue
        refused = [
            item(log_source(log), line)
            for log in dependency.logs
            for line in log.lines
            if CLOUD_LOGIN_REFUSED.search(line) or key_refused(line)
        ]
        secret = routes[0].credentials
        if not refused or secret is None:
            continue
        waiting = [
            n.name
            for n in evidence.nodes
            if n.ready == "True" and UNINITIALIZED_TAINT in n.taint_keys
        ] or [str(routes[0].node)]
        marks = [
            item(node_source(n), f"Ready, still tainted {UNINITIALIZED_TAINT}") for n in waiting[:2]
        ]
        said = refused[:1] + refused[-1:] if len(refused) > 1 else refused
        findings.append(
            make_finding(
                NAME,
                Category.CONFIG_MISSING,
                CONFIDENCE,
                prose.narrative(
                    f"the cloud refuses the credentials in {prose.obj(secret)}, so "
                    f"{prose.count(len(waiting), 'Ready node')} stay uninitialized",
                    "correct that Secret",
                    because=[
                        prose.claim(
                            f"{'The nodes' if len(waiting) > 1 else 'Node'} "
                            f"{prose.listing(waiting)} "
                            f"{'are' if len(waiting) > 1 else 'is'} Ready but still "
                            "tainted uninitialized, which only the cloud controller manager "
                            "removes, so the pending pods wait however many nodes join",
                            *marks,
                        ),
                        prose.claim(
                            f"{prose.obj(controller)} is refused its login to the cloud: it "
                            "cannot read any node's provider ID, addresses or zone",
                            *said,
                        ),
                        prose.claim(
                            f"It signs in with the credentials {prose.obj(secret)} holds: "
                            "stale after a rotation in the cloud; restarting it sends the same"
                        ),
                    ],
                ),
                [*said, *marks],
                Action.FIX_CONFIG,
                secret,
            )
        )
    return findings


CLOUD_CREDENTIAL_ANALYZERS: tuple[Analyzer, ...] = (
    Analyzer(NAME, (Category.CONFIG_MISSING,), check_cloud_controller_credentials),
)
