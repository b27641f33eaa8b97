#!/usr/bin/env bash
# End-to-end events per second of `herald dev` with the real functions (debug builds, in-memory
# stores): the order-lifecycle samples delivered 50 times each. Prints herald dev's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p herald-cli $(for d in functions/*/; do printf -- '-p %s ' "$(basename "$d")"; done)
target/debug/herald dev --no-build --repeat "${HERALD_BENCH_REPEAT:-50}" --json \
  --dead-letters target/herald-dev/bench-dead-letters.jsonl events/shop.orders events/shop.payments > /dev/null
