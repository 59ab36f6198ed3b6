#!/usr/bin/env bash
# CanopyNet training throughput, Grove against its PyTorch twin, on this machine in one run.
#
# Runs `tensor-bench train` (Grove) and Benchmarks/TensorBench/canopynet_torch.py (PyTorch, same
# architecture, losses, Adam and batch) alternately, ROUNDS rounds, for each thread count, and
# prints a markdown table of medians with the spread and the ratio Grove / PyTorch. The machine is
# shared, so no single run is trusted: alternation puts both under the same background load, and
# the medians over rounds are what the table reports. Results are printed, never asserted.
#
# Usage: scripts/bench-canopynet-vs-torch.sh
#   ROUNDS=5          alternating rounds per thread count
#   THREADS="1 2"     thread counts (Grove's CanopyNet threads; torch.set_num_threads)
#   SECONDS_PER_RUN=4 timed seconds of each run (after the warm-up steps)
#   BATCH=4           samples per step
#   CONFIGS="grove pytorch pytorch-avx2 pytorch-passive"   what to run (see command_for)
#   PYTHON=...        a python with torch (default: the peers' venv, made by
#                     bench/peers/setup.sh in the shared folder)
#   DATA=data/aerial-sample   tiles Grove trains on (the twin uses random tiles of the same shape)
#   OUT=runs/bench/canopynet-vs-torch.tsv   raw per-run results
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS="${ROUNDS:-5}"
THREADS="${THREADS:-1 2}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-4}"
BATCH="${BATCH:-4}"
DATA="${DATA:-data/aerial-sample}"
OUT="${OUT:-runs/bench/canopynet-vs-torch.tsv}"
PEERS_HOME="${PEERS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/grove-peers}"
PYTHON="${PYTHON:-$PEERS_HOME/venv/bin/python}"

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "no PyTorch at PYTHON=$PYTHON: run bench/peers/setup.sh from the shared folder, or set PYTHON" >&2
    exit 2
fi

swift build -c release --product tensor-bench 2>&1 | tail -1
BENCH=.build/release/tensor-bench
TWIN=Benchmarks/TensorBench/canopynet_torch.py
mkdir -p "$(dirname "$OUT")"
: > "$OUT"

echo "machine: $(uname -sr), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "swift: $(swift --version 2>&1 | head -1)"
"$PYTHON" - <<'EOF'
import torch
print(f"torch {torch.__version__}; default threads {torch.get_num_threads()}, interop {torch.get_num_interop_threads()}; "
      f"MKL {torch.backends.mkl.is_available()}, MKL-DNN {torch.backends.mkldnn.is_available()}")
print("  " + "\n  ".join(l for l in torch.__config__.parallel_info().splitlines() if l.strip() and "not set" not in l))
EOF
echo "rounds $ROUNDS, threads [$THREADS], batch $BATCH, >= ${SECONDS_PER_RUN} s timed per run"

# run LABEL ROUND CMD...: keeps the RESULT line, tagged with the round and the load average.
run() {
    local label="$1" round="$2"; shift 2
    local load line
    load="$(cut -d' ' -f1 /proc/loadavg)"
    line="$("$@" | grep '^RESULT ' | tail -1)" || { echo "$label round $round failed: $*" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\n' "$label" "$round" "$load" "${line#RESULT }" >> "$OUT"
    echo "  round $round $label (load $load): $(echo "${line#RESULT }" | "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); print("%.2f samples/s, %d steps" % (r["samples_per_s"], r["steps"]))')"
}

# The command of one configuration: Grove, PyTorch as installed, PyTorch with oneDNN held to AVX2
# (the instruction set Grove is built for), PyTorch with OpenMP threads that sleep instead of
# spinning while they wait (only meaningful with more than one thread).
command_for() {  # command_for LABEL THREADS
    local twin=(env OMP_NUM_THREADS="$2" "$PYTHON" "$TWIN" --threads "$2" --batch "$BATCH" --seconds "$SECONDS_PER_RUN")
    case "$1" in
        grove) echo "$BENCH" train "$DATA" --threads "$2" --batch "$BATCH" --seconds "$SECONDS_PER_RUN" ;;
        pytorch) echo "${twin[@]}" ;;
        pytorch-avx2) echo ONEDNN_MAX_CPU_ISA=AVX2 "${twin[@]}" ;;
        pytorch-passive) echo OMP_WAIT_POLICY=PASSIVE "${twin[@]}" ;;
        *) echo "unknown configuration $1 (expected grove, pytorch, pytorch-avx2, pytorch-passive)" >&2; exit 2 ;;
    esac
}

