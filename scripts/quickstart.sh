#!/usr/bin/env bash
# The main job on one machine: installs what is missing, builds in release mode, builds the sample
# catalog (the vendored aerial tiles plus synthetic orchards), freezes the quick start's manifests,
# and trains the default model with a local cluster (cluster.yaml: one coordinator, two worker
# processes) on them. Extra arguments go to `coordinator run` (e.g. --set training.steps=50).
#
#   SYNTH=256    synthetic orchard tiles added to the catalog (seed 1; see docs/datasets.md for why few)
#   CATALOG=data/catalog
#
# Every step is idempotent: a second run finds the catalog and the manifests and reuses them (and
# `coordinator run` continues the run directory's checkpoints rather than starting over).
set -euo pipefail
cd "$(dirname "$0")/.."
SYNTH="${SYNTH:-256}"
CATALOG="${CATALOG:-data/catalog}"
bash scripts/install-deps.sh
bash scripts/build.sh
C=.build/release/coordinator

$C dataset import data/aerial-sample --catalog "$CATALOG"
$C dataset synth --count "$SYNTH" --seed 1 --catalog "$CATALOG"

# Held out: every fifth real tile in id order (the tiles the product is judged on). Trained on: the
# other real tiles and the synthetic training split, RGB only (the vendored tiles have no NIR band).
held_out="SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM samples
                         WHERE source = 'aerial-sample') WHERE n % 5 = 0"
freeze() {  # freeze NAME QUERY: manifests are immutable, so an existing one is kept as it is
  if [ -f "$CATALOG/manifests/$1.json" ]; then
    echo "manifest $1 exists: $CATALOG/manifests/$1.json"
  else
    $C dataset freeze --catalog "$CATALOG" --name "$1" --query "$2"
  fi
}
freeze quickstart-val "$held_out"
freeze quickstart-train "bands = 3 AND (synthetic = 1 AND split = 'train'
                         OR source = 'aerial-sample' AND id NOT IN ($held_out))"

# The timeline (runs/canopy/trace.json, for chrome://tracing or Perfetto) is on to show it; it is
# off by default (logging.timeline). The coordinator runs as a child of this shell, not in its
# place (exec): an exec'd process inherits the shell's resource counters, and the build above
# would have been billed to training.
$C run --config cluster.yaml --set logging.timeline=true \
  --set dataset.manifest="$CATALOG/manifests/quickstart-train.json" \
  --set dataset.validation_manifest="$CATALOG/manifests/quickstart-val.json" "$@"
