#!/usr/bin/env python3
"""Fault-tolerance benchmarks against real Grove processes on this machine. Reports, never asserts.

  checkpoint  CanopyNet with a checkpoint after every step (or every --interval steps) against
              none until the end, in
              alternating rounds: the median time between consecutive commits of each, the
              median over rounds of their ratio (goal: under 1.02), and the same ratio of
              CPU-seconds per sample (coordinator and workers; steadier on a shared machine). The background writer takes the disk off the
              training loop; what remains is the state the coordinator asks for each step and
              the snapshot it hands to the writer.
  recovery    kill -9 of one of three workers: seconds from the kill to the first step committed
              by the ring without it (detection, the abandoned step, the re-deal), median of --repeats.
  cutlink     a cut ring link between two live workers (a third worker joins with its ring sends
              dropped, its heartbeats intact: GROVE_FAULT_ACTION=cut-ring): seconds from the
              first step dealt to the ring with it to the next committed step, against the bound
              the coordinator's rule gives (collective_timeout + the heartbeat timeout), median of
              --repeats.
  drain       SIGTERM to one of three CanopyNet workers: seconds to the coordinator's "left:
              preempted" and to the worker's exit (goal: under 15 s), median of --repeats.

Each measurement prints the machine (CPU, cores, load average before and after) beside it.

Usage: scripts/bench-faults.py [checkpoint|recovery|cutlink|drain ...] [--rounds R] [--steps N] [--interval I] [--repeats K]
                               [--build-dir .build/release]
"""
import argparse, json, os, platform, re, signal, shutil, statistics, subprocess, sys, tempfile, time

COMMON = ["--set", "coordinator.port=0", "--set", "logging.level=info", "--set", "logging.status_port=-1",
          "--set", "logging.tensorboard=false", "--set", "logging.timeline=false"]


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.release()}, {model}, {os.cpu_count()} logical CPUs"


