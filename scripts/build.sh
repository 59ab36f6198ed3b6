#!/usr/bin/env bash
# Builds everything optimized. Tests share this build (the same flags), so the test command does
# not compile Grove a second time.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release -Xswiftc -enable-testing "$@"
