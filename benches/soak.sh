#!/usr/bin/env bash
# Soak of `sloguard serve` under mixed hostile load on loopback (issue: hostile input):
# valid, duplicate, malformed, oversized and unauthenticated webhook deliveries, operator
# reads and failover-signal polls, open-loop at a fixed rate. It is `tests/soak.rs` (the
# suite runs it for 60 s at 1,000 req/s on the debug build) on the release build, longer
# and faster: it fails if any request gets the wrong answer, a unique alert is lost or
# processed twice, or RSS grows more than 10% after warm-up; it prints throughput,
# latency percentiles and RSS over time for benches/README.md.
# Usage: benches/soak.sh [seconds=600] [requests per second=5000]
set -euo pipefail
cd "$(dirname "$0")/.."
export SOAK_SECS=${1:-600}
export SOAK_RATE=${2:-5000}
cargo test --release --test tests soak:: -- --nocapture 2>&1 | grep -E "^soak:|test result|panicked|RSS grew|assert"
