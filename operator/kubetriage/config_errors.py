"""A ConfigMap or Secret (or one of its keys) a pod references that does not exist, from the
words the kubelet prints when it cannot create a container (``CreateContainerConfigError``:
``secret "x" not found``, ``couldn't find key k in Secret ns/x``) or mount a volume
(``MountVolume.SetUp failed for volume "v" : secret "x" not found``). Pure.

One table for every reader: the config-missing rule, which blames the missing object, and the
Secret-writer walk, which follows a missing Secret to what writes it.
"""

from __future__ import annotations

import re
from typing import Final

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
