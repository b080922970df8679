"""A ConfigMap or Secret (or one of its keys) a pod references that does not exist, from the
words the kubelet prints when it cannot create a container (``CreateContainerConfigError``:
``secret "x" not found``, ``couldn't find key k in Secret ns/x``) or mount a volume
(``MountVolume.SetUp failed for volume "v" : secret "x" not found``). Pure.

One table for every reader: the config-missing rule, which blames the missing object, and the
Secret-writer walk, which follows a missing Secret to what writes it. Also the words of a client
that reads a ConfigMap or Secret through the API itself (a workflow executor, a controller) when
the object it read lacks a key: no kubelet is involved, the object exists, the key does not.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

MISSING_OBJECT: Final = re.compile(
    r"(?i)\b(?P<kind>configmaps?|secrets?) \"?(?P<name>[a-z0-9][\w.-]*)\"? not found"
)
MISSING_KEY: Final = re.compile(
    r"(?i)couldn't find key (?P<key>[\w.-]+) in (?P<kind>ConfigMap|Secret) "
    r"(?:(?P<ns>[\w.-]+)/)?(?P<name>[\w.-]+)"
)


def missing_secret(message: str) -> str | None:
    """The Secret a kubelet message says is missing, or lacks a key; None for anything else."""
    match = MISSING_KEY.search(message) or MISSING_OBJECT.search(message)
    if match is None or not match["kind"].lower().startswith("secret"):
        return None
    return match["name"]


_Q = r"[\"'`]?"
_OBJECT = (
    rf"(?P<kind{{n}}>configmap|secret) {_Q}"
    r"(?:(?P<ns{n}>[a-z0-9][\w.-]*)/)?(?P<name{n}>[a-z0-9][\w.-]*)"
    rf"{_Q}"
)
# "secret 'x' does not have the key 'k'" (Argo's executor), "secret "ns/x" does not contain key
# "k"", "configmap x has no key k"; "key "k" not found in secret x", "key k is missing in
# ConfigMap ns/x".
READ_KEY_MISSING: Final = re.compile(
    r"(?i)\b"
    + _OBJECT.format(n=1)
    + r" (?:does not have|doesn't have|does not contain|doesn't contain|has no|is missing|lacks)"
    + rf"(?: the| a)?(?: data)? key {_Q}(?P<key1>[\w.-]+)"
    + rf"|\bkey {_Q}(?P<key2>[\w.-]+){_Q} (?:was )?(?:not found|does not exist|is missing|missing)"
    + r" (?:in|from) (?:the )?"
    + _OBJECT.format(n=2)
)


class ReadKeyMissing(NamedTuple):
    """A key a client says the ConfigMap or Secret it read does not hold."""

    kind: str  # "ConfigMap" | "Secret"
    namespace: str | None
    name: str
    key: str


def read_key_missing(text: str) -> ReadKeyMissing | None:
    """The object and key a client reading it through the API says is missing, or None."""
    match = READ_KEY_MISSING.search(text)
    if match is None:
        return None
    n = "1" if match["kind1"] else "2"
    kind = "Secret" if match[f"kind{n}"].lower() == "secret" else "ConfigMap"
    return ReadKeyMissing(kind, match[f"ns{n}"], match[f"name{n}"], match[f"key{n}"])


# The kubelet's refusal of a container whose image's user contradicts the pod's runAsNonRoot
# (pkg/kubelet/kuberuntime security_context_others.go): a verdict on the image's USER, which
# the pod's securityContext only checks; nothing is missing.
_IMAGE_USER_REFUSAL: Final = re.compile(
    r"(?i)runAsNonRoot and image (?:will run as root|has non-numeric user)"
    r"|runAsUser breaks non-root policy"
)


def image_user_refused(message: str) -> bool:
    """Whether a kubelet message refuses a container because of its image's user."""
    return _IMAGE_USER_REFUSAL.search(message) is not None


# A CSI sidecar of a claim (the external provisioner or resizer) that cannot read a Secret its
# StorageClass names in ``csi.storage.k8s.io/*-secret-name``: "error getting secret NAME in
# namespace NS: secrets "NAME" not found". The Secret lives in the StorageClass's namespace,
# not the claim's, so only a message that names the namespace is read.
_CLAIM_SECRET: Final = re.compile(
    r"(?i)\bsecret \"?(?P<name>[a-z0-9][\w.-]*)\"? in namespace \"?(?P<ns>[a-z0-9][\w.-]*)\"?"
    r": secrets? \"?(?P=name)\"? not found"
)


def claim_missing_secret(message: str) -> tuple[str, str] | None:
    """The (namespace, name) of the Secret a claim's provisioning or resize event says does
    not exist, or None."""
    match = _CLAIM_SECRET.search(message)
    return None if match is None else (match["ns"], match["name"])
