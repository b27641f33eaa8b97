#!/usr/bin/env bash
# Installs the pinned test tools (moto server, cargo-lambda, SAM CLI, cfn-lint) into .tools/.
# Does nothing when .tools already holds exactly these pins.
# Also installs Debian's chromium for the browser tests when /usr/bin/chromium is missing (they
# drive that binary; no test tool may download a browser of its own).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests" >&2
  apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q)
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then
    apt=(sudo "${apt[@]}")
  fi
  # The package lists may be missing or stale on a fresh machine: update only when that bites.
  "${apt[@]}" install -y chromium || { "${apt[@]}" update && "${apt[@]}" install -y chromium; }
fi

requirements=scripts/tools-requirements.txt
stamp=.tools/.installed-from
if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
  exit 0
fi
echo "installing test tools into .tools/ (first run: about a minute)" >&2
python3 -m venv .tools
.tools/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
