#!/usr/bin/env bash
# Runs every test, optimized (tests that train start the release binaries of the same build).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# One optimized build of everything, tests included; tests that train start its binaries.
bash scripts/build.sh --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
