#!/usr/bin/env bash
# Load test of the Alertmanager webhook on loopback with wrk (Debian): sloguard alerts
# with unique fingerprints, every 10th delivery a duplicate of the previous one (as HA
# Alertmanager peers do). Reports requests/s and latency percentiles, then checks that
# every unique alert was processed exactly once and every duplicate was recognised.
# Usage: benches/webhook_load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
CONNS=${2:-32}
command -v wrk >/dev/null || { echo "needs wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release --quiet
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo -n "wrk-load-token" > "$work/token"
cat > "$work/sg.yaml" <<YAML
specs: $PWD/slo-specs
source: {thanos: {url: http://127.0.0.1:$dead, retries: 0, timeout: 1s}}
evaluation: {interval: 1h, lookback: 1h}
server:
  listen: 127.0.0.1:$port
  webhook_auth: {bearer_token_file: $work/token}
YAML
target/release/sloguard serve --config "$work/sg.yaml" > "$work/sg.log" 2>&1 &
pid=$!
until curl -sf "127.0.0.1:$port/healthz" >/dev/null; do sleep 0.1; done
cat > "$work/load.lua" <<'LUA'
local threads = {}
local counter = 1
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  n = 0
  dups = 0
  last = nil
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer wrk-load-token"
end
function request()
  n = n + 1
  if n % 10 == 0 and last ~= nil then
    dups = dups + 1
    return wrk.format(nil, "/api/v1/alertmanager", nil, last)
  end
  local fp = string.format("t%d-%d", id, n)
  last = '{"version":"4","groupKey":"{}:{alertname=\\"CheckoutAvailabilityBudgetBurn\\"}","status":"firing","receiver":"sloguard","truncatedAlerts":0,"alerts":[{"status":"firing","labels":{"alertname":"CheckoutAvailabilityBudgetBurn","sloth_service":"checkout","sloth_slo":"requests-availability","sloth_severity":"ticket","region":"us-east-1"},"annotations":{},"startsAt":"2026-11-27T06:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"' .. fp .. '"}]}'
  return wrk.format(nil, "/api/v1/alertmanager", nil, last)
end
function done(summary, latency, requests)
  local sent, dup = 0, 0
  for _, t in ipairs(threads) do
    sent = sent + t:get("n")
    dup = dup + t:get("dups")
  end
  io.write(string.format("generated %d deliveries, %d duplicates\n", sent, dup))
  io.write(string.format("p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
LUA
echo "wrk: $CONNS connections, 2 threads, ${SECS}s against 127.0.0.1:$port (sloguard and wrk share the 2 cores)"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$work/load.lua" "http://127.0.0.1:$port" | tee "$work/wrk.out"
sleep 1
m=$(curl -s "127.0.0.1:$port/metrics")
processed=$(echo "$m" | awk '/^sloguard_webhook_alerts\{result="processed"\}/ {print $2}')
duplicates=$(echo "$m" | awk '/^sloguard_webhook_alerts\{result="duplicate"\}/ {print $2}')
rejected=$(echo "$m" | awk '/^sloguard_webhook_alerts\{result="rejected"\}/ {print $2}')
sent=$(awk '/^generated/ {print $2}' "$work/wrk.out")
dups=$(awk '/^generated/ {print $4}' "$work/wrk.out")
echo "sloguard: processed $processed, duplicates recognised $duplicates, rejected $rejected"
# wrk generates a request before it sends it: the last one per connection may be unsent.
python3 - <<PY
sent, dups, processed, duplicates = $sent, $dups, $processed, $duplicates
unique = sent - dups
print(f"unique alerts generated {unique}, processed {processed} (difference {unique - processed}, at most one unsent request per connection: $CONNS)")
assert 0 <= unique - processed <= $CONNS, "an alert was lost or processed twice"
assert duplicates <= dups and dups - duplicates <= $CONNS, "a duplicate was processed"
print("every unique alert processed exactly once: OK")
PY
