#!/usr/bin/env bash
# Scale: N SLOs x 3 regions (N/10 spec files of 10 SLOs), 6 h of 60 s counters in a real
# Prometheus 2.42, with a proxy in front that adds 25 ms to every request (what a Thanos
# Query across regions answers in). Measures sloguard `eval` (backfill + one evaluation,
# wall time and peak RSS, local and through the proxy) and `serve` through the proxy
# (cold backfill to ready, tick_latency p50/p99 after 20 evaluations, peak and steady
# RSS), queries per evaluation, and Prometheus' own cost of evaluating the same SLOs'
# generated rules (sum of the rule groups' evaluationTime). Everything runs on 127.0.0.1
# and is stopped at the end.
# Usage: benches/scale.sh [N_SLOS] (default 1000)
#   RULES=0    Prometheus without the generated rules (no rule-cost figure; at 10,000 SLOs
#              their evaluation would load the machine the engine is measured on)
#   LOCAL=0    skip the `serve` run against the local Prometheus (proxy only)
#   EVAL=0     skip the `eval` runs
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
command -v promtool >/dev/null && command -v prometheus >/dev/null || { echo "needs Debian prometheus (scripts/test.sh installs it)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian time)" >&2; exit 1; }
cargo build --release --quiet
SG=$PWD/target/release/sloguard
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now=$(date +%s)

echo "== $N SLOs x 3 regions: specs and 6 h of counters"
python3 benches/scale_data.py specs "$N" "$work/specs"
python3 benches/scale_data.py data "$N" "$now" > "$work/data.om"
samples=$(grep -vc '^#' "$work/data.om")
echo "   $samples samples; promtool create-blocks ..."
t0=$(date +%s.%N)
promtool tsdb create-blocks-from openmetrics --max-block-duration=24h "$work/data.om" "$work/tsdb" >/dev/null
echo "   blocks in $(python3 -c "print(round($(date +%s.%N) - $t0, 1))") s"
rm "$work/data.om"
"$SG" generate --specs "$work/specs" --out "$work/rules" >/dev/null

PP=$(port)
{
  echo "global: {evaluation_interval: 60s, scrape_interval: 60s}"
  if [ "${RULES:-1}" = 1 ]; then echo "rule_files: ['$work/rules/*.yaml']"; fi
  echo "scrape_configs: []"
} > "$work/prom.yml"
prometheus --config.file="$work/prom.yml" --storage.tsdb.path="$work/tsdb" --web.listen-address=127.0.0.1:$PP \
  --storage.tsdb.retention.time=90d --query.max-samples=200000000 > "$work/prom.log" 2>&1 &
pids+=($!)
until curl -sf "127.0.0.1:$PP/-/ready" >/dev/null; do sleep 0.2; done
XP=$(port)
python3 benches/scale_data.py proxy "$XP" "$PP" 0.025 &
pids+=($!)
until curl -sf "127.0.0.1:$XP/-/ready" >/dev/null; do sleep 0.2; done

config() { # $1: source URL, $2: listen port
  cat <<YAML
specs: $work/specs
source: {thanos: {url: $1, timeout: 60s}}
evaluation: {interval: 5s}
regions: {label: region, active: us-east-1, standby: [eu-west-1, ap-south-1]}
server: {listen: 127.0.0.1:$2}
YAML
}
config "http://127.0.0.1:$PP" "$(port)" > "$work/local.yaml"
config "http://127.0.0.1:$XP" "$(port)" > "$work/proxy.yaml"

measure_eval() { # $1 config -> "wall_s peak_rss_mb queries"
  /usr/bin/time -f "%e %M" -o "$work/time" "$SG" eval --config "$1" --output json > "$work/eval.json" 2>/dev/null || true
  read -r wall rss < "$work/time"
  q=$(python3 -c "import json; print(json.load(open('$work/eval.json'))['queries_per_evaluation'])")
  echo "$wall $((rss / 1024)) $q"
}
if [ "${EVAL:-1}" = 1 ]; then
  echo "== eval (backfill + one evaluation)"
  read -r lw lr lq < <(measure_eval "$work/local.yaml")
  echo "   local Prometheus: ${lw} s, peak RSS ${lr} MB, $lq queries per evaluation"
  read -r xw xr xq < <(measure_eval "$work/proxy.yaml")
  echo "   through the 25 ms proxy: ${xw} s, peak RSS ${xr} MB"
fi

serve_run() { # $1 config, $2 label
  local listen; listen=$(awk '/^server:/ {print $3}' "$1" | tr -d '}')
  local started; started=$(date +%s.%N)
  "$SG" serve --config "$1" > "$work/serve-$2.log" 2>&1 &
  local pid=$!; pids+=($pid)
  until curl -sf "http://$listen/readyz" >/dev/null; do
    sleep 0.2
    if ! kill -0 $pid 2>/dev/null; then echo "serve died: $(tail -5 "$work/serve-$2.log")" >&2; return 1; fi
  done
  local ready; ready=$(python3 -c "print(round($(date +%s.%N) - $started, 1))")
  sleep 100   # 20 evaluations at 5 s
  local p50 p99; read -r p50 p99 < <(curl -s "http://$listen/api/v1/status" | python3 -c "import json,sys; t=json.load(sys.stdin)['tick_latency']; print(t['p50_ms'], t['p99_ms'])")
  local hwm rss; hwm=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status); rss=$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
  echo "   $2: ready after ${ready} s (cold backfill), tick_latency p50 ${p50} ms, p99 ${p99} ms, peak RSS ${hwm} MB, steady RSS ${rss} MB"
}
echo "== serve"
if [ "${LOCAL:-1}" = 1 ]; then serve_run "$work/local.yaml" "local Prometheus"; fi
serve_run "$work/proxy.yaml" "through the 25 ms proxy"

[ "${RULES:-1}" = 1 ] || exit 0
echo "== Prometheus evaluating the generated rules of the same SLOs"
sleep 5
python3 - "$PP" <<'PY'
import json, sys, urllib.request
d = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v1/rules"))
groups = [g for f in [d["data"]["groups"]] for g in f]
total = sum(g.get("evaluationTime", 0) for g in groups)
rules = sum(len(g["rules"]) for g in groups)
print(f"   {len(groups)} rule groups, {rules} rules: sum of evaluationTime {total*1000:.0f} ms per evaluation round")
PY
