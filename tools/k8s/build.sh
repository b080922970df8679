#!/usr/bin/env bash
# Build the local control plane's binaries once per machine: kube-apiserver,
# kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes through the wrapper module
# tools/k8s), etcd (go.etcd.io/etcd/server/v3 through tools/etcd), kwok, kwokctl and helm (their
# own modules, pinned in versions.env). The binaries live outside the repository, in
# ${KUBETRIAGE_CACHE_DIR:-$HOME/.cache/kubetriage}/k8s/$KUBERNETES_VERSION/bin, so that every
# clone on this machine reuses them; a stamp there records what they were built from, and the
# build is skipped while it matches. `build.sh --bin-dir` prints that directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="$(dirname "$here")"
# shellcheck source=versions.env
. "$here/versions.env"
export PATH="/usr/local/go/bin:$PATH"
cache="${KUBETRIAGE_CACHE_DIR:-$HOME/.cache/kubetriage}"
out="$cache/k8s/$KUBERNETES_VERSION/bin"
if [ "${1:-}" = "--bin-dir" ]; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "build.sh: Go is not installed (expected /usr/local/go/bin/go)" >&2; exit 1; }
stamp_of() {
  { go version; cat "$here/versions.env" "$here/build.sh" \
      "$tools/k8s/go.mod" "$tools/k8s/go.sum" "$tools/etcd/go.mod" "$tools/etcd/go.sum"; } \
    | sha256sum | cut -d' ' -f1
}
want="$(stamp_of)"
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$want" ]; then
  echo "cluster binaries up to date in $out"
  exit 0
fi
grep -q "require k8s.io/kubernetes $KUBERNETES_VERSION\$" "$tools/k8s/go.mod" \
  || { echo "build.sh: tools/k8s/go.mod is not for $KUBERNETES_VERSION; run tools/k8s/update-gomod.sh" >&2; exit 1; }
grep -q "require go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$tools/etcd/go.mod" \
  || { echo "build.sh: tools/etcd/go.mod is not for $ETCD_VERSION; run tools/k8s/update-gomod.sh" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out/.stamp"
# Two compile jobs at most and a lower priority: the build shares the machine's two cores.
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
build=(nice -n 5 go build -p 2)
minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
kver=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kver+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
done

echo "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBERNETES_VERSION"
(cd "$tools/k8s" && "${build[@]}" -ldflags "-s -w$kver" -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
echo "building etcd $ETCD_VERSION"
(cd "$tools/etcd" && "${build[@]}" -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
# kwok, kwokctl and helm have no local replace directives: `go install module@version` builds
# them with the go.sum they publish.
echo "building kwok, kwokctl $KWOK_VERSION and helm $HELM_VERSION"
GOBIN="$out" nice -n 5 go install -p 2 -ldflags "-s -w" \
  "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
GOBIN="$out" nice -n 5 go install -p 2 -ldflags "-s -w" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
echo "$want" > "$out/.stamp"
echo "cluster binaries built in $out"
