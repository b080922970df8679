#!/usr/bin/env python3
"""`make cluster`: a local Kubernetes control plane on 127.0.0.1 until Ctrl-C.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes), built by
`make cluster-bin`; the launcher is tests/support/cluster.py, the one the e2e tests use. Prints
`kubeconfig: PATH` (an admin kubeconfig) and the directory holding the logs and audit log.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.cluster import LocalCluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=2, help="kwok nodes (default 2)")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="kubetriage-cluster-") as workdir:
        started = time.monotonic()
        with LocalCluster(Path(workdir), nodes=args.nodes) as cluster:
            print(f"cluster ready in {time.monotonic() - started:.1f} s", flush=True)
            print(f"kubeconfig: {cluster.kubeconfig}", flush=True)
            print(f"kubectl: {cluster.binary('kubectl')}", flush=True)
            print(f"logs and audit log: {workdir}", flush=True)
            stop.wait()
        print("cluster stopped", flush=True)


if __name__ == "__main__":
    main()
