#!/usr/bin/env bash
# The main job on one machine: installs what is missing, builds in release mode, builds the sample
# catalog (the vendored aerial tiles plus synthetic orchards), freezes the quick start's manifests,
# and trains the default model with a local cluster (cluster.yaml: one coordinator, two worker
# processes) on them. Extra arguments go to `coordinator run` (e.g. --set training.steps=50).
#
#   SYNTH=256    synthetic orchard tiles added to the catalog (seed 1; see docs/datasets.md for why few)
#   CATALOG=data/catalog
#   MARGIN=128   pixels between the held-out region and the nearest training tile of its image
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

# Held out, reported apart (docs/datasets.md): a region of the YELL image the model never sees the
# surroundings of — its two right-hand tile columns (x >= 896 px, 16 tiles), with a margin of
# MARGIN px (default 128 = 12.8 m, wider than the largest crown, 10.2 m) between it and every
# training tile — and every tile of the other site, SJER. Trained on: the YELL tiles outside
# region and margin, and the synthetic training split, RGB only (the real tiles have no NIR band).
MARGIN="${MARGIN:-128}"
region_x=896
region="source = 'aerial-sample' AND site = 'YELL' AND tile_x >= $region_x"
away_from_region="tile_x + width <= $region_x - $MARGIN"
freeze() {  # freeze NAME QUERY: manifests are immutable, so an existing one is kept as it is
  if [ -f "$CATALOG/manifests/$1.json" ]; then
    echo "manifest $1 exists: $CATALOG/manifests/$1.json"
  else
    $C dataset freeze --catalog "$CATALOG" --name "$1" --query "$2"
  fi
}
freeze same-image-unseen-region "$region"
freeze unseen-site "source = 'aerial-sample' AND site = 'SJER'"
freeze "quickstart-blocked-train-m$MARGIN" "bands = 3 AND (synthetic = 1 AND split = 'train'
                         OR source = 'aerial-sample' AND site = 'YELL' AND $away_from_region)"

# The timeline (runs/canopy/trace.json, for chrome://tracing or Perfetto) is on to show it; it is
# off by default (logging.timeline). The coordinator runs as a child of this shell, not in its
# place (exec): an exec'd process inherits the shell's resource counters, and the build above
# would have been billed to training.
$C run --config cluster.yaml --set logging.timeline=true \
  --set dataset.manifest="$CATALOG/manifests/quickstart-blocked-train-m$MARGIN.json" \
  --set dataset.validation_manifests="$CATALOG/manifests/same-image-unseen-region.json,$CATALOG/manifests/unseen-site.json" "$@"
