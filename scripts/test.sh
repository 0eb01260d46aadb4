#!/usr/bin/env bash
# The one command that runs every test (README, CI): installs the external tools the tests
# need when they are missing, then runs fmt, clippy, the whole cargo test suite (including
# the tests that start promtool), promtool over every committed rule and rule test, and
# `generate --check` so committed rules/ match slo-specs/.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test
echo "== promtool check rules / test rules on rules/"
(cd rules && promtool check rules ./*.yaml && promtool test rules tests/*.yaml)
echo "== amtool check-config on the generated Alertmanager example"
amtool check-config rules/alertmanager/sloguard.yaml
echo "== sloguard generate --check"
cargo run --quiet -- generate --check
echo "== all tests passed"
