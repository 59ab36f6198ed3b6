#!/usr/bin/env python3
"""What the timeline (`logging.timeline: true`) costs a training step.

Runs the same CanopyNet training (default model, two local workers, the exact reduce) with the
timeline off and on, alternating which goes first in each round so that drift in the machine's
load hits both alike. Each run's figure is the median `step_seconds` of metrics.jsonl over its
steps after the first two (warm-up); each side's figure is the median over its runs; the ratio
on/off is reported, with the per-round ratios. Reports and never asserts.

With --what all, TensorBoard and the status server are switched with the timeline: everything a
run can show against only metrics.jsonl and the progress lines.

Usage: scripts/timeline-overhead.py [--rounds 3] [--steps 30] [--what timeline|all] [--build-dir .build/release]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine_info import describe as machine  # noqa: E402


def run(exe, steps, timeline, everything=False):
    directory = tempfile.mkdtemp(prefix="grove-timeline-")
    try:
        args = [exe, "run", "--config", "cluster.yaml", "--run-dir", directory, "--set", "coordinator.port=0",
                "--set", f"training.steps={steps}", "--set", "workers.local=2", "--set", "checkpoint.interval=0",
                "--set", "training.eval_every=0", "--set", f"logging.timeline={'true' if timeline else 'false'}"]
        # --what all: TensorBoard and the status server go on and off with the timeline.
        on = everything and timeline
        args += ["--set", f"logging.status_port={0 if on else -1}", "--set", f"logging.tensorboard={'true' if on else 'false'}"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            sys.exit(f"run failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        with open(os.path.join(directory, "metrics.jsonl")) as f:
            seconds = [json.loads(line)["step_seconds"] for line in f if line.strip()]
        if timeline and not os.path.exists(os.path.join(directory, "trace.json")):
            sys.exit("the timeline run wrote no trace.json")
        return statistics.median(seconds[2:])
    finally:
        shutil.rmtree(directory, ignore_errors=True)

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--build-dir", default=".build/release")
    parser.add_argument("--what", choices=["timeline", "all"], default="timeline",
                        help="toggle the timeline only, or the timeline, TensorBoard and the status server together")
    options = parser.parse_args()
    exe = os.path.join(options.build_dir, "coordinator")
    print(f"machine: {machine()}")
    print(f"what: median step_seconds of a {options.steps}-step CanopyNet run (default model, 2 local workers, "
          f"exact reduce, steps 3..{options.steps}), "
          f"{'timeline' if options.what == 'timeline' else 'timeline + TensorBoard + status server'} off vs on, "
          f"{options.rounds} alternating rounds")
    off, on = [], []
    for round in range(options.rounds):
        order = [False, True] if round % 2 == 0 else [True, False]
        figures = {}
        for timeline in order:
            figures[timeline] = run(exe, options.steps, timeline, everything=options.what == "all")
        off.append(figures[False]); on.append(figures[True])
        print(f"round {round + 1}: off {figures[False] * 1000:.1f} ms, on {figures[True] * 1000:.1f} ms, "
              f"on/off {figures[True] / figures[False]:.3f}")
    print(f"median step: off {statistics.median(off) * 1000:.1f} ms, on {statistics.median(on) * 1000:.1f} ms; "
          f"ratio on/off {statistics.median(on) / statistics.median(off):.3f} "
          f"(median of round ratios {statistics.median(b / a for a, b in zip(off, on)):.3f})")
    print(f"machine after: {machine()}")

if __name__ == "__main__":
    main()
