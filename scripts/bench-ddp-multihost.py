#!/usr/bin/env python3
"""Grove against PyTorch DDP (gloo) across test hosts: CanopyNet trained by N workers, one per host.

For every link rate and worker count, Grove and DDP are run alternately, in several rounds, on
the same test hosts (scripts/testhosts.py; root):

- Grove: the coordinator on h1, worker i on h(1+i), `training.global_batch` = N x batch and
  `training.micro_batch` = batch, so each worker computes one micro-batch of `--batch` samples a
  step; every mode in `--systems` (`grove` is the default `reduce.mode: exact`, `grove-fp32`,
  `grove-fp16`; `grove-overlap` is `grove` with the sum overlapped with the backward pass,
  `reduce.bucket_kib: 64`);
- DDP: Benchmarks/TensorBench/canopynet_ddp.py, rank r on h(2+r) (rank 0's host is the
  rendezvous), the same architecture, losses, Adam and batch per worker; `ddp-fp16` adds DDP's
  fp16_compress_hook.

Every host gets the rate (`testhosts.py impair --rate`; with `--delay-at-slowest`, the slowest
rate also goes through the harness's delay relay). The hosts of each rate are made fresh for each
round and removed after it, and always on exit (failure, Ctrl-C, SIGTERM). One thread per worker
in both systems (Grove `model.threads: 1`, `dataset.decode_threads: 1`; torch
`set_num_threads(1)`, OMP/MKL 1); their communication threads (libzmq's, gloo's) are extra.

Measured, the same way for both: each run does `--warmup` steps, then `--steps` timed steps.
Grove: from the commit of step `warmup` to the commit of the last step (metrics.jsonl
`wall_seconds`, the coordinator's clock). DDP: between two barriers after the warm-up (rank 0's
clock). samples/s = N x batch x steps / that time; time per step = that time / steps. The table
gives medians over the rounds, with the ratio Grove / DDP per point, and the machine's 1-minute
load average during the runs. Raw results (one JSON line per run) go to --out. It reports and
never asserts.

    sudo scripts/bench-ddp-multihost.py [--workers 2 4] [--rates 10gbit 1gbit 100mbit]
        [--rounds 3] [--steps 30] [--warmup 5] [--batch 4] [--systems grove ddp grove-fp16]
        [--python PATH]  (a python with torch; default: the peers' venv of bench/peers/setup.sh)
"""
import argparse, json, os, platform, signal, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTHOSTS = os.path.join(ROOT, "scripts", "testhosts.py")
TWIN = os.path.join(ROOT, "Benchmarks", "TensorBench", "canopynet_ddp.py")
COORDINATOR = os.path.join(ROOT, ".build", "release", "coordinator")
WORKER = os.path.join(ROOT, ".build", "release", "worker")
STATE_DIR = "/run/grove-testhosts"
SYSTEMS = ("grove", "grove-fp32", "grove-fp16", "grove-overlap", "ddp", "ddp-fp16")
GROVE_MODES = {"grove": "exact", "grove-fp32": "fp32", "grove-fp16": "fp16", "grove-overlap": "exact"}
# Settings of a Grove system beyond its mode: `grove-overlap` sums the gradient in buckets of at
# least 64 KiB while the backward pass runs (reduce.bucket_kib; off by default).
GROVE_EXTRA = {"grove-overlap": {"reduce.bucket_kib": 64}}


class Failed(Exception):
    pass


def address(index):
    return f"10.77.0.{10 + index}"


