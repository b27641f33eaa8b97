#!/usr/bin/env bash
# The framework's crates (herald, event-pattern, herald-infra, herald-catalog, herald-ops and the herald command)
# package for crates.io: metadata, README, license, versioned path dependencies, every file they
# need. `publish = false` stays in the workspace until we decide to release, and cargo packages
# crates that depend on each other only for a registry they may be published to, so this packages
# a copy of the workspace in which publishing to crates.io is allowed. Nothing is uploaded.
set -euo pipefail
cd "$(dirname "$0")/.."

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -f "$file" ] && cp --parents -- "$file" "$copy"
done
sed -i 's/^publish = false$/publish = ["crates-io"]/' "$copy/Cargo.toml"
grep -q '^publish = \["crates-io"\]$' "$copy/Cargo.toml"
(cd "$copy" && cargo package --locked --no-verify --allow-dirty --target-dir "$copy/target" \
  -p herald -p event-pattern -p herald-infra -p herald-catalog -p herald-ops -p herald-cli)
