#!/usr/bin/env python3
"""Seeded fault campaigns against real Grove processes on this machine.

Each run starts a coordinator with three local workers (the small pixel-mlp model, the exact
reduce) and injects --faults-per-run faults drawn from its seed, each at its own step. Kinds:

  kill-worker        SIGKILL a worker                 stop-worker  SIGSTOP a worker until it is
  term-worker        SIGTERM a worker (it drains)                  declared down, then SIGCONT
  join-worker        start one more worker            kill-coordinator  SIGKILL the coordinator
                                                                   and its workers, then resume
  worker:<point>     start one more worker with GROVE_FAULT_POINT=<point> GROVE_FAULT_STEP=<step>
                     for each worker point (before-lease, mid-forward, mid-backward,
                     mid-allreduce, before-commit, after-commit): it joins at once, is admitted,
                     and kills itself at that point of the first step >= <step> it runs
  coordinator:<point>  run the coordinator with the point armed (mid-checkpoint,
                     coordinator-before-commit); when it dies, kill its workers and resume

A worker that dies (kill, drain, fault point) is replaced by a fresh one, so that later faults of
the run still have victims. Every run is checked:
  - it completes (exit 0) within a bound; a run that does not is a hang,
  - every step 1..N was committed exactly once (metrics.jsonl) and samples = N x global batch,
  - the final weights equal those of an uninterrupted reference run (weights_sha256): with the
    exact reduce, who computed what cannot change the bits, so any lost, repeated or stale update
    shows here,
  - a dead or stopped worker was declared down within 3.5 s,
  - a fault point fired: a process armed with one that never reaches it is a failure (nothing is
    skipped silently; a build without the point wired fails here).
A failing run prints its seed and the command that replays it. Ends with a scoreboard.

Usage: scripts/chaos.py [--runs N] [--seed S] [--faults-per-run K] [--kinds a,b] [--build-dir D] [--set KEY=VALUE ...]
"""
import argparse, json, os, random, re, shutil, signal, subprocess, sys, tempfile, time

SIGNAL_FAULTS = ["kill-worker", "term-worker", "stop-worker", "join-worker", "kill-coordinator"]
WORKER_POINTS = ["before-lease", "mid-forward", "mid-backward", "mid-allreduce", "before-commit", "after-commit"]
COORDINATOR_POINTS = ["mid-checkpoint", "coordinator-before-commit"]
FAULTS = SIGNAL_FAULTS + [f"worker:{p}" for p in WORKER_POINTS] + [f"coordinator:{p}" for p in COORDINATOR_POINTS]
COORDINATOR_FAULTS = {"kill-coordinator"} | {f"coordinator:{p}" for p in COORDINATOR_POINTS}
# 16 micro-batches of 2: up to 16 members all get work. With more members than micro-batches the
# last ones get none, and a worker armed for mid-forward or mid-backward would never get there.
GLOBAL_BATCH = 32
DETECT_LIMIT = 3.5
WORKERS = 3
# More cluster.yaml settings for every run and its reference (--set), e.g. another model.
EXTRA_SETTINGS = []


def settings(steps):
    return ["--set", "coordinator.port=0", "--set", f"training.steps={steps}", "--set", "checkpoint.interval=5",
            "--set", f"training.global_batch={GLOBAL_BATCH}", "--set", "training.micro_batch=2",
            "--set", "model.name=pixel-mlp", "--set", "model.pixels_per_tile=4096", "--set", "logging.level=info",
            "--set", "logging.status_port=-1", "--set", "logging.tensorboard=false", "--set", "logging.timeline=false",
            "--set", "fault_tolerance.heartbeat_interval=0.5", "--set", "fault_tolerance.missed_heartbeats=3",
            "--set", "fault_tolerance.collective_timeout=10", "--set", "fault_tolerance.wait_for_workers=60"] + EXTRA_SETTINGS


def steps_for(faults_per_run):
    """Long enough that the faults land at least 6 steps apart, after step 3, before the last 8."""
    return max(40, 11 + 8 * faults_per_run)


def environment(point=None, step=None):
    env = {k: v for k, v in os.environ.items() if k not in ("GROVE_FAULT_POINT", "GROVE_FAULT_STEP")}
    if point:
        env["GROVE_FAULT_POINT"], env["GROVE_FAULT_STEP"] = point, str(step)
    return env


