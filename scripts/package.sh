#!/usr/bin/env bash
# Builds every function for Lambda (arm64, release, cargo-lambda with zig) and prints each
# zip's size. The zips land in target/lambda/<function>/bootstrap.zip.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh
export PATH="$PWD/.tools/bin:$PATH"

functions=()
for dir in functions/*/; do
  functions+=("$(basename "$dir")")
done
args=()
for name in "${functions[@]}"; do
  args+=(--bin "$name")
done
cargo lambda build --release --arm64 --output-format zip "${args[@]}"

python3 - "${functions[@]}" <<'PY'
import os, sys, zipfile
print(f"{'function':<15} {'zip':>9} {'bootstrap':>10}")
for name in sys.argv[1:]:
    path = f"target/lambda/{name}/bootstrap.zip"
    unpacked = sum(info.file_size for info in zipfile.ZipFile(path).infolist())
    print(f"{name:<15} {os.path.getsize(path) / 2**20:>6.2f} MB {unpacked / 2**20:>7.2f} MB")
PY
