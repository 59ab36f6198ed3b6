#!/usr/bin/env python3
"""Seeded network-fault campaigns against real Grove processes on separate test hosts.

Each run makes test hosts (scripts/testhosts.py): the coordinator on h1 and --workers workers on
h2, h3, ..., every host's link with --loss percent loss and a --rate limit. The coordinator binds
0.0.0.0 and workers bind 0.0.0.0 too, so every address a process dials is one it was told. Then
--faults-per-run network faults drawn from the run's seed, each from its own step on:

  partition-workers    two workers stop hearing each other (both still reach the coordinator)
                       for 1-4 s, then the partition heals
  heal-mid-step        the same for 0.2-0.8 s: shorter than the collective timeout, so it heals
                       inside the step it hits
  cut-worker           a worker and the coordinator stop hearing each other for 0.5-6 s (shorter
                       or longer than the heartbeat budget of 1.5 s)
  straggler            a worker's link drops to 1 Mbit/s for 3-6 s
  isolate-coordinator  the coordinator's host is cut from every worker for 3-5 s: longer than
                       the heartbeat budget, so every worker is declared down and joins again

A worker process that exits is started again on its host (a real fleet's supervisor does that).
Every run is checked like scripts/chaos.py's: it completes (exit 0) within a bound (else it is a
hang); every step 1..N was committed exactly once and samples = N x global batch; the final
weights equal those of an uninterrupted run on one machine (with the exact reduce, who computed
what cannot change the bits, so any lost, repeated or stale update shows). A failing run prints
its seed and the command that replays it. Ends with a scoreboard. Needs root (test hosts).

Usage: scripts/netchaos.py [--runs N] [--seed S] [--faults-per-run K] [--kinds a,b] [--workers W]
                           [--loss PCT] [--rate R] [--build-dir D]
"""
import argparse, json, os, random, re, shutil, signal, subprocess, sys, tempfile, time

KINDS = ["partition-workers", "heal-mid-step", "cut-worker", "straggler", "isolate-coordinator"]
GLOBAL_BATCH = 32
HERE = os.path.dirname(os.path.abspath(__file__))
TESTHOSTS = os.path.join(HERE, "testhosts.py")
sys.path.insert(0, HERE)
import chaos  # noqa: E402  (its process handling, ledger reading and fault schedule)


def settings(steps):
    return ["--set", f"training.steps={steps}", "--set", "checkpoint.interval=5",
            "--set", f"training.global_batch={GLOBAL_BATCH}", "--set", "training.micro_batch=2",
            "--set", "model.name=pixel-mlp", "--set", "model.pixels_per_tile=4096", "--set", "logging.level=info",
            "--set", "logging.status_port=-1", "--set", "logging.tensorboard=false", "--set", "logging.timeline=false",
            "--set", "fault_tolerance.heartbeat_interval=0.5", "--set", "fault_tolerance.missed_heartbeats=3",
            "--set", "fault_tolerance.collective_timeout=2", "--set", "fault_tolerance.wait_for_workers=60"]


def steps_for(faults_per_run):
    """Network faults last seconds, steps of this small model a tenth of one: room for each."""
    return max(60, 20 + 30 * faults_per_run)


