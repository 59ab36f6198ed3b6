#!/usr/bin/env python3
"""The input pipeline against the model it feeds, on this machine, in one invocation.

Measures, with the release build:
  - synthesis: `coordinator dataset synth` into a scratch catalog (samples/s of wall time and
    CPU-ms per sample of the child process), and the size on disk against the raw content;
  - decode: `coordinator dataset scan` of the scratch manifest with 1 and 2 pipeline threads,
    alternating for ROUNDS rounds (samples/s, MB/s read and decoded, samples per thread-second);
  - consumption: `tensor-bench train` (CanopyNet forward + backward + Adam, one thread), samples per
    CPU-second, in the same rounds;
  - the ratio decode / consumption per CPU-second: how many model threads one decode thread feeds;
  - with --run-dir, the data-wait share of step time of a finished run (metrics.jsonl).
The machine is shared, so per-CPU-second rates (which a busy neighbour does not dilute) are the
headline and medians over rounds are reported. Prints; asserts nothing.

Usage: scripts/bench-dataset.py [--count 2000] [--rounds 3] [--run-dir runs/canopy]
"""
import argparse, json, os, re, resource, shutil, statistics, subprocess, sys, tempfile, time

BIN = ".build/release"


def child_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args):
    cpu0, wall0 = child_cpu(), time.monotonic()
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return out, time.monotonic() - wall0, child_cpu() - cpu0


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"


def data_wait_share(run_dir):
    data = steps = 0.0
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                record = json.loads(line)
                data += record.get("data_seconds", 0.0)
                steps += record.get("step_seconds", 0.0)
    return data, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--run-dir", help="a finished run whose data-wait share to report")
    options = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    coordinator = os.path.join(BIN, "coordinator")
    print(f"machine: {machine()}")

    scratch = tempfile.mkdtemp(prefix="grove-bench-dataset-")
    try:
        catalog = os.path.join(scratch, "catalog")
        out, wall, cpu = run([coordinator, "dataset", "synth", "--count", str(options.count), "--seed", "11", "--catalog", catalog])
        sizes = re.search(r"files ([\d.]+) MB for ([\d.]+) MB", out)
        files_mb, raw_mb = float(sizes.group(1)), float(sizes.group(2))
        print(f"synth: {options.count} samples in {wall:.1f} s wall = {options.count / wall:.0f} samples/s; "
              f"{1000 * cpu / options.count:.2f} CPU-ms per sample (= {os.cpu_count() * options.count / cpu:.0f} samples/s on "
              f"{os.cpu_count()} idle cores); {files_mb:.1f} MB on disk for {raw_mb:.1f} MB raw (ratio {raw_mb / files_mb:.2f})")
        run([coordinator, "dataset", "freeze", "--catalog", catalog, "--name", "all", "--query", "1 = 1"])

        scans = {1: [], 2: []}
        consume = []
        for _ in range(options.rounds):
            for threads in (1, 2):
                out, wall, _ = run([coordinator, "dataset", "scan", "all", "--catalog", catalog, "--threads", str(threads)])
                rate = int(re.search(r"(\d+) samples/s", out).group(1))
                read_mb, decoded_mb = map(float, re.search(r"([\d.]+) MB/s read, ([\d.]+) MB/s decoded", out).groups())
                work = float(re.search(r"fetch\+decode ([\d.]+) thread-seconds", out).group(1))
                scans[threads].append((rate, read_mb, decoded_mb, options.count / work))
            out, _, _ = run([os.path.join(BIN, "tensor-bench"), "train", "data/aerial-sample", "--threads", "1", "--seconds", "4"])
            result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
            consume.append(result["steps"] * result["batch"] / result["thread_cpu"])

        model_rate = statistics.median(consume)
        print(f"\nCanopyNet consumption (tensor-bench train, 1 thread): {model_rate:.1f} samples per CPU-second "
              f"(median of {options.rounds}: {', '.join(f'{c:.1f}' for c in consume)})")
        print("\n| decode threads | samples/s | MB/s read | MB/s decoded | samples per thread-second | / CanopyNet per CPU-second |")
        print("| --- | --- | --- | --- | --- | --- |")
        for threads, rows in scans.items():
            med = [statistics.median(column) for column in zip(*rows)]
            print(f"| {threads} | {med[0]:.0f} | {med[1]:.1f} | {med[2]:.1f} | {med[3]:.0f} | {med[3] / model_rate:.1f}x |")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    if options.run_dir:
        data, steps = data_wait_share(options.run_dir)
        print(f"\ndata wait in {options.run_dir}: {data:.2f} s of {steps:.1f} s of steps = {100 * data / steps:.2f} %")


if __name__ == "__main__":
    main()
