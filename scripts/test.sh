#!/usr/bin/env bash
# The one command that runs every test (README, CI): installs the external tools the tests
# need when they are missing, then runs fmt, clippy, the whole cargo test suite (including
# the tests that start promtool and the deploy tests: kubectl, kubernetes-validate,
# systemd-analyze, pre-commit), promtool over every committed rule and rule test,
# `generate --check` so committed rules/ match slo-specs/, and last the release build
# (`cargo install --path .`), its size, and the container image built and run from it.
set -euo pipefail
cd "$(dirname "$0")/.."
# A clean checkout has no target/ yet; the tools below are unpacked and installed under it.
mkdir -p target

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v curl >/dev/null 2>&1 || apt_install curl
command -v promtool >/dev/null 2>&1 || { echo "== installing Debian prometheus (promtool)"; apt_install prometheus; }
command -v prometheus-alertmanager >/dev/null 2>&1 || { echo "== installing Debian prometheus-alertmanager"; apt_install prometheus-alertmanager; }
command -v python3 >/dev/null 2>&1 || apt_install python3
command -v chromium >/dev/null 2>&1 || { echo "== installing Debian chromium (dashboard test)"; apt_install chromium; }
command -v promtool >/dev/null 2>&1 || { echo "promtool is still missing after install" >&2; exit 1; }
# Deploy tests: kubectl (Kustomize), systemd-analyze, buildah/podman for the image.
command -v git >/dev/null 2>&1 || apt_install git
command -v kubectl >/dev/null 2>&1 || { echo "== installing Debian kubernetes-client (kubectl)"; apt_install kubernetes-client; }
command -v systemd-analyze >/dev/null 2>&1 || { echo "== installing Debian systemd (systemd-analyze)"; apt_install systemd; }
command -v buildah >/dev/null 2>&1 || { echo "== installing Debian buildah"; apt_install buildah; }
command -v podman >/dev/null 2>&1 || { echo "== installing Debian podman"; apt_install podman; }
[ -f /etc/ssl/certs/ca-certificates.crt ] || apt_install ca-certificates
for t in kubectl systemd-analyze buildah podman chroot ldd; do
  command -v "$t" >/dev/null 2>&1 || { echo "$t is still missing after install" >&2; exit 1; }
done
# Debian's kubectl (Kustomize v2.0.3) unpacked under target/ even where a newer kubectl is
# installed: the overlays must render with both.
KUBECTL_V2="$PWD/target/debian-kubectl/usr/bin/kubectl"
if [ ! -x "$KUBECTL_V2" ]; then
  echo "== unpacking Debian kubernetes-client into target/debian-kubectl"
  [ -n "$apt_updated" ] || { $SUDO apt-get update -qq; apt_updated=1; }
  deb_dir="$(mktemp -d)"
  (cd "$deb_dir" && apt-get download -qq kubernetes-client)
  mkdir -p "$PWD/target/debian-kubectl"
  dpkg -x "$deb_dir"/kubernetes-client_*.deb "$PWD/target/debian-kubectl"
  rm -rf "$deb_dir"
fi
export SLOGUARD_KUBECTL_V2="$KUBECTL_V2"

# moto server (AWS Route 53 / SNS emulator) in a project-local venv.
MOTO_VENV="$PWD/target/moto-venv"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  echo "== installing moto[server] into $MOTO_VENV"
  python3 -m venv "$MOTO_VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$MOTO_VENV"; }
  "$MOTO_VENV/bin/pip" install -q 'moto[server]'
fi
# The schema test validates with a JSON Schema implementation made elsewhere.
"$MOTO_VENV/bin/python" -c 'import jsonschema, yaml' 2>/dev/null \
  || "$MOTO_VENV/bin/pip" install -q jsonschema pyyaml
export SLOGUARD_MOTO_SERVER="$MOTO_VENV/bin/moto_server"
# The AWS CLI (v1, from PyPI) in its own venv: the playbook test runs every `aws` line
# of a generated playbook through it, so each call's argument shapes are checked.
AWSCLI_VENV="$PWD/target/awscli-venv"
if [ ! -x "$AWSCLI_VENV/bin/aws" ]; then
  echo "== installing awscli into $AWSCLI_VENV"
  python3 -m venv "$AWSCLI_VENV"
  "$AWSCLI_VENV/bin/pip" install -q awscli
fi
export SLOGUARD_AWS_CLI="$AWSCLI_VENV/bin/aws"
export SLOGUARD_PYTHON="$MOTO_VENV/bin/python"
# kubernetes-validate and pre-commit (PyPI) in their own venv.
DEPLOY_VENV="$PWD/target/deploy-venv"
if [ ! -x "$DEPLOY_VENV/bin/kubernetes-validate" ] || [ ! -x "$DEPLOY_VENV/bin/pre-commit" ]; then
  echo "== installing kubernetes-validate and pre-commit into $DEPLOY_VENV"
  python3 -m venv "$DEPLOY_VENV"
  "$DEPLOY_VENV/bin/pip" install -q kubernetes-validate pre-commit
fi
export SLOGUARD_KUBERNETES_VALIDATE="$DEPLOY_VENV/bin/kubernetes-validate"
export SLOGUARD_PRE_COMMIT="$DEPLOY_VENV/bin/pre-commit"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== room sizes (files up to 800 lines, functions up to 150)"
python3 scripts/rooms.py
echo "== cargo test"
cargo test
echo "== promtool check rules / test rules on rules/"
(cd rules && promtool check rules ./*.yaml && promtool test rules tests/*.yaml)
echo "== amtool check-config on the generated Alertmanager example"
amtool check-config rules/alertmanager/sloguard.yaml
echo "== sloguard generate --check"
cargo run --quiet -- generate --check
echo "== deploy/kubernetes/sync.sh --check (the Kustomize tree's copies)"
SLOGUARD="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/sloguard" \
  bash deploy/kubernetes/sync.sh --check
# The release build as users install it, then the image from that binary.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
echo "== cargo install --path . (release build)"
start=$(date +%s)
CARGO_TARGET_DIR="$TARGET_DIR" cargo install --quiet --locked --path . --root "$TARGET_DIR/install" --force
RELEASE_BIN="$TARGET_DIR/install/bin/sloguard"
size=$(stat -c %s "$RELEASE_BIN")
echo "== release binary: $size bytes ($(( $(date +%s) - start ))s); $("$RELEASE_BIN" --version)"
[ "$size" -lt $((40 * 1024 * 1024)) ] || { echo "release binary is $size bytes (>= 40 MiB)" >&2; exit 1; }
echo "== container image (scripts/build-image.sh, scripts/test-image.sh)"
start=$(date +%s)
SLOGUARD_IMAGE_ARCHIVE="$TARGET_DIR/image/sloguard.oci.tar" bash scripts/build-image.sh "$RELEASE_BIN"
bash scripts/test-image.sh "$TARGET_DIR/image/sloguard.oci.tar"
echo "== image built and tested in $(( $(date +%s) - start ))s"
echo "== all tests passed"
