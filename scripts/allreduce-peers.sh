#!/usr/bin/env bash
# Grove's ring all-reduce over ZeroMQ side by side with MPI and gloo, measured in the same rounds on
# this machine by the shared peer driver (bench/peers/allreduce_peers.py). Builds allreduce-perf
# optimized, installs the peers once (Open MPI + a Python venv with torch, see bench/peers/setup.sh),
# and saves the table and CSV under runs/bench/.
#
#   scripts/allreduce-peers.sh                  # N = 2 and 4, 16 and 100 MiB, 2 interleaved rounds
#   ROUNDS=3 NPROCS="2" SIZES_MIB="16" scripts/allreduce-peers.sh
#
# Environment: PEERS_DIR (the peer scripts, default ../shared/bench/peers next to the repository),
# PEERS_HOME (their venv and results, default ~/.cache/grove-peers), ROUNDS, NPROCS, SIZES_MIB,
# ITERS (minimum measured iterations, at least 10), WARMUP, BACKENDS (peer backends), OUT_DIR,
# BIN (an allreduce-perf binary already built, e.g. by scripts/build.sh, instead of building one),
# BASELINE_BIN (another allreduce-perf build, e.g. of the previous commit, measured in the same
# rounds as grove-*-baseline: before/after comparisons from one invocation), SEALED=0 (leave out
# grove-fp32-sealed, the fp32 ring with every frame sealed as in a run with keys).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
PEERS_DIR="${PEERS_DIR:-$REPO/../shared/bench/peers}"
PEERS_HOME="${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/grove-peers}"
VENV="${VENV:-$PEERS_HOME/venv}"
ROUNDS="${ROUNDS:-2}"
NPROCS="${NPROCS:-2 4}"
SIZES_MIB="${SIZES_MIB:-16 100}"
ITERS="${ITERS:-10}"
WARMUP="${WARMUP:-4}"
BACKENDS="${BACKENDS:-mpi-default mpi-tcp mpi-tcp-ring gloo}"
OUT_DIR="${OUT_DIR:-$REPO/runs/bench}"
BASELINE_BIN="${BASELINE_BIN:-}"

if [ ! -f "$PEERS_DIR/allreduce_peers.py" ]; then
  echo "allreduce-peers: no allreduce_peers.py in PEERS_DIR=$PEERS_DIR" >&2
  exit 2
fi

if [ -z "${BIN:-}" ]; then
  swift build -c release --product allreduce-perf
  BIN="$(swift build -c release --show-bin-path)/allreduce-perf"
fi

if [ ! -x "$VENV/bin/python" ] || ! command -v mpirun >/dev/null; then
  PEERS_HOME="$PEERS_HOME" VENV="$VENV" bash "$PEERS_DIR/setup.sh"
fi

mkdir -p "$OUT_DIR"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
TABLE="$OUT_DIR/allreduce-peers-$STAMP.txt"
ARGS="-n {n} --sizes-mib {sizes_mib} --iters {iters} --warmup {warmup} --peer-format --mode"
GROVE="$BIN $ARGS"
EXTERNALS=(--external "grove-fp32=$GROVE fp32" --external "grove-exact=$GROVE exact" --external "grove-fp16=$GROVE fp16")
# The ring a run with keys uses: every frame sealed with AES-256-GCM (docs/security.md, "The ring").
if [ "${SEALED:-1}" != 0 ]; then
  EXTERNALS+=(--external "grove-fp32-sealed=$GROVE fp32 --security aead")
fi
if [ -n "$BASELINE_BIN" ]; then
  if [ ! -x "$BASELINE_BIN" ]; then
    echo "allreduce-peers: BASELINE_BIN=$BASELINE_BIN is not an executable" >&2
    exit 2
  fi
  for mode in fp32 exact fp16; do EXTERNALS+=(--external "grove-$mode-baseline=$BASELINE_BIN $ARGS $mode"); done
fi

{
  echo "# allreduce-peers $STAMP: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$TABLE"

# shellcheck disable=SC2086  # NPROCS, SIZES_MIB and BACKENDS are lists
"$VENV/bin/python" "$PEERS_DIR/allreduce_peers.py" \
  --backends $BACKENDS --nprocs $NPROCS --sizes-mib $SIZES_MIB \
  --iters "$ITERS" --warmup "$WARMUP" --rounds "$ROUNDS" \
  "${EXTERNALS[@]}" \
  --csv "$OUT_DIR/allreduce-peers-$STAMP.csv" 2>&1 | tee -a "$TABLE"

echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$TABLE"
echo "saved $TABLE"
