"""The Kubernetes API server's refusal of a ServiceAccount's request, as in-cluster clients
log the Status message it answers with (``pods "x" is forbidden: User
"system:serviceaccount:<ns>:<sa>" cannot patch resource "pods" in API group "" ...``). Pure.

One table for every reader: the workload-identity rule, which reads a pod's own refusals,
and the controller summaries, which keep the lines where the API server refused a
controller a write on the objects it manages (``refused_writes``).
"""

from __future__ import annotations

import re
from typing import Final

# The API server's refusal of a ServiceAccount's request, as client libraries log the Status
# message (quotes may be escaped inside a JSON body).
API_FORBIDDEN: Final = re.compile(
    r'is forbidden: User \\*"system:serviceaccount:(?P<namespace>[a-z0-9-]+):'
    r'(?P<account>[a-z0-9][a-z0-9.-]*)\\*" cannot (?P<verb>[a-z]+) resource '
    r'\\*"(?P<resource>[\w./-]+)\\*"'
)
# The verbs that change an object: a controller refused one of these cannot do its work
# (move a label, scale, record a status), while it still watches and reads.
WRITE_VERBS: Final = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def refused_write(line: str, namespace: str) -> bool:
    """Whether ``line`` says the API server refused a ServiceAccount of ``namespace`` a
    write (``WRITE_VERBS``)."""
    match = API_FORBIDDEN.search(line)
    return match is not None and match["namespace"] == namespace and match["verb"] in WRITE_VERBS
