#!/usr/bin/env python3
"""Seeded fault campaigns against real Grove processes on this machine.

Each run starts a coordinator with three local workers (the small pixel-mlp model, the exact
reduce), injects one fault drawn from its seed at a step drawn from its seed, and checks:
  - the run completes (exit 0) within a bound (a hang is a failure),
  - every step 1..N was committed exactly once (metrics.jsonl) and samples = N x global batch,
  - the final weights equal those of an uninterrupted reference run (weights_sha256): with the
    exact reduce, who computed what cannot change the bits, so any lost, repeated or stale update
    would show here,
  - a killed or stopped worker was declared down within 3.5 s.
A failing run prints its seed; `--seed S --runs 1` replays it. Ends with a scoreboard.

Usage: scripts/chaos.py [--runs N] [--seed S] [--build-dir .build/release]
"""
import argparse, json, os, random, re, shutil, signal, statistics, subprocess, sys, tempfile, time

FAULTS = ["kill-worker", "term-worker", "stop-worker", "join-worker", "kill-coordinator"]
STEPS = 40
SETTINGS = ["--set", "coordinator.port=0", "--set", f"training.steps={STEPS}", "--set", "checkpoint.interval=5",
            "--set", "model.name=pixel-mlp", "--set", "model.pixels_per_tile=4096", "--set", "logging.level=info",
            "--set", "logging.status_port=-1", "--set", "logging.tensorboard=false",
            "--set", "fault_tolerance.heartbeat_interval=0.5", "--set", "fault_tolerance.missed_heartbeats=3",
            "--set", "fault_tolerance.collective_timeout=10", "--set", "fault_tolerance.wait_for_workers=60"]


