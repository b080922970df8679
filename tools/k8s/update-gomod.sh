#!/usr/bin/env bash
# Regenerate the wrapper modules tools/k8s and tools/etcd from the versions in versions.env
# (needs the Go module proxy). The replace lists come from the upstream go.mod files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="$(dirname "$here")"
# shellcheck source=versions.env
. "$here/versions.env"
export PATH="/usr/local/go/bin:$PATH"
staged="v0.${KUBERNETES_VERSION#v1.}"
python3 "$tools/gen_gomod.py" "$tools/k8s" "k8s.io/kubernetes@$KUBERNETES_VERSION" "$staged" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
python3 "$tools/gen_gomod.py" "$tools/etcd" "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "$ETCD_VERSION" \
  go.etcd.io/etcd/server/v3
(cd "$tools/k8s" && go mod tidy)
(cd "$tools/etcd" && go mod tidy)
