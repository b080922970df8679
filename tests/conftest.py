"""Session-wide fixtures shared by several test directories."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """One real local control plane (etcd, kube-apiserver, controllers, scheduler, kwok) for
    the whole session, started on first use; its state is shared, so tests use their own
    namespaces and objects."""
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running
