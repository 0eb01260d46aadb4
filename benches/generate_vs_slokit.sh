#!/usr/bin/env bash
# Side-by-side: `sloguard generate` vs slokit 1.9 (`slokit generate`) on 1,000 SLOs
# (100 services x 10 SLOs, Sloth prometheus/v1 events SLIs), wall time, median of N runs.
# sloguard does more per SLO (region rewrite, NoData alert, promtool test synthesis).
# Usage: benches/generate_vs_slokit.sh [runs]   (installs slokit 1.9.0 into target/ if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}
SLOKIT=${SLOKIT:-$(command -v slokit || true)}
if [ -z "$SLOKIT" ]; then
  if [ ! -x target/slokit/bin/slokit ]; then
    cargo install slokit --version 1.9.0 --locked --root target/slokit >/dev/null 2>&1 || cargo install slokit --version 1.9.0 --root target/slokit
  fi
  SLOKIT=target/slokit/bin/slokit
fi
cargo build --release --quiet
SLOGUARD=target/release/sloguard

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/specs"
for s in $(seq -w 1 100); do
  {
    echo 'version: "prometheus/v1"'
    echo "service: \"svc$s\""
    echo 'labels: {owner: "team'$s'"}'
    echo 'slos:'
    for i in $(seq 1 10); do
      cat <<YAML
  - name: "slo$i"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="svc$s",handler="/h$i",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="svc$s",handler="/h$i"}[{{.window}}]))
    alerting:
      name: Svc${s}Slo${i}Burn
      page_alert: {labels: {severity: critical}}
      ticket_alert: {labels: {severity: warning}}
YAML
    done
  } > "$work/specs/svc$s.yaml"
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

"$SLOGUARD" generate --specs "$work/specs" --out "$work/rules-sloguard" >/dev/null
"$SLOKIT" generate -i "$work/specs" -o "$work/slokit.yaml" >/dev/null
sg=$(for _ in $(seq "$RUNS"); do rm -rf "$work/rules-sloguard"; time_ms "$SLOGUARD" generate --specs "$work/specs" --out "$work/rules-sloguard"; done | median)
sk=$(for _ in $(seq "$RUNS"); do time_ms "$SLOKIT" generate -i "$work/specs" -o "$work/slokit.yaml"; done | median)
rules=$(grep -c -E '^\s*- (record|alert):' "$work"/rules-sloguard/*.yaml | awk -F: '{s+=$2} END {print s}')
tests=$(ls "$work"/rules-sloguard/tests | wc -l)
echo "1000 SLOs (100 services x 10), median of $RUNS runs, $(nproc) cores"
echo "sloguard generate: ${sg} ms  ($rules rules, $tests promtool test files, $(ls "$work"/rules-sloguard/dashboards | wc -l) Grafana dashboards, 1 Alertmanager example)"
echo "slokit 1.9.0 generate: ${sk} ms"
awk -v a="$sk" -v b="$sg" 'BEGIN {printf "speed-up: %.1fx\n", a / b}'
