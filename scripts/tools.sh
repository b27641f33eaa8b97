#!/usr/bin/env bash
# Installs the pinned test tools (moto server, cargo-lambda, SAM CLI, cfn-lint) into .tools/.
# Does nothing when .tools already holds exactly these pins.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=scripts/tools-requirements.txt
stamp=.tools/.installed-from
if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
  exit 0
fi
echo "installing test tools into .tools/ (first run: about a minute)" >&2
python3 -m venv .tools
.tools/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