class Coordinator:
    def __init__(self, exe, args, log, env):
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen([exe] + args, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for(self, pattern, timeout=60, start=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = re.search(pattern, self.output()[start:])
            if m:
                return m
            if self.proc.poll() is not None:
                m = re.search(pattern, self.output()[start:])
                if m:
                    return m
                break
            time.sleep(0.01)
        raise RuntimeError(f"no /{pattern}/ in the coordinator's output {self.log_path}")

    def finish(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


class Worker:
    """A worker process this script knows about: a coordinator's local worker (pid only) or one it
    started (a Popen)."""
    def __init__(self, pid, proc=None, point=None, log=None):
        self.pid, self.proc, self.point, self.log = pid, proc, point, log
        self.alive = True

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass


def committed_steps(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line)["step"] for line in f if line.strip()]


def wait_for_step(run_dir, step, c, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            steps = committed_steps(run_dir)
            if steps and max(steps) >= step:
                return
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            pass
        if c.proc.poll() is not None:
            return  # the caller finds out why
        time.sleep(0.01)
    raise RuntimeError(f"step {step} was not committed within {timeout} s")


def schedule(rng, kinds, faults, steps):
    """`faults` (kind, step) pairs, one in each of `faults` equal slices of steps 3..steps-8."""
    first, last = 3, steps - 8
    width = (last - first + 1) / faults
    plan = []
    for i in range(faults):
        lo = first + int(i * width)
        hi = max(lo, first + int((i + 1) * width) - 3)
        plan.append((rng.choice(kinds), rng.randint(lo, hi)))
    return plan


def run_one(seed, args, reference, scratch):
    rng = random.Random(seed)
    kinds = args.kinds
    steps = steps_for(args.faults_per_run)
    plan = schedule(rng, kinds, args.faults_per_run, steps)
    run_dir = os.path.join(scratch, f"run-{seed}")
    exe = lambda name: os.path.join(args.build_dir, name)
    result = {"seed": seed, "plan": plan, "ok": False, "detect": [], "drain": [], "hang": False, "restarts": 0,
              "fired": {}, "stops": 0, "injected": []}
    workers = []
    starts = [0]

    def next_coordinator_point(index):
        """The point to arm a coordinator with that is started before fault `index`."""
        for kind, step in plan[index:]:
            if kind in COORDINATOR_FAULTS:
                return (kind.split(":", 1)[1], step) if kind.startswith("coordinator:") else None
        return None

    def start_coordinator(index, resume):
        point = next_coordinator_point(index)
        env = environment(*(point or (None, None)))
        checkpoints = os.path.join(run_dir, "checkpoints")
        if resume and not any(n.startswith("step-") for n in (os.listdir(checkpoints) if os.path.isdir(checkpoints) else [])):
            resume = False  # killed before its first checkpoint: the run starts again from step 1
        if resume:
            c = Coordinator(exe("coordinator"), ["resume", "--run-dir", run_dir] + settings(steps)[:2],
                            f"{run_dir}.resume-{result['restarts']}.log", env)
        else:
            c = Coordinator(exe("coordinator"), ["run", "--config", "cluster.yaml", "--run-dir", run_dir,
                                                 "--set", f"workers.local={WORKERS}"] + settings(steps),
                            run_dir + (f".restart-{result['restarts']}.log" if result["restarts"] else ".log"), env)
        c.wait_for(r"generation \d+: w\d+, w\d+, w\d+", timeout=90)
        text = c.output()
        workers.extend(Worker(int(p)) for p in re.findall(r"\(pid (\d+)\)", text)[:WORKERS])
        return c

    def start_worker(endpoint, point=None, step=None):
        log = os.path.join(scratch, f"worker-{seed}-{len(workers)}.log")
        with open(log, "w") as out:
            proc = subprocess.Popen([exe("worker"), "--coordinator", endpoint], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=environment(point, step))
        w = Worker(proc.pid, proc, point, log)
        workers.append(w)
        return w

    def kill_all_workers():
        for w in workers:
            if w.alive:
                w.signal(signal.SIGCONT)
                w.signal(signal.SIGKILL)
                w.alive = False
            if w.proc:
                w.proc.wait()

    def down_after(c, start, pid_pattern=None):
        m = c.wait_for(r"warning grove\.coordinator: \[Training\] (w\d+) is down", timeout=30, start=start)
        return m

    def worker_id(c, pid):
        ids = re.findall(rf"(w\d+) joined from \S+ \(pid {pid}\)", c.output())
        return ids[-1] if ids else None

    c = None
    try:
        c = start_coordinator(0, resume=False)
        endpoint = c.wait_for(r"coordinator listening on (\S+)").group(1)
        for index, (fault, at_step) in enumerate(plan):
            live = [w for w in workers if w.alive and w.point is None]
            if fault.startswith(("worker:", "coordinator:")):
                pass  # a worker armed with a point is started at once, to be in the ring before its step
            else:
                wait_for_step(run_dir, at_step, c)
            if c.proc.poll() is not None and not fault.startswith("coordinator:"):
                raise RuntimeError(f"the coordinator exited {c.proc.returncode} before fault {index + 1} ({fault})")
            mark = len(c.output())
            injected = time.time()
            result["injected"].append(fault)
            if fault in ("kill-worker", "term-worker", "stop-worker"):
                victim = rng.choice(live)
                if fault == "kill-worker":
                    victim.signal(signal.SIGKILL)
                    victim.alive = False
                elif fault == "term-worker":
                    victim.signal(signal.SIGTERM)
                    victim.alive = False
                else:
                    victim.signal(signal.SIGSTOP)
                if fault in ("kill-worker", "stop-worker"):
                    down_after(c, mark)
                    result["detect"].append(time.time() - injected)  # upper bound: includes polling of the log
                if fault == "stop-worker":
                    time.sleep(0.5)
                    victim.signal(signal.SIGCONT)
                    result["stops"] += 1
                if fault == "term-worker":
                    c.wait_for(r"left: preempted", timeout=30, start=mark)
                    result["drain"].append(time.time() - injected)
                if fault != "stop-worker":
                    start_worker(endpoint)
            elif fault == "join-worker":
                start_worker(endpoint)
            elif fault.startswith("worker:"):
                point = fault.split(":", 1)[1]
                w = start_worker(endpoint, point, at_step)
                admitted = c.wait_for(rf"(w\d+) joined from \S+ \(pid {w.pid}\)", timeout=60, start=mark).group(1)
                c.wait_for(rf"generation \d+: [^\n]*\b{admitted}\b", timeout=60, start=mark)
                deadline = time.time() + 60
                while w.proc.poll() is None and time.time() < deadline and c.proc.poll() is None:
                    time.sleep(0.005)
                died = time.time()
                w.alive = w.proc.poll() is None
                with open(w.log) as f:
                    fired = f"fault point {point} reached" in f.read()
                if not fired or w.proc.returncode != -signal.SIGKILL:
                    raise RuntimeError(f"fault point {point} (step {at_step}) never fired: the worker "
                                       f"{'is still running' if w.alive else f'exited {w.proc.returncode}'} "
                                       f"(is the point wired in this build?); log {w.log}")
                result["fired"][fault] = result["fired"].get(fault, 0) + 1
                down_after(c, mark)
                result["detect"].append(time.time() - died)
                start_worker(endpoint)
            if fault in COORDINATOR_FAULTS:
                if fault == "kill-coordinator":
                    c.proc.kill()
                    c.proc.wait()
                else:
                    point = fault.split(":", 1)[1]
                    status = c.finish(timeout=90)
                    fired = f"fault point {point} reached" in c.output()
                    if status is None or not fired:
                        raise RuntimeError(f"fault point {point} (step {at_step}) never fired: the coordinator "
                                           f"{'did not exit' if status is None else f'exited {status}'} "
                                           "(is the point wired in this build?)")
                    result["fired"][fault] = result["fired"].get(fault, 0) + 1
                kill_all_workers()
                result["restarts"] += 1
                c = start_coordinator(index + 1, resume=True)
                endpoint = c.wait_for(r"coordinator listening on (\S+)").group(1)
        status = c.finish(timeout=240)
        if status is None:
            result["hang"] = True
            raise RuntimeError("the run did not finish within 240 s of its last fault")
        if status != 0:
            raise RuntimeError(f"the coordinator exited {status}")
        with open(os.path.join(run_dir, "summary.json")) as f:
            summary = json.load(f)
        result["stale_dropped"] = summary.get("stale_messages", 0)
        # Every coordinator of the run (a restart's summary counts only its own).
        logs = [os.path.join(scratch, n) for n in os.listdir(scratch) if n.startswith(f"run-{seed}.") and n.endswith(".log")]
        result["rejoins"] = sum(open(log).read().count("rejoining as a new incarnation") for log in logs)
        committed = committed_steps(run_dir)
        result["duplicated"] = len(committed) - len(set(committed))
        result["missing"] = len(set(range(1, steps + 1)) - set(committed))
        if result["duplicated"] or result["missing"]:
            raise RuntimeError(f"ledger: {result['duplicated']} steps duplicated, {result['missing']} missing")
        if summary["samples"] != steps * GLOBAL_BATCH:
            raise RuntimeError(f"{summary['samples']} samples applied, expected {steps * GLOBAL_BATCH}")
        if summary["weights_sha256"] != reference:
            result["stale_applied"] = 1
            raise RuntimeError("final weights differ from the uninterrupted run")
        slow = [d for d in result["detect"] if d > DETECT_LIMIT]
        if slow:
            raise RuntimeError(f"a dead worker was declared down after {max(slow):.2f} s (limit {DETECT_LIMIT} s)")
        result["ok"] = True
    except Exception as error:  # a failing case prints its seed and how to replay it
        result["error"] = str(error)
        faults = ", ".join(f"{k} at step {s}" for k, s in plan)
        replay = f"python3 scripts/chaos.py --seed {seed} --runs 1 --faults-per-run {args.faults_per_run}"
        if args.kinds != FAULTS:
            replay += f" --kinds {','.join(args.kinds)}"
        replay += "".join(f" --set {item}" for item in args.set)
        print(f"FAIL seed {seed} ({faults}): {error}\n  log {run_dir}.log\n  replay: {replay}", file=sys.stderr)
    finally:
        if c is not None and c.proc.poll() is None:
            c.proc.kill()
            c.proc.wait()
        for w in workers:
            w.signal(signal.SIGCONT)
            if w.proc is not None:
                try:
                    w.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    w.proc.kill()
                    w.proc.wait()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: random, printed)")
    parser.add_argument("--faults-per-run", type=int, default=1, help="faults injected in each run, at different steps")
    parser.add_argument("--kinds", default=",".join(FAULTS), help="comma-separated fault kinds to draw from (default: all)")
    parser.add_argument("--build-dir", default=".build/release")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="another cluster.yaml setting for every run (repeatable), e.g. model.name=canopy-net")
    args = parser.parse_args()
    if any("=" not in item for item in args.set):
        sys.exit("--set: expected KEY=VALUE")
    EXTRA_SETTINGS.extend(a for item in args.set for a in ("--set", item))
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in args.kinds if k not in FAULTS]
    if unknown or not args.kinds:
        sys.exit(f"--kinds: {', '.join(unknown) or 'empty'} not among {', '.join(FAULTS)}")
    if args.runs < 1 or args.faults_per_run < 1:
        sys.exit(f"--runs ({args.runs}) and --faults-per-run ({args.faults_per_run}) must be at least 1")
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    first = args.seed if args.seed is not None else random.randrange(1 << 30)
    steps = steps_for(args.faults_per_run)
    print(f"chaos campaign: {args.runs} runs of {steps} steps, {args.faults_per_run} faults each, from seed {first}", flush=True)
    started = time.time()
    scratch = tempfile.mkdtemp(prefix="grove-chaos-")
    ref_dir = os.path.join(scratch, "reference")
    ref = subprocess.run([os.path.join(args.build_dir, "coordinator"), "run", "--config", "cluster.yaml", "--run-dir", ref_dir,
                          "--set", "workers.local=2"] + settings(steps), capture_output=True, text=True, env=environment())
    if ref.returncode != 0:
        sys.exit(f"the reference run failed:\n{ref.stdout}{ref.stderr}")
    with open(os.path.join(ref_dir, "summary.json")) as f:
        reference = json.load(f)["weights_sha256"]
    results = []
    for i in range(args.runs):
        r = run_one(first + i, args, reference, scratch)
        results.append(r)
        print(f"  seed {r['seed']}: {'ok  ' if r['ok'] else 'FAIL'} {', '.join(f'{k}@{s}' for k, s in r['plan'])}", flush=True)
    ok = [r for r in results if r["ok"]]
    detect = sorted(d for r in results for d in r["detect"])
    drain = sorted(d for r in results for d in r["drain"])
    p99 = lambda xs: xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))] if xs else None
    fmt = lambda x: "-" if x is None else f"{x:.2f} s"
    injected = {}
    for r in results:  # a failing run stops injecting at its failure
        for kind in r["injected"]:
            injected[kind] = injected.get(kind, 0) + 1
    print(f"\nscoreboard ({time.time() - started:.0f} s)")
    print(f"  faults injected      {sum(injected.values())} of {sum(len(r['plan']) for r in results)} planned  ("
          + ", ".join(f"{k} {injected[k]}" for k in FAULTS if k in injected) + ")")
    print(f"  fault points fired   {sum(sum(r['fired'].values()) for r in results)}")
    print(f"  runs completed       {len(ok)} of {len(results)}")
    print(f"  samples lost         {sum(r.get('missing', 0) for r in results) * GLOBAL_BATCH}")
    print(f"  samples duplicated   {sum(r.get('duplicated', 0) for r in results) * GLOBAL_BATCH}")
    print(f"  stale msgs applied   {sum(r.get('stale_applied', 0) for r in results)}  (runs off the reference weights; "
          f"{sum(r.get('stale_dropped', 0) for r in results)} stale messages dropped)")
    print(f"  stopped, rejoined    {sum(r['stops'] for r in results)} stops, {sum(r.get('rejoins', 0) for r in results)} rejoins"
          "  (a worker continued near the end of a run may find it over)")
    print(f"  hangs                {sum(r['hang'] for r in results)}")
    print(f"  p99 detection time   {fmt(p99(detect))}  over {len(detect)} (upper bound: from the fault to the log line)")
    print(f"  p99 drain time       {fmt(p99(drain))}  over {len(drain)}")
    print(f"{len(ok)} passed, {len(results) - len(ok)} failed")
    if len(ok) == len(results):
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if len(ok) == len(results) else 1)


if __name__ == "__main__":
    main()
