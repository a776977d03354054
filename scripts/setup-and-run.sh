#!/usr/bin/env bash
# Installs the dependencies, builds vsecret, and runs it on the default per-user embedded store
# (no daemon, no root needed for the run itself).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build
cmake --build build -j"$(nproc)"
echo "== build/bin/vsecret secret-list   (default store: \${XDG_STATE_HOME:-~/.local/state}/vsecret)"
build/bin/vsecret secret-list
