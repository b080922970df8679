"""In-memory Kubernetes API server (the "emulator") served over real HTTP on aiohttp.

Used by ``kubetriage diagnose``/``eval``/``demo`` to replay incident cases against the
real operator, and by the test suite. kubectl, the official ``kubernetes`` client and
Kopf all work against it. Modules: ``server`` (lifecycle, HTTP, routing), ``state``
(store, registry, CRDs), ``crud`` (resource verbs), ``watch``, ``hooks`` (the Python test
API), ``thread`` (sync wrapper), ``store`` (objects, resourceVersions, watch history),
``resources`` (built-in/CRD registry), ``schema`` (CRD structural schemas), ``patching``,
``selectors``, ``tables`` (kubectl Tables), ``openapi`` (``/openapi/v3``), ``errors``.

Fidelity, measured: ``tests/integration/test_api_fidelity.py`` runs the same tests against
this emulator and a real kube-apiserver v1.37.2 (the local control plane of
``tests/support/cluster.py``): CRUD and Status bodies (404/409 with reason and details),
label and field selectors, optimistic concurrency and generation, strategic merge patch,
server-side dry-run, events with generateName, the Incident CRD's validation naming the
field, the status subresource, pod logs current and previous. All pass on both. Known
differences, none of which the operator or the replay depends on:

- No controllers, scheduler or kubelet: objects stay exactly as loaded (a real server's
  Deployment controller writes status concurrently, so a read-modify-write can get a 409
  there; clients must retry, as Kopf and the remediation executor do).
- Always ready: a real server answers 429 "storage is (re)initializing" for a moment after
  a CRD is established (Kopf retries it).
- ``/version`` reports a fixed minor version, not the real server's.
- A CRD gets no status conditions (a real one becomes Established), so ``kubectl wait
  --for=condition=Established`` does not return there; custom resources are served at once.
- kubectl 1.37's client-side validation of a ``kind: List`` document fails against this
  emulator's OpenAPI ("could not find the requested resource"); a YAML stream of the same
  objects applies.
- Logs are returned exactly as set; a kubelet (kwok) returns whole lines, each ending in a
  newline.
- No authentication beyond an optional bearer token and no authorization: RBAC is proven on
  the real server (``tests/e2e/test_rbac_real.py``).
"""

from .errors import ApiError
from .resources import ResourceType
from .server import KubeEmulator
from .state import AuditRecord
from .thread import EmulatorThread

__all__ = ["ApiError", "AuditRecord", "EmulatorThread", "KubeEmulator", "ResourceType"]
