"""Checks the stale API token rule: a pod answered ``Unauthorized`` (401) by the Kubernetes
API while it reads its token from a mounted Secret is a fix of that Secret, ahead of the crash
loop it causes; the Secret is the one mounted where the log (or the one argument) says the
credential is read from. Near misses stay with the other rules: a 401 with no token file
under a Secret mount (the projected token), a 403 (authorization, not the credential), two
Secrets the args name with no log line to tell them apart, a rollout that created the pod
while rewiring its credential.

Everything is real: Evidence models from ``tests.support.evidence`` and ``run_analyzers``.
"""

from __future__ import annotations

from kubetriage.analyzers.api_tokens import CONFIDENCE
from kubetriage.models.base import ObjectRef
from kubetriage.models.evidence import Evidence
from kubetriage.models.findings import Finding
from kubetriage.models.object_evidence import ChangeEvidence, ConfigMount
from kubetriage.models.vocabulary import Action, Category
from tests.support import evidence as make
from tests.support.evidence import analyze, assert_leads, assert_ranks_below

POD = "mirror-6d5c8b7f94-g7x2p"
MIRROR = ObjectRef(kind="Deployment", namespace="shop", name="mirror")
TOKEN = ObjectRef(kind="Secret", namespace="shop", name="mirror-token")
MOUNTS = [
    ConfigMount(path="/etc/mirror/source", kind="Secret", name="source-kubeconfig"),
    ConfigMount(path="/var/run/secrets/mirror", kind="Secret", name="mirror-token"),
]
ARGS = ["--source-kubeconfig=/etc/mirror/source/kubeconfig", "--resync=5m"]

_REFUSED = """\
I1120 09:56:41.902311 1 main.go:88] mirror starting
I1120 09:56:42.118002 1 source.go:41] connected to source cluster
I1120 09:56:42.140527 1 target.go:37] using target token from /var/run/secrets/mirror/token
W1120 09:56:42.201954 1 reflector.go:561] target.go:72: failed to list *v1.ConfigMap: Unauthorized
F1120 09:56:43.203771 1 main.go:131] target cache did not sync: Unauthorized
"""


def _evidence(
    text: str = _REFUSED,
    *,
    mounts: list[ConfigMount] | None = None,
    args: list[str] | None = None,
    crashing: bool = True,
    changes: list[ChangeEvidence] | None = None,
) -> Evidence:
    wired = MOUNTS if mounts is None else mounts
    app = (
        make.crash_looping("mirror", config_mounts=wired, args=args or ARGS)
        if crashing
        else make.container("mirror", config_mounts=wired, args=args or ARGS)
    )
    return make.app_evidence(
        POD,
        app,
        logs=text,
        workload=make.deployment("mirror", ready=0),
        changes=changes or [],
    )


def _stale(ev: Evidence) -> list[Finding]:
    return [f for f in analyze(ev).findings if f.analyzer == "stale-api-token"]


def test_a_401_on_the_token_the_log_names_is_a_fix_of_its_secret() -> None:
    finding = assert_leads(analyze(_evidence()), Category.CONFIG_MISSING, Action.FIX_CONFIG, TOKEN)
    assert finding.analyzer == "stale-api-token"
    assert finding.confidence == CONFIDENCE.refused_failing
    assert any("/var/run/secrets/mirror/token" in e.fact for e in finding.evidence)


def test_the_one_secret_the_args_name_stands_in_for_a_silent_log() -> None:
    text = "E1120 reflector.go:158] failed to list *v1.Secret: Unauthorized"
    args = ["--token-file=/var/run/secrets/mirror/token"]
    mounts = [MOUNTS[1]]
    assert_leads(
        analyze(_evidence(text, mounts=mounts, args=args)),
        Category.CONFIG_MISSING,
        Action.FIX_CONFIG,
        TOKEN,
    )


def test_two_secrets_in_the_args_and_no_log_naming_one_is_no_finding() -> None:
    text = "F1120 main.go:131] error: You must be logged in to the server (Unauthorized)"
    args = [*ARGS, "--target-token-file=/var/run/secrets/mirror/token"]
    assert not _stale(_evidence(text, args=args))


def test_a_401_with_the_projected_token_only_is_not_a_secret_to_fix() -> None:
    # No Secret mount: the client uses in-cluster config (the kubelet's projected token).
    assert not _stale(_evidence(mounts=[]))


def test_a_403_is_authorization_not_the_credential() -> None:
    text = _REFUSED.replace(": Unauthorized", ': configmaps is forbidden: User "x" cannot list')
    assert not _stale(_evidence(text))


def test_a_running_pod_is_less_sure() -> None:
    (finding,) = _stale(_evidence(crashing=False))
    assert finding.confidence == CONFIDENCE.refused


def test_a_rollout_that_rewired_the_credential_as_it_created_the_pod_stays_below_it() -> None:
    rollout = make.rollout_change(MIRROR, 3, "args", "volumes", minutes_ago=120)
    result = analyze(_evidence(changes=[rollout]))
    stale = [f for f in result.findings if f.analyzer == "stale-api-token"]
    assert [f.confidence for f in stale] == [CONFIDENCE.rewired]
    leader = result.findings[0]
    assert leader.analyzer != "stale-api-token"
    assert_ranks_below(result, Category.CONFIG_MISSING, leader)


def test_an_old_rollout_does_not_weaken_it() -> None:
    # The pod was created two hours ago; the rollout that changed its args was last year.
    rollout = make.rollout_change(MIRROR, 3, "args", minutes_ago=60 * 24 * 300)
    (finding,) = _stale(_evidence(changes=[rollout]))
    assert finding.confidence == CONFIDENCE.refused_failing
