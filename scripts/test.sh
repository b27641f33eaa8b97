#!/usr/bin/env bash
# Every test: first the lints we declare (rustfmt, clippy with warnings as errors); then installs
# the pinned tools, starts one moto server on a free loopback port for the whole run, runs the
# workspace's tests against it, then the scaffold test on its own, and stops moto again; then
# lints the SAM template with cfn-lint and sam validate, and builds it with sam build. The
# generated part of the template and the event catalog are checked in between.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
scripts/package-check.sh

scripts/tools.sh
export PATH="$PWD/.tools/bin:$PATH"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
       AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test SAM_CLI_TELEMETRY=0

mkdir -p target
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python scripts/moto_server.py -H 127.0.0.1 -p "$port" > target/moto-server.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done
export HERALD_MOTO_ENDPOINT="http://127.0.0.1:$port"
echo "moto server on $HERALD_MOTO_ENDPOINT (log: target/moto-server.log)" >&2

cargo test --workspace --locked 2>&1 | tee target/test-output.log

# `herald new` in a copy of the workspace, built in target/scaffold-test: on its own, once
# nothing else is building (see shared/herald-cli/tests/scaffold.rs).
cargo test -p herald-cli --test scaffold --locked -- --ignored 2>&1 | tee -a target/test-output.log

# The template's consumer resources are what the functions' declarations generate.
cargo herald infra check

# The event catalog agrees with the template and the functions, and no published schema changed
# incompatibly since the last commit.
cargo herald catalog check

# The template: both linters, then SAM's own build of every function (cargo-lambda, arm64).
# One cargo-lambda build of all functions first links them in parallel; SAM's per-function
# builds then find them fresh.
cfn-lint infra/template.yaml
sam validate --lint -t infra/template.yaml
# These builds prove every function cross-compiles for Lambda (arm64) and the template packages
# them; nothing built here is deployed. So they skip the release profile's whole-program LTO,
# which on two cores costs more than the rest of the run (`make package` and a deploy's own
# `sam build` keep it).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
cargo lambda build --release --arm64 $(for dir in functions/*/; do printf -- '--bin %s ' "$(basename "$dir")"; done)
sam build -t infra/template.yaml --build-dir target/sam-build

# One closing line for the whole run (the cargo summaries above are per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.log