def load():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def metrics(run_dir):
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def coordinator(args, run_dir, extra, log):
    out = open(log, "w")
    return subprocess.Popen([os.path.join(args.build_dir, "coordinator"), "run", "--config", "cluster.yaml",
                             "--run-dir", run_dir] + COMMON + extra, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


def wait_for(log, pattern, proc, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(log) as f:
            m = re.search(pattern, f.read())
        if m:
            return m
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    raise RuntimeError(f"no /{pattern}/ in {log}")


def run_to_end(args, run_dir, extra, log):
    proc = coordinator(args, run_dir, extra, log)
    if proc.wait(timeout=3600) != 0:
        raise RuntimeError(f"the run failed; see {log}")
    return metrics(run_dir)


def bench_checkpoint(args, scratch):
    canopy = ["--set", "model.name=canopy-net", "--set", f"training.steps={args.steps}", "--set", "workers.local=2",
              "--set", "training.eval_every=0", "--set", "dataset.validation_every=0"]
    checkpointed = "every step" if args.interval == 1 else f"every {args.interval} steps"
    variants = {checkpointed: ["--set", f"checkpoint.interval={args.interval}"], "never": ["--set", "checkpoint.interval=0"]}
    medians = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    print(f"checkpoint overhead: CanopyNet, 2 workers, {args.steps} steps per run, {args.rounds} alternating rounds")
    for r in range(args.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in order:
            run_dir = os.path.join(scratch, f"ckpt-{r}-{name.replace(' ', '-')}")
            lines = run_to_end(args, run_dir, canopy + variants[name], run_dir + ".log")
            # Time between consecutive commits, leaving out the first steps (joining, warm-up) and
            # the last (checkpointed and evaluated in both variants).
            walls = [line["wall_seconds"] for line in lines]
            gaps = [b - a for a, b in zip(walls, walls[1:])][2:-1]
            medians[name].append(statistics.median(gaps))
            # CPU time of the coordinator and its workers: what the checkpoints cost whatever else
            # the machine is doing.
            with open(os.path.join(run_dir, "summary.json")) as f:
                cpu[name].append(json.load(f)["goodput"]["cpu_seconds_per_sample"])
            shutil.rmtree(run_dir, ignore_errors=True)
            print(f"  round {r + 1} {name:15s} median {medians[name][-1] * 1000:.1f} ms per step, "
                  f"{cpu[name][-1]:.4f} CPU-s per sample (load {load()})", flush=True)
    every, never = statistics.median(medians[checkpointed]), statistics.median(medians["never"])
    ratios = [a / b for a, b in zip(medians[checkpointed], medians["never"])]
    cpu_ratios = [a / b for a, b in zip(cpu[checkpointed], cpu["never"])]
    print(f"RESULT checkpoint: {checkpointed} {every * 1000:.1f} ms, never {never * 1000:.1f} ms per step; "
          f"median of the rounds' ratios {statistics.median(ratios):.3f} (rounds {', '.join(f'{x:.3f}' for x in ratios)}; "
          f"goal < 1.02); CPU-s per sample ratio {statistics.median(cpu_ratios):.3f} "
          f"(rounds {', '.join(f'{x:.3f}' for x in cpu_ratios)})")


def three_workers(args, scratch, name, model, steps, fault_step, hb):
    run_dir = os.path.join(scratch, name)
    extra = ["--set", f"model.name={model}", "--set", f"training.steps={steps}", "--set", "workers.local=3",
             "--set", "checkpoint.interval=0", "--set", "training.eval_every=0", "--set", "dataset.validation_every=0"]
    if model == "pixel-mlp":
        extra += ["--set", "model.pixels_per_tile=4096"]
    extra += hb
    log = run_dir + ".log"
    proc = coordinator(args, run_dir, extra, log)
    wait_for(log, r"generation \d+: w\d+, w\d+, w\d+", proc)
    with open(log) as f:
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", f.read())[:3]]
    while len(metrics(run_dir)) < fault_step:
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended early; see {log}")
        time.sleep(0.005)
    return run_dir, log, proc, pids


def bench_recovery(args, scratch):
    hb = ["--set", f"fault_tolerance.heartbeat_interval={args.heartbeat}", "--set", "fault_tolerance.missed_heartbeats=3"]
    print(f"recovery: pixel-mlp, 3 workers, kill -9 of one at step 10; heartbeat {args.heartbeat} s x 3 missed")
    times = []
    for k in range(args.repeats):
        run_dir, log, proc, pids = three_workers(args, scratch, f"recovery-{k}", "pixel-mlp", 40, 10, hb)
        os.kill(pids[k % 3], signal.SIGKILL)
        killed = time.time()
        while True:
            lines = metrics(run_dir)
            if any(line["workers"] == 2 for line in lines):
                times.append(time.time() - killed)
                break
            if proc.poll() is not None or time.time() - killed > 120:
                raise RuntimeError(f"no step committed without the killed worker; see {log}")
            time.sleep(0.002)
        proc.wait(timeout=300)
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"  kill {k + 1}: {times[-1]:.2f} s to the next committed step (load {load()})", flush=True)
    print(f"RESULT recovery: median {statistics.median(times):.2f} s from kill -9 to the next committed step "
          f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} kills; detection alone is bounded by "
          f"{args.heartbeat * 3:.1f} s of silence)")


def bench_cutlink(args, scratch):
    timeout, hb = args.collective_timeout, args.heartbeat
    bound = timeout + 3 * hb
    print(f"cutlink: pixel-mlp, 2 workers, a third joins with its ring sends cut; collective_timeout {timeout} s, "
          f"heartbeat {hb} s x 3 missed (bound {bound:.1f} s)")
    times = []
    for k in range(args.repeats):
        run_dir = os.path.join(scratch, f"cutlink-{k}")
        extra = ["--set", "model.name=pixel-mlp", "--set", "model.pixels_per_tile=4096", "--set", "training.steps=60",
                 "--set", "workers.local=2", "--set", "checkpoint.interval=0", "--set", "training.eval_every=0",
                 "--set", "dataset.validation_every=0", "--set", f"fault_tolerance.collective_timeout={timeout}",
                 "--set", f"fault_tolerance.heartbeat_interval={hb}", "--set", "fault_tolerance.missed_heartbeats=3"]
        log = run_dir + ".log"
        proc = coordinator(args, run_dir, extra, log)
        endpoint = wait_for(log, r"coordinator listening on (\S+)", proc).group(1)
        while len(metrics(run_dir)) < 5:
            time.sleep(0.01)
        env = dict(os.environ, GROVE_FAULT_POINT="before-lease", GROVE_FAULT_STEP="1", GROVE_FAULT_ACTION="cut-ring")
        worker = subprocess.Popen([os.path.join(args.build_dir, "worker"), "--coordinator", endpoint], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wait_for(log, r"generation \d+: w\d+, w\d+, w\d+", proc)
        dealt = time.time()
        while True:
            if any(line["workers"] == 2 and line["generation"] > 2 for line in metrics(run_dir)):
                times.append(time.time() - dealt)
                break
            if proc.poll() is not None or time.time() - dealt > 10 * bound + 60:
                raise RuntimeError(f"no step committed after the cut link; see {log}")
            time.sleep(0.002)
        worker.kill()
        worker.wait()
        proc.wait(timeout=300)
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"  cut {k + 1}: {times[-1]:.2f} s to the next committed step, {times[-1] / bound:.2f} of the bound "
              f"(load {load()})", flush=True)
    median = statistics.median(times)
    print(f"RESULT cutlink: median {median:.2f} s from the cut ring link's first step to the next commit, "
          f"{median / bound:.2f} of the bound collective_timeout + heartbeat timeout = {bound:.1f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}, {len(times)} cuts)")


def bench_drain(args, scratch):
    print("drain: CanopyNet, 3 workers, SIGTERM to one at step 3")
    left, exited = [], []
    for k in range(args.repeats):
        run_dir, log, proc, pids = three_workers(args, scratch, f"drain-{k}", "canopy-net", 8, 3, [])
        victim = pids[k % 3]
        os.kill(victim, signal.SIGTERM)
        sent = time.time()
        wait_for(log, r"left: preempted", proc, timeout=120)
        left.append(time.time() - sent)
        while True:
            try:
                with open(f"/proc/{victim}/stat") as f:
                    if f.read().split(") ", 1)[1].startswith("Z"):
                        break
            except (FileNotFoundError, IndexError):
                break
            time.sleep(0.005)
        exited.append(time.time() - sent)
        proc.wait(timeout=600)
        shutil.rmtree(run_dir, ignore_errors=True)
        print(f"  drain {k + 1}: left after {left[-1]:.2f} s, exited after {exited[-1]:.2f} s (load {load()})", flush=True)
    print(f"RESULT drain: median {statistics.median(left):.2f} s to leave, {statistics.median(exited):.2f} s to exit "
          f"(max {max(exited):.2f} s, {len(exited)} drains; goal < 15 s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", nargs="*", default=["checkpoint", "recovery", "drain"])
    parser.add_argument("--rounds", type=int, default=3, help="checkpoint: alternating rounds")
    parser.add_argument("--steps", type=int, default=30, help="checkpoint: steps per run")
    parser.add_argument("--interval", type=int, default=1,
                        help="checkpoint: checkpoint.interval of the checkpointed variant (10 is the default of cluster.yaml)")
    parser.add_argument("--repeats", type=int, default=5, help="recovery and drain: faults measured")
    parser.add_argument("--heartbeat", type=float, default=0.5, help="recovery: fault_tolerance.heartbeat_interval")
    parser.add_argument("--collective-timeout", type=float, default=2.0, help="cutlink: fault_tolerance.collective_timeout")
    parser.add_argument("--build-dir", default=".build/release")
    args = parser.parse_args()
    for name in args.which:
        if name not in ("checkpoint", "recovery", "cutlink", "drain"):
            sys.exit(f"unknown benchmark '{name}': checkpoint, recovery, cutlink or drain")
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    print(f"machine: {machine()}; load average {load()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    scratch = tempfile.mkdtemp(prefix="grove-bench-faults-")
    try:
        for name in args.which:
            {"checkpoint": bench_checkpoint, "recovery": bench_recovery, "cutlink": bench_cutlink,
             "drain": bench_drain}[name](args, scratch)
    finally:
        print(f"load average at the end {load()}")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
