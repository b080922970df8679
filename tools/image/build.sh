#!/usr/bin/env bash
# `make image`: build the operator image from ./Dockerfile with no Docker engine, and write it as
# an OCI archive (plus a CycloneDX SBOM) under the cache directory, never in the repository.
#
#   base   debootstrap --variant=minbase bookworm (python3, python3-venv), pruned of apt lists,
#          caches, docs and locales, imported with `podman import`; built once per machine and
#          reused (the machine's own Debian mirror, read from its apt sources).
#   image  `podman build --isolation chroot --build-arg BASE=<that base>`, tagged as the Helm
#          chart's default image (values.yaml image.repository : Chart.yaml appVersion).
#   out    $CACHE/kubetriage-<version>.oci.tar (podman save --format oci-archive) and
#          $CACHE/kubetriage-<version>.cdx.json (cyclonedx-py, from its own venv under the
#          cache, over image-constraints.txt).
#
# Users with Docker or Podman build the same Dockerfile on the public python:3.11-slim base.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PY:-$REPO/.venv/bin/python}
CACHE=${KUBETRIAGE_CACHE_DIR:-$HOME/.cache/kubetriage}/image
BASE_IMAGE=localhost/kubetriage-base:bookworm
mkdir -p "$CACHE"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

need=""
for tool in podman debootstrap umoci runc; do command -v "$tool" >/dev/null || need+=" $tool"; done
if [ -n "$need" ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends podman debootstrap umoci runc
fi

# The chart's default image (values.yaml image.repository : Chart.yaml appVersion), from the one
# function the tests also use, so what is built is what `helm install` pulls by default.
read -r REPOSITORY VERSION < <(cd "$REPO" && PYTHONPATH="$REPO" "$PY" -c \
  'from tests.support.container import image_ref; print(*image_ref())')
IMAGE="$REPOSITORY:$VERSION"

mirror() {
  # The first Debian mirror this machine's apt uses (deb822 or one-line sources).
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
  echo "$uri"
}

if ! podman image exists "$BASE_IMAGE"; then
  start=$(date +%s)
  rootfs="$CACHE/rootfs"
  rm -rf "$rootfs"
  $SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs" "$(mirror)" >"$CACHE/debootstrap.log"
  $SUDO rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/log/* "$rootfs"/tmp/*
  $SUDO tar -C "$rootfs" -c . | podman import --quiet - "$BASE_IMAGE" >/dev/null
  $SUDO rm -rf "$rootfs"
  echo "base image $BASE_IMAGE built in $(( $(date +%s) - start )) s"
fi

start=$(date +%s)
revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
# pip in the build trusts what pip on this machine trusts (its CA bundle, mounted read-only for
# the RUN steps of the builder stage only).
ca=${PIP_CERT:-$("$PY" -m pip config get global.cert 2>/dev/null || true)}
[ -n "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
ca_args=()
[ -f "$ca" ] && ca_args=(-v "$ca:/run/build-ca.crt:ro" --build-arg PIP_CERT=/run/build-ca.crt)
podman build --quiet --isolation chroot --pull=never "${ca_args[@]}" \
  --build-arg "BASE=$BASE_IMAGE" --build-arg "VERSION=$VERSION" --build-arg "REVISION=$revision" \
  -t "$IMAGE" "$REPO" >/dev/null
archive="$CACHE/kubetriage-$VERSION.oci.tar"
rm -f "$archive"
podman save --quiet --format oci-archive -o "$archive" "$IMAGE"
# cyclonedx-py lives in a venv of its own under the cache, not in .venv: it requires
# jsonschema[format-nongpl], whose rfc3987-syntax builds lark grammars whenever jsonschema is
# imported, and the kubernetes client imports jsonschema (through kubernetes-validate) in every
# test and eval process (2.3 s each, measured on this machine with `python -X importtime`).
SBOM_VENV="$CACHE/sbom-venv"
if [ ! -x "$SBOM_VENV/bin/cyclonedx-py" ]; then
  python3 -m venv "$SBOM_VENV"
  "$SBOM_VENV/bin/python" -m pip --disable-pip-version-check -q install 'cyclonedx-bom>=7,<8'
fi
"$SBOM_VENV/bin/cyclonedx-py" requirements --output-format JSON --output-file "$CACHE/kubetriage-$VERSION.cdx.json" \
  "$REPO/image-constraints.txt" 2>/dev/null
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE built in $(( $(date +%s) - start )) s, $(( size / 1000000 )) MB"
echo "archive: $archive"
echo "sbom: $CACHE/kubetriage-$VERSION.cdx.json"
