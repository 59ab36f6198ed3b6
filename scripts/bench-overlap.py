#!/usr/bin/env python3
"""What overlapping the all-reduce with the backward pass gains or costs on one machine (loopback).

Runs the same CanopyNet training (default model, N local workers, the exact reduce, one compute
thread per worker) with the sum after the backward pass (`reduce.bucket_kib: 0`) and overlapped
with it (`reduce.bucket_kib` = --bucket-kib), alternating which goes first in each round so that
drift in the machine's load hits both alike. Per run: the median over its steps after the first
two of `step_seconds`, `compute_seconds` and `all_reduce_seconds` (the slowest worker's compute,
and the all-reduce the step waited for after it) of metrics.jsonl, and the weights hash. Per side:
medians over the runs; the ratio overlapped / serial of the step time, with the per-round ratios.
Both sides must end on the same weights (exact mode). Reports and never asserts.

Usage: scripts/bench-overlap.py [--rounds 5] [--steps 30] [--workers 2] [--bucket-kib 64]
    [--global-batch 8] [--micro-batch 4] [--build-dir .build/release]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine_info import describe as machine  # noqa: E402



def run(exe, options, bucket_kib):
    directory = tempfile.mkdtemp(prefix="grove-overlap-")
    try:
        args = [exe, "run", "--config", "cluster.yaml", "--run-dir", directory, "--set", "coordinator.port=0",
                "--set", f"training.steps={options.steps}", "--set", f"workers.local={options.workers}",
                "--set", "checkpoint.interval=0", "--set", "training.eval_every=0", "--set", "dataset.validation_every=0",
                "--set", "model.name=canopy-net", "--set", "model.threads=1", "--set", "dataset.decode_threads=1",
                "--set", f"training.global_batch={options.global_batch}", "--set", f"training.micro_batch={options.micro_batch}",
                "--set", "logging.status_port=-1", "--set", "logging.tensorboard=false",
                "--set", f"reduce.bucket_kib={bucket_kib}"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            sys.exit(f"run failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        with open(os.path.join(directory, "metrics.jsonl")) as f:
            lines = [json.loads(line) for line in f if line.strip()][2:]
        with open(os.path.join(directory, "summary.json")) as f:
            weights = json.load(f).get("weights_sha256")
        return {key: statistics.median(line[key] for line in lines)
                for key in ("step_seconds", "compute_seconds", "all_reduce_seconds")} | {"weights": weights}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bucket-kib", type=int, default=64)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--build-dir", default=".build/release")
    options = parser.parse_args()
    exe = os.path.join(options.build_dir, "coordinator")
    print(f"machine: {machine()}")
    print(f"what: {options.steps}-step CanopyNet runs (default model, {options.workers} local workers on loopback, exact "
          f"reduce, global batch {options.global_batch}, micro-batch {options.micro_batch}, 1 compute thread each), medians "
          f"of steps 3..{options.steps}; serial (bucket_kib 0) vs overlapped (bucket_kib {options.bucket_kib}), "
          f"{options.rounds} alternating rounds")
    sides = {0: [], options.bucket_kib: []}
    for round_ in range(options.rounds):
        order = [0, options.bucket_kib] if round_ % 2 == 0 else [options.bucket_kib, 0]
        figures = {kib: run(exe, options, kib) for kib in order}
        for kib in order:
            sides[kib].append(figures[kib])
        serial, overlapped = figures[0], figures[options.bucket_kib]
        print(f"round {round_ + 1}: " + ", ".join(
            f"{name} step {f['step_seconds'] * 1000:.1f} ms (compute {f['compute_seconds'] * 1000:.1f}, all-reduce waited "
            f"{f['all_reduce_seconds'] * 1000:.1f})" for name, f in (("serial", serial), ("overlapped", overlapped)))
              + f"; overlapped/serial {overlapped['step_seconds'] / serial['step_seconds']:.3f}"
              + ("" if serial["weights"] == overlapped["weights"] else "  !! WEIGHTS DIFFER"), flush=True)
    med = lambda kib, key: statistics.median(f[key] for f in sides[kib])  # noqa: E731
    for name, kib in (("serial", 0), ("overlapped", options.bucket_kib)):
        print(f"{name:>10}: step {med(kib, 'step_seconds') * 1000:.1f} ms, compute {med(kib, 'compute_seconds') * 1000:.1f} ms, "
              f"all-reduce waited {med(kib, 'all_reduce_seconds') * 1000:.1f} ms")
    ratios = [b["step_seconds"] / a["step_seconds"] for a, b in zip(sides[0], sides[options.bucket_kib])]
    hashes = {f["weights"] for side in sides.values() for f in side}
    print(f"ratio overlapped/serial of the median step: {med(options.bucket_kib, 'step_seconds') / med(0, 'step_seconds'):.3f} "
          f"(per round {min(ratios):.3f}–{max(ratios):.3f}); weights: {'all identical' if len(hashes) == 1 else 'DIFFER'}")
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
