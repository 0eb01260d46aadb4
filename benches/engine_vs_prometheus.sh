#!/usr/bin/env bash
# Side-by-side, on the same backfilled data (100 SLO streams x 30 days: one SLO, 100
# regions, 60 s scrapes, data ending now): Prometheus evaluating the generated rule group
# versus sloguard's steady-state evaluation. Reports samples read from the TSDB and CPU
# per evaluation for both. Everything runs on 127.0.0.1 and is stopped at the end.
# Usage: benches/engine_vs_prometheus.sh [regions] [days]
set -euo pipefail
cd "$(dirname "$0")/.."
REGIONS=${1:-100}
DAYS=${2:-30}
command -v promtool >/dev/null && command -v prometheus >/dev/null || { echo "needs Debian prometheus (scripts/test.sh installs it)" >&2; exit 1; }
cargo build --release --quiet --example gen_outage
cargo build --release --quiet
SG=$PWD/target/release/sloguard
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$work/specs"
cat > "$work/specs/api.yaml" <<'YAML'
version: "prometheus/v1"
service: api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="api"}[{{.window}}]))
    alerting: {name: ApiBurn}
YAML
"$SG" generate --specs "$work/specs" --out "$work/rules" >/dev/null
now=$(date +%s)
echo "generating $REGIONS regions x $DAYS days at 60s ..."
target/release/examples/gen_outage "$DAYS" 1.0 "$REGIONS" 60 "$now" > "$work/data.om"
samples=$(grep -vc '^#' "$work/data.om")
echo "backfilling $samples samples ($(du -h "$work/data.om" | cut -f1)) with promtool ..."
# One block for the whole span: promtool rescans the input once per block window.
promtool tsdb create-blocks-from openmetrics --max-block-duration=$((DAYS * 24 + 24))h "$work/data.om" "$work/tsdb" >/dev/null
rm "$work/data.om"
PP=$(port)
cat > "$work/prom.yml" <<YAML
global: {evaluation_interval: 30s, scrape_interval: 30s}
rule_files: ['$work/rules/api.yaml']
scrape_configs: []
YAML
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/tsdb" --web.listen-address=127.0.0.1:$PP \
  --storage.tsdb.retention.time=90d > "$work/prom.log" 2>&1 &
pids+=($!)
PROM_PID=$!
until curl -sf "127.0.0.1:$PP/-/ready" >/dev/null; do sleep 0.2; done
metric() { curl -s "127.0.0.1:$PP/metrics" | awk -v m="$1" '$1 ~ "^"m {v=$2} END {print v+0}'; }
cpu_of() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
stats_samples() { # total samples read by a query at now (stats=all)
  curl -s --data-urlencode "query=$1" --data-urlencode "time=$2" --data-urlencode "stats=all" "127.0.0.1:$PP/api/v1/query" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["data"]["stats"]["samples"]["totalQueryableSamples"])'
}

echo "letting Prometheus evaluate the rule group (3 evaluations, 30 s apart) ..."
sleep 5
cpu0=$(cpu_of $PROM_PID); g0=$(curl -s "127.0.0.1:$PP/metrics" | awk '/^prometheus_rule_group_iterations_total/ {s+=$2} END {print s+0}')
sleep "${PROM_WAIT:-90}"
g1=$(curl -s "127.0.0.1:$PP/metrics" | awk '/^prometheus_rule_group_iterations_total/ {s+=$2} END {print s+0}'); cpu1=$(cpu_of $PROM_PID)
last=$(curl -s "127.0.0.1:$PP/metrics" | awk '/^prometheus_rule_group_last_duration_seconds/ && !f {print $2; f=1}')
iters=$(python3 -c "print(max(1, $g1 - $g0))")
prom_cpu=$(python3 -c "print(($cpu1 - $cpu0) / $iters)")
# Samples one rule-group evaluation reads: every recording rule's expression, at now.
prom_samples=0
while IFS= read -r expr; do
  n=$(stats_samples "$expr" "$now"); prom_samples=$((prom_samples + n))
done < <(python3 - "$work/rules/api.yaml" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# Recording-rule expressions are YAML literal blocks after `expr: |`.
for _, body in re.findall(r"record: (slo:sli_error:ratio_rate\w+)\n    expr: \|\n((?:      .*\n)+)", text):
    print(" ".join(l.strip() for l in body.splitlines()))
PY
)

SP=$(port)
cat > "$work/sg.yaml" <<YAML
specs: $work/specs
source: {thanos: {url: http://127.0.0.1:$PP}}
evaluation: {interval: 5s}
regions: {active: us-east-1, standby: [eu-west-1]}
server: {listen: 127.0.0.1:$SP}
YAML
"$SG" serve --config "$work/sg.yaml" > "$work/sg.log" 2>&1 &
pids+=($!)
SG_PID=$!
t0=$(date +%s.%N)
until curl -sf "127.0.0.1:$SP/readyz" >/dev/null; do sleep 0.1; done
backfill=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
sleep 2
e0=$(curl -s "127.0.0.1:$SP/metrics" | awk '/^sloguard_evaluations_total/ {print $2}'); c0=$(cpu_of $SG_PID); pc0=$(cpu_of $PROM_PID); gi0=$(curl -s "127.0.0.1:$PP/metrics" | awk '/^prometheus_rule_group_iterations_total/ {s+=$2} END {print s+0}')
sleep "${SG_WAIT:-60}"
e1=$(curl -s "127.0.0.1:$SP/metrics" | awk '/^sloguard_evaluations_total/ {print $2}'); c1=$(cpu_of $SG_PID); pc1=$(cpu_of $PROM_PID); gi1=$(curl -s "127.0.0.1:$PP/metrics" | awk '/^prometheus_rule_group_iterations_total/ {s+=$2} END {print s+0}')
evals=$(python3 -c "print(max(1, $e1 - $e0))")
sg_cpu=$(python3 -c "print(($c1 - $c0) / $evals)")
# Prometheus CPU spent answering sloguard's queries: its CPU in that minute minus the rule
# evaluations it ran meanwhile (at the per-iteration cost measured above).
prom_for_sg=$(python3 -c "print(max(0.0, (($pc1 - $pc0) - ($gi1 - $gi0) * $prom_cpu) / $evals))")
q=$(curl -s "127.0.0.1:$SP/api/v1/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["queries_per_evaluation"])')
sg_samples=0
for expr in 'sum by (region) (rate(http_requests_total{code=~"5..",job="api"}[2m]))' 'sum by (region) (rate(http_requests_total{job="api"}[2m]))'; do
  n=$(stats_samples "$expr" "$now"); sg_samples=$((sg_samples + n))
done
python3 - <<PY
prom_s, sg_s = $prom_samples, $sg_samples
prom_cpu, sg_cpu, prom_for_sg = $prom_cpu, $sg_cpu, $prom_for_sg
print(f"data: $REGIONS streams x $DAYS days, $samples samples; sloguard backfill to ready: ${backfill}s")
print(f"Prometheus rule group: last duration $last s, CPU {prom_cpu:.3f} s/evaluation, samples read {prom_s:,}/evaluation")
print(f"sloguard steady state: $q queries/evaluation, samples read {sg_s:,}/evaluation, CPU {sg_cpu*1000:.2f} ms (sloguard) + {prom_for_sg*1000:.2f} ms (Prometheus answering) per evaluation over $evals evaluations")
print(f"samples read: {prom_s / max(1, sg_s):.0f}x fewer; CPU: {prom_cpu / max(1e-6, sg_cpu + prom_for_sg):.0f}x less")
PY