def testhosts(*args, check=True):
    result = subprocess.run([sys.executable, TESTHOSTS, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise Failed(f"testhosts.py {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


class Hosts:
    """Test hosts for one rate: made on entry, removed on exit however the block ends."""

    def __init__(self, name, count, rate, delay):
        self.name, self.count, self.rate, self.delay = name, count, rate, delay

    def __enter__(self):
        testhosts("down", "--name", self.name, check=False)  # leftovers of a killed run
        testhosts("up", "--name", self.name, "--hosts", str(self.count))
        try:
            for i in range(1, self.count + 1):
                extra = ["--delay", str(self.delay)] if self.delay else []
                testhosts("impair", "--name", self.name, f"h{i}", "--rate", self.rate, *extra)
        except BaseException:
            testhosts("down", "--name", self.name, check=False)
            raise
        return self

    def __exit__(self, *exc):
        testhosts("down", "--name", self.name, check=False)
        return False

    def ns(self, i):
        return f"{self.name}-h{i}"

    def relay_pids(self):
        try:
            with open(os.path.join(STATE_DIR, f"{self.name}.json")) as f:
                return list(json.load(f).get("relays", {}).values())
        except (OSError, ValueError):
            return []


class Processes:
    """Processes of one run, each in its own process group; all are killed when the run ends."""

    def __init__(self):
        self.running = []

    def start(self, ns, command, log, env=None):
        process = subprocess.Popen(["ip", "netns", "exec", ns, *command], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append(process)
        return process

    def wait(self, process, deadline):
        try:
            return process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            raise Failed(f"`{' '.join(process.args[3:5])} ...` did not finish in time")

    def kill_all(self):
        for process in self.running:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        self.running = []


def busy_seconds():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(pids):
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
    return total


class LoadMeter:
    """The 1-minute load average at both ends of a run, the cores the run's own processes used,
    the cores the delay relays used, and the cores everything else on the machine kept busy."""

    def __init__(self, relays):
        self.relays = relays

    def __enter__(self):
        t = os.times()
        self.ours0 = t.children_user + t.children_system + t.user + t.system
        self.busy0, self.relay0, self.wall0 = busy_seconds(), cpu_seconds_of(self.relays), time.monotonic()
        self.load0 = os.getloadavg()[0]
        return self

    def __exit__(self, *exc):
        t = os.times()
        wall = max(1e-9, time.monotonic() - self.wall0)
        ours = t.children_user + t.children_system + t.user + t.system - self.ours0
        relays = cpu_seconds_of(self.relays) - self.relay0
        self.figures = {"load_start": self.load0, "load_end": os.getloadavg()[0], "run_cores": ours / wall,
                        "relay_cores": relays / wall,
                        "other_cores": max(0.0, (busy_seconds() - self.busy0 - ours - relays) / wall),
                        "run_wall": wall}
        return False


def run_grove(hosts, mode, workers, args, tmp, port, extra=None):
    """One Grove run; returns its figures from the coordinator's metrics.jsonl."""
    run_dir = os.path.join(tmp, f"grove-{port}")
    total = args.warmup + args.steps
    settings = {
        "coordinator.bind": "0.0.0.0", "coordinator.port": port, "workers.local": 0, "workers.min": workers,
        "workers.max": workers, "run.directory": run_dir, "logging.status_port": -1, "logging.tensorboard": "false",
        "training.steps": total, "training.global_batch": workers * args.batch, "training.micro_batch": args.batch,
        "training.eval_every": 0, "checkpoint.interval": 0, "model.name": "canopy-net", "model.threads": 1,
        "dataset.path": os.path.join(ROOT, "data", "aerial-sample"), "dataset.validation_every": 0,
        "dataset.decode_threads": 1, "reduce.mode": mode,
        # Plaintext like the DDP run it is compared with (docs/security.md, insecure mode).
        "security.insecure": "true",
    }
    settings.update(extra or {})
    settings.update(item.split("=", 1) for item in args.grove_set)
    command = [COORDINATOR, "run"] + [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
    processes = Processes()
    logs = []
    try:
        log = open(os.path.join(tmp, f"grove-{port}-coordinator.log"), "w")
        logs.append(log)
        coordinator = processes.start(hosts.ns(1), command, log)
        endpoint = f"tcp://{address(1)}:{port}"
        for w in range(workers):
            log = open(os.path.join(tmp, f"grove-{port}-worker{w}.log"), "w")
            logs.append(log)
            processes.start(hosts.ns(2 + w), [WORKER, "--coordinator", endpoint, "--bind", "0.0.0.0", "--insecure"], log)
        deadline = time.monotonic() + args.timeout
        rc = processes.wait(coordinator, deadline)
        for process in processes.running[1:]:
            processes.wait(process, deadline)
        if rc != 0:
            raise Failed(f"Grove's coordinator exited {rc}: {tail(logs[0].name)}")
    finally:
        processes.kill_all()
        for log in logs:
            log.close()
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    by_step = {line["step"]: line for line in lines}
    first, last = by_step[args.warmup], by_step[total]
    if any(line["workers"] != workers for line in lines) or len(by_step) != total:
        raise Failed(f"Grove's run did not train {total} steps with {workers} workers throughout")
    wall = last["wall_seconds"] - first["wall_seconds"]
    timed = [by_step[s] for s in range(args.warmup + 1, total + 1)]
    samples = last["samples"] - first["samples"]
    with open(os.path.join(run_dir, "summary.json")) as f:
        parameters = json.load(f).get("parameters")
    shutil.rmtree(run_dir, ignore_errors=True)
    return {"samples_per_s": samples / wall, "step_seconds": wall / args.steps, "wall": wall, "parameters": parameters,
            "compute_median": statistics.median(t["compute_seconds"] for t in timed),
            "data_median": statistics.median(t["data_seconds"] for t in timed),
            "all_reduce_median": statistics.median(t["all_reduce_seconds"] for t in timed),
            "step_median": statistics.median(t["step_seconds"] for t in timed),
            # metrics.jsonl sums the bytes every worker sent.
            "all_reduce_bytes": statistics.median(t["all_reduce_bytes"] for t in timed)}


def run_ddp(hosts, fp16, workers, args, tmp, port):
    """One DDP run; returns rank 0's RESULT."""
    env = dict(os.environ, GLOO_SOCKET_IFNAME="eth0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    common = ["--world", str(workers), "--master", f"{address(2)}:{port}", "--batch", str(args.batch),
              "--warmup", str(args.warmup), "--steps", str(args.steps), "--threads", "1"] + (["--fp16"] if fp16 else [])
    processes = Processes()
    logs = []
    try:
        for r in range(workers):
            log = open(os.path.join(tmp, f"ddp-{port}-rank{r}.log"), "w")
            logs.append(log)
            processes.start(hosts.ns(2 + r), [args.python, TWIN, "--rank", str(r)] + common, log, env=env)
        deadline = time.monotonic() + args.timeout
        codes = [processes.wait(p, deadline) for p in processes.running]
        if any(codes):
            raise Failed(f"DDP ranks exited {codes}: {tail(logs[codes.index(next(c for c in codes if c))].name)}")
    finally:
        processes.kill_all()
        for log in logs:
            log.close()
    with open(logs[0].name) as f:
        results = [json.loads(line[len("RESULT "):]) for line in f if line.startswith("RESULT ")]
    if not results:
        raise Failed(f"DDP's rank 0 printed no result: {tail(logs[0].name)}")
    r = results[0]
    return {"samples_per_s": r["samples_per_s"], "step_seconds": r["step_seconds"], "wall": r["wall"],
            "forward_median": r["forward_median"], "backward_median": r["backward_median"],
            "optimizer_median": r["optimizer_median"], "step_median": r["step_median"], "torch": r["version"],
            "parameters": r["parameters"]}


def tail(path, lines=12):
    try:
        with open(path) as f:
            return "\n" + "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def build():
    for product in ("coordinator", "worker"):
        result = subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise Failed(f"swift build -c release --product {product} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    swift = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({model}), {swift[0] if swift else 'swift ?'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default_python = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                  "grove-peers", "venv", "bin", "python")
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--rates", nargs="+", default=["10gbit", "1gbit", "100mbit"])
    parser.add_argument("--delay-at-slowest", type=float, default=0.25,
                        help="one-way ms through the delay relay on every host at the slowest rate; 0 = none (default 0.25)")
    parser.add_argument("--systems", nargs="+", default=["grove", "ddp", "grove-fp16"], choices=SYSTEMS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=4, help="samples per worker and step")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one run may take")
    parser.add_argument("--name", default="ddpb", help="prefix of the test hosts' namespaces")
    parser.add_argument("--python", default=default_python, help="a python with torch")
    parser.add_argument("--out", default=os.path.join(ROOT, "runs", "bench", "ddp-multihost.jsonl"))
    parser.add_argument("--grove-set", action="append", default=[], metavar="KEY=VALUE",
                        help="another cluster.yaml setting for Grove's runs (repeatable), e.g. reduce.chunk_kib=64")
    parser.add_argument("--no-build", action="store_true", help="use the release build as it is")
    args = parser.parse_args()
    for item in args.grove_set:
        if "=" not in item:
            parser.error(f"--grove-set {item}: expected KEY=VALUE")

    def stop(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)

    check = testhosts("check", check=False)
    if check.returncode != 0:
        print(check.stderr.strip() or check.stdout.strip(), file=sys.stderr)
        return 2
    probe = subprocess.run([args.python, "-c", "import torch, torch.distributed as d; print(torch.__version__, d.is_gloo_available())"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"no PyTorch at --python {args.python}: run bench/peers/setup.sh from the shared folder, or pass --python",
              file=sys.stderr)
        return 2
    torch_version = probe.stdout.split()[0]
    if not args.no_build:
        build()
    rates = sorted(args.rates, key=lambda r: -rate_bits(r))
    slowest = rates[-1]
    print(f"machine: {machine()}; torch {torch_version}")
    print(f"workers {args.workers}, rates {rates} (at {slowest}: {args.delay_at_slowest} ms one-way delay per host), "
          f"systems {args.systems}, {args.rounds} rounds, batch {args.batch}/worker, {args.warmup} warm-up + "
          f"{args.steps} timed steps per run, 1 compute thread per worker"
          + (f"; Grove also with {' '.join(args.grove_set)}" if args.grove_set else ""), flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="grove-ddp-bench-")
    results, failures, port = [], [], 7100
    try:
        with open(args.out, "w") as out:
            for round_ in range(1, args.rounds + 1):
                # Rotate the orders every round: no configuration always follows the same other one.
                for rate in rotate(rates, round_):
                    delay = args.delay_at_slowest if rate == slowest else 0.0
                    with Hosts(args.name, 1 + max(args.workers), rate, delay) as hosts:
                        for workers in rotate(args.workers, round_):
                            for system in rotate(args.systems, round_ + workers):
                                port += 1
                                record = dict(round=round_, rate=rate, delay_ms=delay, workers=workers, system=system,
                                              batch=args.batch)
                                try:
                                    with LoadMeter(hosts.relay_pids()) as meter:
                                        if system.startswith("grove"):
                                            figures = run_grove(hosts, GROVE_MODES[system], workers, args, tmp, port,
                                                                GROVE_EXTRA.get(system))
                                        else:
                                            figures = run_ddp(hosts, system == "ddp-fp16", workers, args, tmp, port)
                                except Failed as error:
                                    # Reported with the point, not fatal: one failed run does not void the others.
                                    failures.append(dict(record, error=str(error)))
                                    out.write(json.dumps(failures[-1]) + "\n")
                                    print(f"  round {round_} {rate:>7} N={workers} {system:<10} FAILED: {error}", flush=True)
                                    continue
                                record.update(figures, **meter.figures)
                                results.append(record)
                                out.write(json.dumps(record) + "\n")
                                out.flush()
                                print(f"  round {round_} {rate:>7} N={workers} {system:<10} {record['samples_per_s']:7.2f} samples/s "
                                      f"{1000 * record['step_seconds']:7.1f} ms/step  load {record['load_start']:.1f}-{record['load_end']:.1f} "
                                      f"other {record['other_cores']:.2f} relays {record['relay_cores']:.2f} cores", flush=True)
    except KeyboardInterrupt:
        print("interrupted; test hosts removed", file=sys.stderr)
        return 130
    except Failed as error:
        print(f"failed: {error}", file=sys.stderr)
        return 1
    finally:
        testhosts("down", "--name", args.name, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, failures, args, rates)
    return 1 if failures else 0


def rate_bits(text):
    units = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9}
    for unit, scale in units.items():
        if text.endswith(unit):
            return float(text[:-len(unit)]) * scale
    raise SystemExit(f"--rates: '{text}' is not a rate like 100mbit or 1gbit")


def rotate(items, by):
    items = list(items)
    k = by % len(items)
    return items[k:] + items[:k]


def report(results, failures, args, rates):
    def median(system, rate, workers, key):
        values = [r[key] for r in results if (r["system"], r["rate"], r["workers"]) == (system, rate, workers)]
        return statistics.median(values) if values else None

    def fmt(value, scale=1.0, digits=1):
        return "—" if value is None else f"{value * scale:.{digits}f}"

    counts = {("Grove" if r["system"].startswith("grove") else "DDP"): r["parameters"] for r in results}
    print(f"\nparameters: Grove {counts.get('Grove')}, DDP {counts.get('DDP')}"
          + ("" if len(set(counts.values())) <= 1 else "  !! MISMATCH: not the same network"))
    others = [s for s in args.systems if s not in ("grove", "ddp")]
    header = ["link", "workers", "Grove samples/s", "DDP samples/s", "Grove / DDP (per-round range)", "Grove ms/step", "DDP ms/step"]
    for s in others:
        header += [f"{s} samples/s", f"{s} / DDP"]
    header += ["runs", "load average", "other cores"]
    print("\n| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for rate in rates:
        delay = args.delay_at_slowest if rate == rates[-1] else 0
        link = rate.replace("gbit", " Gbit/s").replace("mbit", " Mbit/s") + (f" + {delay} ms" if delay else "")
        for workers in sorted(args.workers):
            grove, ddp = median("grove", rate, workers, "samples_per_s"), median("ddp", rate, workers, "samples_per_s")
            per_round = {}
            for r in results:
                if (r["rate"], r["workers"]) == (rate, workers) and r["system"] in ("grove", "ddp"):
                    per_round.setdefault(r["round"], {})[r["system"]] = r["samples_per_s"]
            ratios = [v["grove"] / v["ddp"] for v in per_round.values() if len(v) == 2]
            spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
            row = [link, str(workers), fmt(grove), fmt(ddp),
                   f"**{grove / ddp:.2f}**{spread}" if grove and ddp else "—",
                   fmt(median("grove", rate, workers, "step_seconds"), 1000), fmt(median("ddp", rate, workers, "step_seconds"), 1000)]
            for s in others:
                value = median(s, rate, workers, "samples_per_s")
                row += [fmt(value), f"{value / ddp:.2f}" if value and ddp else "—"]
            point = [r for r in results if (r["rate"], r["workers"]) == (rate, workers)]
            loads = [r[k] for r in point for k in ("load_start", "load_end")]
            other = [r["other_cores"] for r in point]
            row += [f"{len(point)}" + (f" ({sum(1 for f in failures if (f['rate'], f['workers']) == (rate, workers))} failed)"
                                       if any((f["rate"], f["workers"]) == (rate, workers) for f in failures) else ""),
                    f"{min(loads):.1f}–{max(loads):.1f}" if loads else "—",
                    f"{statistics.median(other):.2f}" if other else "—"]
            print("| " + " | ".join(row) + " |")

    print("\nProfile (medians over the timed steps and rounds, ms): Grove's slowest worker per step "
          "(compute = forward + backward, all-reduce, the step as the coordinator saw it); DDP's rank 0 "
          "(backward includes waiting for the all-reduce); cores: CPU time of the run's processes "
          "(coordinator and workers, or the ranks) over the run's wall time, start-up included")
    print("\n| link | workers | system | compute | all-reduce | step | bytes sent per worker | "
          "DDP forward | DDP backward + all-reduce | DDP optimizer | cores used by the run | relay cores |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for rate in rates:
        for workers in sorted(args.workers):
            for system in args.systems:
                m = lambda key: median(system, rate, workers, key)  # noqa: E731
                if m("samples_per_s") is None:
                    continue
                if system.startswith("grove"):
                    row = [fmt(m("compute_median"), 1000), fmt(m("all_reduce_median"), 1000), fmt(m("step_median"), 1000),
                           fmt(m("all_reduce_bytes"), 1e-3 / workers, 0) + " kB", "", "", ""]
                else:
                    row = ["", "", fmt(m("step_median"), 1000), "", fmt(m("forward_median"), 1000),
                           fmt(m("backward_median"), 1000), fmt(m("optimizer_median"), 1000)]
                print(f"| {rate} | {workers} | {system} | " + " | ".join(row)
                      + f" | {fmt(m('run_cores'), 1, 2)} | {fmt(m('relay_cores'), 1, 2)} |")
    if len(rates) > 1:
        # What a slower link adds to a step, per system: where Grove's lead comes from.
        print(f"\nTime a slower link adds to a step (median ms/step at that rate minus at {rates[0]}):")
        print("\n| link | workers | " + " | ".join(args.systems) + " |")
        print("|" + " --- |" * (2 + len(args.systems)))
        for rate in rates[1:]:
            for workers in sorted(args.workers):
                cells = []
                for system in args.systems:
                    slow, fast = median(system, rate, workers, "step_seconds"), median(system, rates[0], workers, "step_seconds")
                    cells.append("—" if slow is None or fast is None else f"{1000 * (slow - fast):+.1f}")
                print(f"| {rate} | {workers} | " + " | ".join(cells) + " |")
    for failure in failures:
        print(f"\nFAILED: round {failure['round']} {failure['rate']} N={failure['workers']} {failure['system']}: "
              f"{failure['error']}")
    loads = [r[k] for r in results for k in ("load_start", "load_end")]
    if loads:
        print(f"\n1-minute load average during the runs {min(loads):.1f}–{max(loads):.1f} "
              f"(median {statistics.median(loads):.1f}) on {os.cpu_count()} cores; raw results in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
