#!/usr/bin/env bash
# Runs every test, optimized (tests that train start the release binaries of the same build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
swift test -c release -Xswiftc -enable-testing "$@"