def hosts(verb, name, *args, check=True):
    result = subprocess.run([sys.executable, TESTHOSTS, verb, "--name", name, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"testhosts.py {verb} {' '.join(args)}: {result.stderr.strip()}")
    return result


def ip(host):
    return f"10.77.0.{10 + host}"


class Process(chaos.Coordinator):
    """A Grove process inside test host `host`; output and wait_for as chaos.py's coordinator."""
    def __init__(self, name, host, command, log):
        self.log_path = log
        self.log = open(log, "a")  # a restarted worker goes on in its host's log
        self.proc = subprocess.Popen(["ip", "netns", "exec", f"{name}-h{host}"] + command, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def committed_steps(run_dir):
    """The steps in metrics.jsonl so far; none while the file is missing or a line half-written."""
    try:
        return chaos.committed_steps(run_dir)
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return []


def run_one(seed, args, reference, scratch):
    rng = random.Random(seed)
    steps = steps_for(args.faults_per_run)
    plan = chaos.schedule(rng, args.kinds, args.faults_per_run, steps)
    name = f"nc{os.getpid() % 10000}s{seed % 1000}"
    run_dir = os.path.join(scratch, f"run-{seed}")
    exe = lambda n: os.path.abspath(os.path.join(args.build_dir, n))
    result = {"seed": seed, "plan": plan, "ok": False, "hang": False, "injected": [], "restarts": 0, "downs": 0,
              "ejections": 0, "rejoins": 0}
    workers = {}
    c = None
    try:
        hosts("up", name, "--hosts", str(args.workers + 1))
        for h in range(1, args.workers + 2):
            extra = ["--loss", str(args.loss)] if args.loss > 0 else []
            if args.rate:
                extra += ["--rate", args.rate]
            if extra:
                hosts("impair", name, f"h{h}", *extra)
        c = Process(name, 1, [exe("coordinator"), "run", "--config", "cluster.yaml", "--run-dir", run_dir,
                              "--set", "coordinator.bind=0.0.0.0", "--set", "coordinator.port=7070",
                              "--set", "workers.local=0", "--set", "workers.min=2",
                              # Faults, not keys, are under test: plaintext, said so (docs/security.md).
                              "--set", "security.insecure=true"] + settings(steps), run_dir + ".log")
        c.wait_for(r"workers join with")

        def start_worker(h):
            workers[h] = Process(name, h, [exe("worker"), "--coordinator", f"tcp://{ip(1)}:7070", "--bind", "0.0.0.0", "--insecure"],
                                 os.path.join(scratch, f"worker-{seed}-h{h}.log"))

        def supervise():
            # Exit 0 is a worker told the run is over; anything else is restarted.
            for h, w in list(workers.items()):
                if w.proc.poll() not in (None, 0) and c.proc.poll() is None:
                    result["restarts"] += 1
                    start_worker(h)

        def wait(seconds):
            deadline = time.time() + seconds
            while time.time() < deadline:
                supervise()
                time.sleep(0.05)

        for h in range(2, args.workers + 2):
            start_worker(h)
        worker_hosts = list(range(2, args.workers + 2))
        for fault, at_step in plan:
            deadline = time.time() + 120
            while (max(committed_steps(run_dir), default=0) < at_step and c.proc.poll() is None
                   and time.time() < deadline):
                supervise()
                time.sleep(0.02)
            if c.proc.poll() is not None:
                if c.proc.returncode == 0:
                    result["not_injected"] = result.get("not_injected", 0) + 1
                    continue  # the run outpaced the plan; it is still checked below
                raise RuntimeError(f"the coordinator exited {c.proc.returncode} before {fault} at step {at_step}")
            result["injected"].append(fault)
            if fault in ("partition-workers", "heal-mid-step"):
                a, b = rng.sample(worker_hosts, 2)
                hosts("partition", name, f"h{a}", f"h{b}")
                wait(rng.uniform(1, 4) if fault == "partition-workers" else rng.uniform(0.2, 0.8))
                hosts("heal", name, f"h{a}", f"h{b}")
            elif fault == "cut-worker":
                a = rng.choice(worker_hosts)
                hosts("partition", name, "h1", f"h{a}")
                wait(rng.uniform(0.5, 6))
                hosts("heal", name, "h1", f"h{a}")
            elif fault == "straggler":
                a = rng.choice(worker_hosts)
                hosts("impair", name, f"h{a}", "--rate", "1mbit")
                wait(rng.uniform(3, 6))
                hosts("impair", name, f"h{a}", "--rate", args.rate or "none")
            elif fault == "isolate-coordinator":
                hosts("isolate", name, "h1")
                wait(rng.uniform(3, 5))
                hosts("heal", name, "h1")
        deadline = time.time() + args.finish_timeout
        while c.proc.poll() is None and time.time() < deadline:
            supervise()
            time.sleep(0.05)
        if c.proc.poll() is None:
            result["hang"] = True
            raise RuntimeError(f"the run did not finish within {args.finish_timeout} s of its last fault")
        if c.proc.returncode != 0:
            raise RuntimeError(f"the coordinator exited {c.proc.returncode}")
        with open(os.path.join(run_dir, "summary.json")) as f:
            summary = json.load(f)
        text = c.output()
        result["downs"] = len(re.findall(r"w\d+ is down", text))
        result["ejections"] = len(re.findall(r"w\d+ ejected", text))
        result["rejoins"] = text.count("rejoining as a new incarnation")
        committed = committed_steps(run_dir)
        result["duplicated"] = len(committed) - len(set(committed))
        result["missing"] = len(set(range(1, steps + 1)) - set(committed))
        if result["duplicated"] or result["missing"]:
            raise RuntimeError(f"ledger: {result['duplicated']} steps duplicated, {result['missing']} missing")
        if summary["samples"] != steps * GLOBAL_BATCH:
            raise RuntimeError(f"{summary['samples']} samples applied, expected {steps * GLOBAL_BATCH}")
        if summary["weights_sha256"] != reference:
            result["off_reference"] = 1
            raise RuntimeError("final weights differ from the uninterrupted run")
        result["ok"] = True
    except Exception as error:
        result["error"] = str(error)
        faults = ", ".join(f"{k} at step {s}" for k, s in plan)
        replay = f"python3 scripts/netchaos.py --seed {seed} --runs 1 --faults-per-run {args.faults_per_run}"
        if args.kinds != KINDS:
            replay += f" --kinds {','.join(args.kinds)}"
        print(f"FAIL seed {seed} ({faults}): {error}\n  log {run_dir}.log\n  replay: {replay}", file=sys.stderr)
    finally:
        for p in ([c] if c else []) + list(workers.values()):
            if p.proc.poll() is None:
                p.proc.kill()
            p.proc.wait()
        hosts("down", name, check=False)
    return result


def stop_on_signal(signum, _frame):
    # SIGTERM as Ctrl-C: the `finally` blocks kill the processes and remove the test hosts.
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    signal.signal(signal.SIGTERM, stop_on_signal)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: random, printed)")
    parser.add_argument("--faults-per-run", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated fault kinds (default: all)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--loss", type=float, default=0.5, help="percent loss on every host's link (default 0.5)")
    parser.add_argument("--rate", default="1gbit", help="every host's link rate (default 1gbit; '' for none)")
    parser.add_argument("--finish-timeout", type=float, default=180)
    parser.add_argument("--build-dir", default=".build/release")
    args = parser.parse_args()
    args.kinds = [k for k in args.kinds.split(",") if k]
    unknown = [k for k in args.kinds if k not in KINDS]
    if unknown or not args.kinds:
        sys.exit(f"--kinds: {', '.join(unknown) or 'empty'} not among {', '.join(KINDS)}")
    if args.runs < 1 or args.faults_per_run < 1 or args.workers < 2:
        sys.exit("--runs and --faults-per-run must be at least 1, --workers at least 2")
    os.chdir(os.path.join(HERE, ".."))
    check = subprocess.run([sys.executable, TESTHOSTS, "check"], capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"netchaos: cannot make test hosts here: {check.stderr.strip()}")
    first = args.seed if args.seed is not None else random.randrange(1 << 30)
    steps = steps_for(args.faults_per_run)
    print(f"network chaos: {args.runs} runs of {steps} steps, {args.faults_per_run} faults each, {args.workers} workers, "
          f"links {args.rate or 'unlimited'} with {args.loss} % loss, from seed {first}", flush=True)
    started = time.time()
    scratch = tempfile.mkdtemp(prefix="grove-netchaos-")
    ref_dir = os.path.join(scratch, "reference")
    ref = subprocess.run([os.path.join(args.build_dir, "coordinator"), "run", "--config", "cluster.yaml", "--run-dir", ref_dir,
                          "--set", "workers.local=2", "--set", "coordinator.port=0"] + settings(steps), capture_output=True, text=True)
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
    injected = {}
    for r in results:
        for kind in r["injected"]:
            injected[kind] = injected.get(kind, 0) + 1
    print(f"\nscoreboard ({time.time() - started:.0f} s)")
    print(f"  faults injected      {sum(injected.values())} of {sum(len(r['plan']) for r in results)} planned, "
          f"{sum(r.get('not_injected', 0) for r in results)} after the run had ended  ("
          + ", ".join(f"{k} {injected[k]}" for k in KINDS if k in injected) + ")")
    print(f"  runs completed       {len(ok)} of {len(results)}")
    print(f"  samples lost         {sum(r.get('missing', 0) for r in results) * GLOBAL_BATCH}")
    print(f"  samples duplicated   {sum(r.get('duplicated', 0) for r in results) * GLOBAL_BATCH}")
    print(f"  runs off reference   {sum(r.get('off_reference', 0) for r in results)}")
    print(f"  hangs                {sum(r['hang'] for r in results)}")
    print(f"  declared down        {sum(r['downs'] for r in results)}, ejected {sum(r['ejections'] for r in results)}, "
          f"rejoined {sum(r['rejoins'] for r in results)}, worker processes restarted {sum(r['restarts'] for r in results)}")
    print(f"{len(ok)} passed, {len(results) - len(ok)} failed")
    if len(ok) == len(results):
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(0 if len(ok) == len(results) else 1)


if __name__ == "__main__":
    main()
