"""In-memory Kubernetes API server (the "emulator") served over real HTTP on aiohttp.

Used by ``kubetriage diagnose``/``eval``/``demo`` to replay incident cases against the
real operator, and by the test suite. kubectl, the official ``kubernetes`` client and
Kopf all work against it. Modules: ``server`` (lifecycle, HTTP, routing), ``state``
(store, registry, CRDs), ``crud`` (resource verbs), ``watch``, ``hooks`` (the Python test
API), ``thread`` (sync wrapper), ``store`` (objects, resourceVersions, watch history),
``resources`` (built-in/CRD registry), ``schema`` (CRD structural schemas), ``patching``,
``selectors``, ``tables`` (kubectl Tables), ``openapi`` (``/openapi/v3``), ``errors``.
"""

from .errors import ApiError
from .resources import ResourceType
from .server import KubeEmulator
from .state import AuditRecord
from .thread import EmulatorThread

__all__ = ["ApiError", "AuditRecord", "EmulatorThread", "KubeEmulator", "ResourceType"]
