#!/usr/bin/env bash
# The main job on one machine: installs what is missing, builds in release mode, and trains the
# default model with a local cluster (cluster.yaml: one coordinator, two worker processes) on the
# vendored aerial tiles. Extra arguments go to `coordinator run` (e.g. --set training.steps=50).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
exec .build/release/coordinator run --config cluster.yaml "$@"
