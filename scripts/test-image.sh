#!/usr/bin/env bash
# Checks the image scripts/build-image.sh saved: unpacks the OCI archive's layers into a
# root filesystem, checks the image config (non-root user, default command, OCI labels)
# and the size, then runs `sloguard --version` and the demo inside the image: with
# `podman run` where this machine can run containers, else with `chroot` into the
# unpacked root as the image's user.
#
#   scripts/test-image.sh [ARCHIVE]      (default target/image/sloguard.oci.tar)
set -euo pipefail
cd "$(dirname "$0")/.."

ARCHIVE="${1:-${SLOGUARD_IMAGE_ARCHIVE:-target/image/sloguard.oci.tar}}"
MAX_BYTES=$((60 * 1024 * 1024))
fail() { echo "test-image: FAIL: $*" >&2; exit 1; }
[ -f "$ARCHIVE" ] || fail "no archive at $ARCHIVE (scripts/build-image.sh first)"
command -v python3 >/dev/null || fail "python3 is missing"

WORK="$(dirname "$ARCHIVE")/unpacked"
rm -rf "$WORK"
mkdir -p "$WORK/oci" "$WORK/rootfs"
tar -xf "$ARCHIVE" -C "$WORK/oci"

# index -> manifest -> config and layers (in order).
python3 - "$WORK/oci" >"$WORK/layout.env" <<'PY'
import json, sys, shlex
root = sys.argv[1]
blob = lambda d: f"{root}/blobs/{d.replace(':', '/', 1)}"
index = json.load(open(f"{root}/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
config = json.load(open(blob(manifest["config"]["digest"])))
c = config.get("config", {})
labels = c.get("Labels") or {}
print("TAG=" + shlex.quote(index["manifests"][0].get("annotations", {}).get("org.opencontainers.image.ref.name", "")))
print("USER_=" + shlex.quote(c.get("User", "")))
print("ENTRYPOINT=" + shlex.quote(json.dumps(c.get("Entrypoint"))))
print("CMD=" + shlex.quote(json.dumps(c.get("Cmd"))))
for k in ("version", "revision", "source"):
    print(f"LABEL_{k.upper()}=" + shlex.quote(labels.get(f"org.opencontainers.image.{k}", "")))
print("LAYERS=" + shlex.quote(" ".join(blob(l["digest"]) for l in manifest["layers"])))
print("LAYER_BYTES=" + str(sum(l["size"] for l in manifest["layers"])))
PY
# shellcheck disable=SC1091
. "$WORK/layout.env"
for layer in $LAYERS; do tar -xf "$layer" -C "$WORK/rootfs"; done
ROOT="$WORK/rootfs"

[ "$USER_" = "10001:10001" ] || fail "image user is '$USER_', want 10001:10001"
[ "$ENTRYPOINT" = '["/usr/bin/sloguard"]' ] || fail "entrypoint is $ENTRYPOINT"
[ "$CMD" = '["serve", "--config", "/etc/sloguard/sloguard.yaml"]' ] || fail "default command is $CMD"
grep -q '^sloguard:x:10001:10001:' "$ROOT/etc/passwd" || fail "no sloguard user 10001 in /etc/passwd"
[ -s "$ROOT/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates"
[ ! -e "$ROOT/bin/sh" ] && [ ! -e "$ROOT/usr/bin/sh" ] || fail "the image holds a shell"
[ -n "$LABEL_VERSION" ] && [ -n "$LABEL_REVISION" ] && [ -n "$LABEL_SOURCE" ] || fail "OCI labels missing: version='$LABEL_VERSION' revision='$LABEL_REVISION' source='$LABEL_SOURCE'"
# Exactly the shared libraries the binary links: ldd's list, nothing more.
want_libs=$(ldd "$ROOT/usr/bin/sloguard" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u)
have_libs=$(cd "$ROOT" && find . -path ./usr/bin -prune -o -path ./etc -prune -o -type f -print | sed 's|^\.||' | sort -u)
[ "$want_libs" = "$have_libs" ] || fail "libraries in the image: $(echo $have_libs); ldd wants: $(echo $want_libs)"
unpacked_bytes=$(du -sb "$ROOT" | cut -f1)
[ "$unpacked_bytes" -lt "$MAX_BYTES" ] || fail "unpacked image is $unpacked_bytes bytes (>= 60 MiB)"
echo "== image $TAG: $unpacked_bytes bytes unpacked, $LAYER_BYTES bytes of layers; labels version=$LABEL_VERSION revision=$LABEL_REVISION"
echo "== files: $(cd "$ROOT" && find . -type f | sort | tr '\n' ' ')"

# Run inside the image: podman where it can start a container here, chroot otherwise
# (sandboxes that refuse crun's setrlimit or user namespaces).
mode=chroot
if command -v podman >/dev/null && [ -n "$TAG" ]; then
  podman load -q -i "$ARCHIVE" >/dev/null 2>&1 || true
  if podman run --rm --network host "$TAG" --version >"$WORK/podman.out" 2>&1; then
    mode=podman
  else
    echo "== podman run is not possible here ($(tail -1 "$WORK/podman.out")); using chroot"
  fi
fi
CHROOT="$(command -v chroot)" || fail "chroot is missing"
in_image() {
  if [ "$mode" = podman ]; then
    timeout 600 podman run --rm --network host "$TAG" "$@"
  else
    timeout 600 env -i PATH=/usr/bin HOME=/var/lib/sloguard SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
      "$CHROOT" --userspec=10001:10001 "$ROOT" /usr/bin/sloguard "$@"
  fi
}

out=$(in_image --version) || fail "sloguard --version failed in the image ($mode)"
echo "== ($mode) $out"
case "$out" in
  "sloguard $LABEL_VERSION (commit $LABEL_REVISION)") ;;
  *) fail "--version in the image says '$out', labels say $LABEL_VERSION / $LABEL_REVISION" ;;
esac
start=$(date +%s)
in_image demo --exit-when-done --speed 1000 --listen 127.0.0.1:0 >"$WORK/demo.out" 2>&1 || { tail -40 "$WORK/demo.out" >&2; fail "the demo failed in the image ($mode)"; }
tail -5 "$WORK/demo.out"
echo "== ($mode) demo passed in the image in $(( $(date +%s) - start ))s"
echo "== image test passed"