class Coordinator:
    def __init__(self, exe, args, log):
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen([exe] + args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, pattern, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.output())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"no /{pattern}/ in the coordinator's output")

    def finish(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def committed_steps(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def run_one(seed, exe_dir, reference, scratch):
    rng = random.Random(seed)
    fault = rng.choice(FAULTS)
    at_step = rng.randint(3, STEPS - 8)
    run_dir = os.path.join(scratch, f"run-{seed}")
    coordinator_exe = os.path.join(exe_dir, "coordinator")
    result = {"seed": seed, "fault": fault, "step": at_step, "ok": False, "detect": None, "drain": None, "hang": False}
    c = Coordinator(coordinator_exe, ["run", "--config", "cluster.yaml", "--run-dir", run_dir,
                                      "--set", "workers.local=3"] + SETTINGS, run_dir + ".log")
    extra = []
    try:
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", c.wait_for(r"generation \d+: w\d+, w\d+, w\d+") and c.output())]
        endpoint = c.wait_for(r"coordinator listening on (\S+)").group(1)
        c.wait_for(rf"step {at_step}/") if at_step % 10 == 0 else wait_for_step(run_dir, at_step, c)
        victim = rng.choice(pids)
        injected = time.time()
        if fault == "kill-worker":
            os.kill(victim, signal.SIGKILL)
        elif fault == "term-worker":
            os.kill(victim, signal.SIGTERM)
        elif fault == "stop-worker":
            os.kill(victim, signal.SIGSTOP)
            extra.append(("cont", victim))
        elif fault == "join-worker":
            extra.append(("proc", subprocess.Popen([os.path.join(exe_dir, "worker"), "--coordinator", endpoint],
                                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        elif fault == "kill-coordinator":
            c.proc.kill()
            c.proc.wait()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            c = Coordinator(coordinator_exe, ["resume", "--run-dir", run_dir] + SETTINGS[:2], run_dir + ".resume.log")
        if fault in ("kill-worker", "stop-worker"):
            m = c.wait_for(r"(\d\d:\d\d:\d\d)\+0000 warning grove.coordinator: \[Training\] w\d+ is down", timeout=30)
            result["detect"] = time.time() - injected  # upper bound: includes polling of the log
        if fault == "stop-worker":
            time.sleep(0.5)
            os.kill(victim, signal.SIGCONT)
        if fault == "term-worker":
            c.wait_for(r"left: preempted", timeout=30)
            result["drain"] = time.time() - injected
        status = c.finish(timeout=180)
        if status is None:
            result["hang"] = True
            raise RuntimeError("the run did not finish within 180 s")
        if status != 0:
            raise RuntimeError(f"the coordinator exited {status}")
        with open(os.path.join(run_dir, "summary.json")) as f:
            summary = json.load(f)
        steps = committed_steps(run_dir)
        result["duplicated"] = len(steps) - len(set(steps))
        result["missing"] = len(set(range(1, STEPS + 1)) - set(steps))
        if result["duplicated"] or result["missing"]:
            raise RuntimeError(f"ledger: {result['duplicated']} steps duplicated, {result['missing']} missing")
        if summary["samples"] != STEPS * 16:
            raise RuntimeError(f"{summary['samples']} samples applied, expected {STEPS * 16}")
        if summary["weights_sha256"] != reference:
            raise RuntimeError("final weights differ from the uninterrupted run")
        if result["detect"] is not None and result["detect"] > 3.5:
            raise RuntimeError(f"the dead worker was declared down after {result['detect']:.2f} s")
        result["ok"] = True
    except Exception as error:  # a failing case prints its seed
        result["error"] = str(error)
        print(f"FAIL seed {seed} ({fault} at step {at_step}): {error}; log {run_dir}.log", file=sys.stderr)
    finally:
        for kind, item in extra:
            if kind == "proc":
                item.wait(timeout=30) if item.poll() is None else None
            if kind == "cont":
                try:
                    os.kill(item, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        if c.proc.poll() is None:
            c.proc.kill()
    return result


def wait_for_step(run_dir, step, c, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if len(committed_steps(run_dir)) >= step:
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        if c.proc.poll() is not None:
            raise RuntimeError("the coordinator ended early")
        time.sleep(0.01)
    raise RuntimeError(f"step {step} was not committed within {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: random, printed)")
    parser.add_argument("--build-dir", default=".build/release")
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    first = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"chaos campaign: {args.runs} runs from seed {first}")
    scratch = tempfile.mkdtemp(prefix="grove-chaos-")
    ref_dir = os.path.join(scratch, "reference")
    ref = subprocess.run([os.path.join(args.build_dir, "coordinator"), "run", "--config", "cluster.yaml", "--run-dir", ref_dir,
                          "--set", "workers.local=2"] + SETTINGS, capture_output=True, text=True)
    if ref.returncode != 0:
        sys.exit(f"the reference run failed:\n{ref.stdout}{ref.stderr}")
    with open(os.path.join(ref_dir, "summary.json")) as f:
        reference = json.load(f)["weights_sha256"]
    results = [run_one(first + i, args.build_dir, reference, scratch) for i in range(args.runs)]
    ok = [r for r in results if r["ok"]]
    detect = sorted(r["detect"] for r in results if r["detect"] is not None)
    drain = sorted(r["drain"] for r in results if r["drain"] is not None)
    p99 = lambda xs: xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))] if xs else None
    fmt = lambda x: "-" if x is None else f"{x:.2f} s"
    print("\nscoreboard")
    kinds = ", ".join(f"{f} {sum(r['fault'] == f for r in results)}" for f in FAULTS)
    print(f"  faults injected      {len(results)}  ({kinds})")
    print(f"  runs completed       {len(ok)} of {len(results)}")
    print(f"  samples lost         {sum(r.get('missing', 0) for r in results) * 16}")
    print(f"  samples duplicated   {sum(r.get('duplicated', 0) for r in results) * 16}")
    print(f"  weights mismatches   {sum('weights' in r.get('error', '') for r in results)}")
    print(f"  hangs                {sum(r['hang'] for r in results)}")
    print(f"  p99 detection time   {fmt(p99(detect))}  (upper bound: from the signal to the log line)")
    print(f"  p99 drain time       {fmt(p99(drain))}")
    print(f"{len(ok)} passed, {len(results) - len(ok)} failed")
    if len(ok) == len(results):
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if len(ok) == len(results) else 1)


if __name__ == "__main__":
    main()
