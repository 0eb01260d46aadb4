#!/usr/bin/env bash
# Builds sloguard's container image from a release binary with buildah, no registry:
# stages a root filesystem (the binary, exactly the shared libraries `ldd` lists for it,
# CA certificates, /etc/passwd with the non-root user 10001) and builds
# deploy/image/Containerfile (`FROM scratch`) over it, then saves the image as an OCI
# archive.
#
#   scripts/build-image.sh [BINARY]      (default target/release/sloguard)
#
# Environment: SLOGUARD_IMAGE (tag, default localhost/sloguard:<version>),
# SLOGUARD_IMAGE_ARCHIVE (default target/image/sloguard.oci.tar),
# SLOGUARD_IMAGE_SOURCE (the org.opencontainers.image.source label; default the Git
# remote `origin`, else `unknown`).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${1:-${CARGO_TARGET_DIR:-target}/release/sloguard}"
[ -x "$BIN" ] || { echo "build-image: no binary at $BIN (cargo build --release first)" >&2; exit 1; }
command -v buildah >/dev/null || { echo "build-image: buildah is missing (apt-get install buildah)" >&2; exit 1; }
[ -f /etc/ssl/certs/ca-certificates.crt ] || { echo "build-image: no /etc/ssl/certs/ca-certificates.crt (apt-get install ca-certificates)" >&2; exit 1; }

# `sloguard 0.1.0 (commit abc123def456)` -> version 0.1.0, revision abc123def456
read -r _ VERSION _ REVISION < <("$BIN" --version)
REVISION="${REVISION%)}"
TAG="${SLOGUARD_IMAGE:-localhost/sloguard:$VERSION}"
ARCHIVE="${SLOGUARD_IMAGE_ARCHIVE:-target/image/sloguard.oci.tar}"
SOURCE="${SLOGUARD_IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}"

CTX="$(dirname "$ARCHIVE")/context"
rm -rf "$CTX"
ROOT="$CTX/rootfs"
mkdir -p "$ROOT/usr/bin" "$ROOT/etc/ssl/certs" "$ROOT/etc/sloguard" "$ROOT/var/lib/sloguard" "$ROOT/tmp"
chmod 1777 "$ROOT/tmp"
install -m 0755 "$BIN" "$ROOT/usr/bin/sloguard"

# Exactly the libraries the dynamic linker loads for this binary (and the linker itself),
# each at the path ldd names, symlinks resolved to the file.
libs=$(ldd "$BIN" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
for lib in $libs; do
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nsloguard:x:10001:10001:sloguard:/var/lib/sloguard:/sbin/nologin\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\nsloguard:x:10001:\n' >"$ROOT/etc/group"
printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"

CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "== buildah bud $TAG (libraries: $(echo $libs | tr '\n' ' '))"
buildah bud --quiet --layers=false --format oci \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
  --build-arg SOURCE="$SOURCE" --build-arg CREATED="$CREATED" \
  -f deploy/image/Containerfile -t "$TAG" "$CTX" >/dev/null
rm -f "$ARCHIVE"
buildah push --quiet "$TAG" "oci-archive:$ARCHIVE:$TAG"
echo "== image $TAG saved to $ARCHIVE ($(du -k "$ARCHIVE" | cut -f1) KiB)"