CONFIGS="${CONFIGS:-grove pytorch pytorch-avx2 pytorch-passive}"
for label in $CONFIGS; do command_for "$label" 1 > /dev/null; done   # fail before any run, not midway
for round in $(seq 1 "$ROUNDS"); do
    for threads in $THREADS; do
        labels=()
        for label in $CONFIGS; do
            [[ $label == pytorch-passive && $threads == 1 ]] || labels+=("$label")
        done
        # Rotate the order every round, so no configuration always follows the same other one.
        for i in "${!labels[@]}"; do
            label="${labels[$(( (i + round) % ${#labels[@]} ))]}"
            # shellcheck disable=SC2046  # the command is split into words on purpose
            run "$label" "$round" env $(command_for "$label" "$threads")
        done
    done
done

"$PYTHON" - "$OUT" <<'EOF'
import json, statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
runs = [dict(json.loads(r[3]), label=r[0], round=int(r[1]), load=float(r[2])) for r in rows]
params = {r["label"]: r["parameters"] for r in runs}
print(f"\nparameters: Grove {params.get('grove')}, PyTorch {params.get('pytorch')}"
      + ("" if params.get("grove") == params.get("pytorch") else "  !! MISMATCH: not the same network"))
def fmt(values):
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
print("\n| threads | peer | Grove samples/s | peer samples/s | Grove / peer (per-round range) "
      "| Grove samples per CPU-s | peer samples per CPU-s | Grove / peer per CPU-s |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for threads in sorted({r["threads"] for r in runs}):
    # One thread: the calling thread's CPU time, the figure least disturbed by other processes.
    # More threads: the whole process (includes threads that spin while waiting for work).
    key = "thread_cpu" if threads == 1 else "process_cpu"
    def series(label):
        chosen = sorted((r for r in runs if r["label"] == label and r["threads"] == threads), key=lambda r: r["round"])
        return ({r["round"]: r["batch"] * r["steps"] / r["wall"] for r in chosen},
                [r["batch"] * r["steps"] / r[key] for r in chosen])
    grove_wall, grove_cpu = series("grove")
    for peer in sorted({r["label"] for r in runs if r["label"] != "grove" and r["threads"] == threads}):
        peer_wall, peer_cpu = series(peer)
        per_round = [grove_wall[k] / peer_wall[k] for k in grove_wall if k in peer_wall]
        ratio = statistics.median(grove_wall.values()) / statistics.median(peer_wall.values())
        cpu_ratio = statistics.median(grove_cpu) / statistics.median(peer_cpu)
        print(f"| {threads} | {peer} | {fmt(list(grove_wall.values()))} | {fmt(list(peer_wall.values()))} | **{ratio:.2f}** "
              f"({min(per_round):.2f}-{max(per_round):.2f}) | {fmt(grove_cpu)} | {fmt(peer_cpu)} | {cpu_ratio:.2f} |")
loads = [r["load"] for r in runs]
print(f"\nmedians over {len({r['round'] for r in runs})} rounds (min-max in brackets); "
      f"1-minute load average during the runs {min(loads):.1f}-{max(loads):.1f}; raw results in {sys.argv[1]}")
EOF
