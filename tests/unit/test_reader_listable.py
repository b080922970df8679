"""Checks that the reader tells a kind it can only list (ControllerRevisions: a StatefulSet's
or DaemonSet's history) from one it can read by name, so the dependency walk reads a followed
DaemonSet's or StatefulSet's revisions (its rollouts) as the offline builder sees them.

Real: ``KubeReader`` over an official ``kubernetes`` ApiClient (no request is made).
"""

from __future__ import annotations

from kubernetes import client

from kubetriage.evidence.limits import EvidenceLimits
from kubetriage.evidence.reader import KubeReader


def test_controller_revisions_are_listed_though_not_read_by_name() -> None:
    with client.ApiClient() as api:
        reader = KubeReader(api, limits=EvidenceLimits(), request_timeout=1.0)
        assert reader.listable("ControllerRevision")
        assert not reader.readable("ControllerRevision")
        assert reader.listable("Pod")
        assert not reader.listable("NoSuchKind")


def test_endpoint_slices_are_listed_so_a_service_without_endpoints_has_a_count() -> None:
    """A followed Service with no Endpoints object: the dependency walk lists its
    EndpointSlices (by ``kubernetes.io/service-name``), as the offline builder counts them."""
    with client.ApiClient() as api:
        reader = KubeReader(api, limits=EvidenceLimits(), request_timeout=1.0)
        assert reader.listable("EndpointSlice")
        assert not reader.readable("EndpointSlice")
