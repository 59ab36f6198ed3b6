#!/usr/bin/env python3
"""A spot fleet in one picture: a seeded spot market against a real Grove run on test hosts.

The coordinator runs on one test host (scripts/testhosts.py), --workers workers on others, and
checkpoints go to an S3 store (moto, scripts/s3-test-server.py) that runs inside a test host of its
own, so every byte between them crosses the test hosts' network and nothing else. Then a market
drawn from --seed decides when capacity comes and goes:

  - Each worker slot belongs to a cloud whose spot notice it gets: `aws` 120 s, `gce` 30 s,
    `azure` 30 s (Kubernetes on either gives the same 30 s), `none` no notice at all (the
    hardware failure or lost notice every provider warns of). Slot i is CLOUDS[i % 4].
  - A slot's instance lives Exp(--mean-up) seconds. Then it is reclaimed: with notice N, the worker
    gets SIGTERM at t (Grove's drain: finish its step share, leave, exit 75) and at t+N the host is
    cut from the network and everything on it is killed; with no notice, that happens at t. The
    slot stays empty Exp(--mean-down) seconds, then new capacity appears: a fresh worker on the
    test host that has been free longest, in an empty working directory with an empty cache.
  - The coordinator's host is reclaimed once, at U(600, 1500) s, with a notice drawn from the
    three classes (or --coordinator-notice). With notice it drains: checkpoint of the last commit,
    uploaded, workers told to leave. The launcher asks for a replacement once the old coordinator
    has exited or its host is gone; it starts U(30, 90) s later on another host with an empty run
    directory: `coordinator resume` finds, downloads and verifies the newest checkpoint in the
    store. Workers that stop from then on are started again pointed at its address, as a launcher
    or a Kubernetes Service would do.

Every market time above is in the market's seconds; --time-scale F divides all of them (notices,
lifetimes, delays) by F, so a real market's hours pass in minutes. Grove's own clocks are not
scaled: steps, heartbeats, drains, uploads and downloads run at their real speed. So each
interruption costs what it would cost on a real fleet, and interruptions come F times as often per
hour of training as in a market with these lifetimes.

Each worker or coordinator host is an instance of one size: a CFS quota of --cpu-per-host cores,
so that the fleet's rate follows how many instances it has, not how the machine is shared.

Before the market, the same run goes once without interruptions on --workers test hosts: its
weights are the reference (with the exact reduce, the spot run must end on them bit for bit) and
its rate is the uninterrupted fleet's. Reports: goodput (useful samples per second of wall time,
against the uninterrupted rate), time lost per interruption by notice class (wall time beyond the
usual step time around the interruption, and samples redone), cost per sample at spot and on-demand
prices (PRICES below, with their source), as tables on stdout and in --report, and the picture as
an SVG (--svg). Every namespace and process it starts is removed by name and pid at the end, also
after a failure or Ctrl-C. Needs root (test hosts), moto[server] and release binaries.

Usage: scripts/spot-fleet.py [--seed S] [--workers W] [--steps N] [--time-scale F]
                             [--mean-up S] [--mean-down S] [--coordinator-notice auto|120|30|0]
                             [--cpu-per-host C] [--svg FILE] [--report FILE] [--data FILE]
                             [--keep] [--build-dir D]
       scripts/spot-fleet.py --from-data FILE [--svg FILE] [--report FILE]   (no run: redraws)
The coordinator is reclaimed at 600-1500 market seconds; a --time-scale so large that this falls
before the first checkpoint makes `coordinator resume` find nothing, and the script says so.
"""
import argparse, json, os, random, shutil, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTHOSTS = os.path.join(HERE, "testhosts.py")
S3_SERVER = os.path.join(HERE, "s3-test-server.py")

# Notices as the providers document them (docs/kubernetes.md has the sources and what each
# provider's Kubernetes node pool passes on to pods).
CLOUDS = [("aws", 120), ("gce", 30), ("azure", 30), ("none", 0)]
NOTICE_CLASS = {120: "120 s (AWS)", 30: "30 s (GCE, Azure, Kubernetes)", 0: "none"}

# One instance type prices every host of the fleet, workers and coordinator alike, so that the
# comparison is spot against on-demand for the same machine.
PRICES = {
    "instance": "c5.2xlarge, us-east-1 (Linux)",
    "on_demand": 0.34,
    "spot": round((0.180 + 0.191 + 0.170) / 3, 4),
    "source": "AWS, Amazon EC2 Auto Scaling User Guide, \"Spot price per unit hour example\": "
              "Spot $0.180 / $0.191 / $0.170 in us-east-1a/b/c, On-Demand $0.34 per instance hour; "
              "AWS calls them \"example pricing and not current pricing\" (the page carries no date; "
              "read 2026-12-03)",
    # The published bands of the other two clouds, for the same fleet at their discounts.
    "bands": [("GCE Spot VMs, least discount (60 %)", 0.60), ("GCE Spot VMs, most discount (91 %)", 0.91)],
    "bands_source": "Google Cloud, Compute Engine \"Spot VMs\" and \"Spot VMs pricing\": discounts of 60-91 % "
                    "off on-demand for machine types; Microsoft, \"Use Azure Spot Virtual Machines\": up to 90 %",
}
GLOBAL_BATCH = 32
BUCKET = "grove-spot"


class HarnessError(Exception):
    pass


def hosts(verb, name, *args, check=True):
    result = subprocess.run([sys.executable, TESTHOSTS, verb, "--name", name, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise HarnessError(f"testhosts.py {verb} {' '.join(args)}: {result.stderr.strip()}")
    return result


def ip(host):
    return f"10.77.0.{10 + host}"


def settings(args, remote):
    return ["--set", f"training.steps={args.steps}", "--set", f"checkpoint.interval={args.checkpoint_interval}",
            "--set", "checkpoint.keep=3", "--set", f"checkpoint.remote={remote}",
            "--set", f"training.global_batch={GLOBAL_BATCH}", "--set", "training.micro_batch=2",
            "--set", "model.name=pixel-mlp", "--set", f"model.pixels_per_tile={args.pixels}",
            "--set", "logging.level=info", "--set", "logging.status_port=-1", "--set", "logging.tensorboard=false",
            "--set", "logging.timeline=false", "--set", "coordinator.bind=0.0.0.0", "--set", "coordinator.port=7070",
            "--set", "workers.local=0", "--set", "workers.min=1", "--set", f"workers.max={args.workers + 4}",
            "--set", "security.insecure=true",
            # The shortest notice (30 s) divided by the time scale bounds the drain, as the
            # Kubernetes overlays match drain to grace period (docs/kubernetes.md).
            "--set", f"fault_tolerance.drain_timeout={max(0.5, round(0.8 * 30 / args.time_scale, 2))}",
            # A worker notices a coordinator gone silent after 4 x the heartbeat budget plus the
            # collective timeout: 5 s (a LAN's ring) keeps that at 17 s instead of the default's 42 s.
            "--set", "fault_tolerance.collective_timeout=5", "--set", "fault_tolerance.wait_for_workers=3600"]


class HostCPU:
    """Each test host an instance of one size: a CFS quota of `cores` for everything it runs.

    Without it, every process shares the machine's cores with whatever else runs there, and a
    fleet of four workers is no faster than one of two. With it, the fleet's rate follows the
    number of instances it has, as a real fleet's does. One cgroup per host (v1 `cpu` controller
    or v2 `cpu.max`), made here and removed at the end; a process joins its host's group before it
    execs, so nothing it starts escapes the quota."""
    PERIOD_US = 10000  # short periods: a throttled process waits at most a few ms, not 100 ms

    def __init__(self, name, hosts, cores):
        self.groups = {}
        if cores <= 0:
            return
        quota = max(1000, int(cores * self.PERIOD_US))
        if os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"):
            base, version = "/sys/fs/cgroup/cpu", 1
        elif "cpu" in open("/sys/fs/cgroup/cgroup.controllers").read().split() if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else False:
            base, version = "/sys/fs/cgroup", 2
        else:
            raise HarnessError("no cgroup cpu controller here for --cpu-per-host (cgroup v1 cpu or v2 cpu.max); "
                               "--cpu-per-host 0 runs without quotas")
        try:
            if version == 2:
                with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
                    f.write("+cpu")
            for host in hosts:
                group = os.path.join(base, f"grove-{name}-h{host}")
                os.makedirs(group, exist_ok=True)
                self.groups[host] = group
                if version == 1:
                    with open(os.path.join(group, "cpu.cfs_period_us"), "w") as f:
                        f.write(str(self.PERIOD_US))
                    with open(os.path.join(group, "cpu.cfs_quota_us"), "w") as f:
                        f.write(str(quota))
                else:
                    with open(os.path.join(group, "cpu.max"), "w") as f:
                        f.write(f"{quota} {self.PERIOD_US}")
        except OSError as error:
            self.remove()
            raise HarnessError(f"cannot set a CPU quota per host ({error}); --cpu-per-host 0 runs without quotas")

    def wrap(self, host, command):
        group = self.groups.get(host)
        if not group:
            return command
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', os.path.join(group, "cgroup.procs")] + command

    def remove(self):
        for group in self.groups.values():
            for _ in range(50):  # its processes were killed; the kernel lets go of them shortly
                try:
                    os.rmdir(group)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        self.groups = {}


CPU = HostCPU("none", [], 0)


class Proc:
    """A Grove process inside a test host (and its CPU quota); its output goes to `log`."""
    def __init__(self, name, host, command, log, cwd, env):
        self.host, self.log_path = host, log
        self.log = open(log, "a")
        self.proc = subprocess.Popen(CPU.wrap(host, ["ip", "netns", "exec", f"{name}-h{host}"] + command), stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd, env=env)

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        self.signal(signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


class Commits:
    """Follows a run directory's metrics.jsonl: each committed step, when it was seen and when the
    coordinator says it committed it (`wall_seconds` since its start; lines can reach the file in
    bursts, so the times used are the coordinator's, see `settle`)."""
    def __init__(self, clock):
        self.clock, self.seen, self.path, self.offset, self.partial, self.segment = clock, [], None, 0, "", -1

    def watch(self, run_dir):
        self.path, self.offset, self.partial = os.path.join(run_dir, "metrics.jsonl"), 0, ""
        self.segment += 1

    def settle(self):
        """Puts each commit on this script's clock: the coordinator's wall_seconds plus the
        smallest (seen - wall_seconds) of its coordinator, which polling every 20 ms pins to
        within a poll of when the line was written at the earliest."""
        for segment in {c["segment"] for c in self.seen}:
            part = [c for c in self.seen if c["segment"] == segment]
            offset = min(c["seen"] - c["wall"] for c in part)
            for c in part:
                c["t"] = c["wall"] + offset

    def poll(self):
        if not self.path:
            return
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return
        lines = (self.partial + data).split("\n")
        self.partial = lines[-1]
        for line in lines[:-1]:
            if line.strip():
                record = json.loads(line)
                now = self.clock()
                self.seen.append({"t": now, "seen": now, "wall": record["wall_seconds"], "segment": self.segment,
                                  "step": record["step"], "workers": record.get("workers", 0)})

    def last(self):
        return self.seen[-1] if self.seen else None


class Market:
    """The seeded schedule: each slot's instances (up, notice, gone) and the coordinator's reclaim.

    Each slot draws from its own generator, so a slot's schedule does not depend on how long the
    run lasts or on any other slot; times are market seconds divided by the time scale."""
    def __init__(self, args):
        self.scale = args.time_scale
        self.slots = []
        for i in range(args.workers):
            cloud, notice = CLOUDS[i % len(CLOUDS)]
            self.slots.append({"slot": i, "cloud": cloud, "notice": notice, "rng": random.Random(f"{args.seed}/slot/{i}")})
        rng = random.Random(f"{args.seed}/coordinator")
        notice = rng.choice([120, 30, 0]) if args.coordinator_notice == "auto" else int(args.coordinator_notice)
        self.coordinator = {"reclaim": rng.uniform(600, 1500) / self.scale, "notice": notice,
                            "replacement_delay": rng.uniform(30, 90) / self.scale}
        self.mean_up, self.mean_down = args.mean_up, args.mean_down

    def lifetime(self, slot):
        return slot["rng"].expovariate(1 / self.mean_up) / self.scale

    def downtime(self, slot):
        return slot["rng"].expovariate(1 / self.mean_down) / self.scale


def start_moto(name, scratch):
    """moto inside host 1 on its own address; the bucket made from inside that host too."""
    log = open(os.path.join(scratch, "moto.log"), "w")
    server = subprocess.Popen(["ip", "netns", "exec", f"{name}-h1", sys.executable, S3_SERVER, "--host", ip(1)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    line = server.stdout.readline()
    if not line:
        server.wait()
        with open(log.name) as f:
            raise HarnessError(f"the S3 test server did not start: {f.read().strip()}")
    info = json.loads(line)
    env = {"AWS_ENDPOINT_URL_S3": info["endpoint"], "AWS_ACCESS_KEY_ID": info["access_key_id"],
           "AWS_SECRET_ACCESS_KEY": info["secret_access_key"], "AWS_REGION": "us-east-1", "AWS_PROFILE": "",
           "AWS_SESSION_TOKEN": "", "HOME": os.path.join(scratch, "home")}
    os.makedirs(env["HOME"], exist_ok=True)
    make = ("import boto3, os; boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL_S3'], region_name='us-east-1')"
            f".create_bucket(Bucket='{BUCKET}')")
    made = subprocess.run(["ip", "netns", "exec", f"{name}-h1", sys.executable, "-c", make], capture_output=True, text=True,
                          env={k: v for k, v in {**os.environ, **env}.items() if k != "AWS_PROFILE"})
    if made.returncode != 0:
        raise HarnessError(f"could not create the bucket: {made.stderr.strip()}")
    return server, env


class Run:
    """One Grove run on the test hosts: a coordinator, its workers, the market's events."""
    def __init__(self, args, name, scratch, env, label):
        self.args, self.name, self.scratch, self.label = args, name, scratch, label
        self.env = {**os.environ, **env}
        self.exe = lambda n: os.path.abspath(os.path.join(args.build_dir, n))
        self.t0 = time.monotonic()
        self.clock = lambda: time.monotonic() - self.t0
        self.commits = Commits(self.clock)
        self.procs = []          # every process ever started, for teardown
        self.events = []         # what the market did, with times
        self.instances = []      # billed instances: {role, cloud, host, start, end}
        self.worker_exits = []   # (t, slot, code)
        self.coordinators = []   # {host, run_dir, proc, start}
        self.endpoint = None

    def start_coordinator(self, host, resume):
        run_dir = os.path.join(self.scratch, f"{self.label}-coordinator-{len(self.coordinators) + 1}-h{host}", "run")
        os.makedirs(os.path.dirname(run_dir))  # an empty machine: nothing of the run is here
        verb = ["resume"] if resume else ["run"]
        remote = f"s3://{BUCKET}/{self.label}"
        proc = Proc(self.name, host, [self.exe("coordinator")] + verb + ["--config", "cluster.yaml", "--run-dir", run_dir]
                    + settings(self.args, remote), run_dir + ".log", ROOT, self.env)
        self.procs.append(proc)
        self.coordinators.append({"host": host, "run_dir": run_dir, "proc": proc, "start": self.clock()})
        self.endpoint = f"tcp://{ip(host)}:7070"
        self.commits.poll()  # the old coordinator's last commits, before following the new one
        self.commits.watch(run_dir)
        return proc

    def start_worker(self, slot, host, workdir):
        os.makedirs(workdir, exist_ok=True)
        proc = Proc(self.name, host, [self.exe("worker"), "--coordinator", self.endpoint, "--bind", "0.0.0.0", "--insecure",
                                      "--connect-timeout", "600", "--cache-dir", os.path.join(workdir, "cache")],
                    os.path.join(workdir, "worker.log"), workdir, self.env)
        self.procs.append(proc)
        return proc

    def coordinator(self):
        return self.coordinators[-1]["proc"]

    def stop_all(self):
        for p in self.procs:
            if p.alive():
                p.stop()


def run_reference(args, name, scratch, env):
    """The uninterrupted fleet: coordinator on h2, workers on h3.. ; its rate and its weights."""
    run = Run(args, name, scratch, env, "reference")
    try:
        c = run.start_coordinator(2, resume=False)
        for i in range(args.workers):
            run.start_worker(i, 3 + i, os.path.join(scratch, f"reference-worker-{i}"))
        deadline = time.monotonic() + args.finish_timeout
        while c.alive() and time.monotonic() < deadline:
            run.commits.poll()
            time.sleep(0.02)
        run.commits.poll()
        run.commits.settle()
        if c.alive():
            raise HarnessError(f"the reference run did not finish within {args.finish_timeout} s")
        if c.proc.returncode != 0:
            raise HarnessError(f"the reference coordinator exited {c.proc.returncode}; log {c.log_path}")
        with open(os.path.join(run.coordinators[-1]["run_dir"], "summary.json")) as f:
            summary = json.load(f)
        end = run.commits.last()["t"]
        try:
            with open(os.path.join(run.coordinators[-1]["run_dir"], "redone.jsonl")) as f:
                redone = sum(json.loads(line)["samples"] for line in f if line.strip())
        except FileNotFoundError:
            redone = 0
        return {"summary": summary, "wall": end, "commits": run.commits.seen, "redone": redone,
                "rate": summary["samples"] / end, "instances": args.workers + 1}
    finally:
        run.stop_all()


def run_spot(args, name, scratch, env, pool_hosts):
    """The market against a run; returns what happened, for the report."""
    market = Market(args)
    run = Run(args, name, scratch, env, "spot")
    free = list(pool_hosts)       # hosts with nothing on them, longest free first
    isolated = set()
    slots = []
    for s in market.slots:
        slots.append({**s, "phase": "down", "next": 0.0, "proc": None, "host": None, "instance": None, "workdir": None,
                      "incarnation": 0, "notice_at": None})
    cstate = {"phase": "up", "host": free.pop(0), "kill_at": None, "next_host": None, "replace_at": None, "old_exit": None}
    coordinator_instance = {"role": "coordinator", "slot": "coordinator", "cloud": "coordinator", "host": cstate["host"],
                            "start": 0.0, "end": None}
    run.instances.append(coordinator_instance)
    result = {"market": market, "run": run, "restarts": 0, "ok": False}

    def take_host():
        host = free.pop(0)
        if host in isolated:
            hosts("heal", name, f"h{host}")
            isolated.discard(host)
        return host

    def reclaim_host(host):
        """The host vanishes: cut from the network first (no FIN or RST escapes), then killed."""
        hosts("isolate", name, f"h{host}")
        isolated.add(host)
        for p in run.procs:
            if p.host == host and p.alive():
                p.stop()
        free.append(host)

    def arrive(slot, now):
        host = take_host()
        slot["incarnation"] += 1
        slot["exit_seen"] = False
        slot["host"], slot["phase"] = host, "up"
        slot["workdir"] = os.path.join(scratch, f"spot-slot{slot['slot']}-{slot['incarnation']}-h{host}")
        slot["proc"] = run.start_worker(slot["slot"], host, slot["workdir"])
        slot["instance"] = {"role": "worker", "slot": slot["slot"], "cloud": slot["cloud"], "host": host, "start": now, "end": None}
        run.instances.append(slot["instance"])
        slot["next"] = now + market.lifetime(slot)
        run.events.append({"t": now, "what": "arrive", "slot": slot["slot"], "cloud": slot["cloud"], "host": host})

    try:
        return market_loop(args, run, market, slots, cstate, coordinator_instance, arrive, take_host, reclaim_host, result)
    finally:
        run.stop_all()


def market_loop(args, run, market, slots, cstate, coordinator_instance, arrive, take_host, reclaim_host, result):
    """Carries out the market against the run until the run ends; see run_spot."""
    run.start_coordinator(cstate["host"], resume=False)
    for slot in slots:
        arrive(slot, 0.0)
    deadline = time.monotonic() + args.finish_timeout
    finished = False
    while time.monotonic() < deadline:
        now = run.clock()
        run.commits.poll()
        current = run.coordinator()
        if cstate["phase"] in ("up", "replaced") and not current.alive():
            if current.proc.returncode == 0:
                finished = True
                break
            raise HarnessError(f"the coordinator exited {current.proc.returncode}; log {current.log_path}")
        # Workers: reclaims, arrivals, and restarts of processes that exited while their host lives.
        for slot in slots:
            if slot["phase"] == "up" and now >= slot["next"] and slot["proc"] is not None:
                event = {"t": now, "what": "reclaim", "slot": slot["slot"], "cloud": slot["cloud"], "notice": slot["notice"],
                         "host": slot["host"]}
                run.events.append(event)
                if slot["notice"] > 0:
                    slot["proc"].signal(signal.SIGTERM)
                    slot["phase"], slot["next"] = "noticed", now + slot["notice"] / market.scale
                else:
                    slot["phase"], slot["next"] = "gone", now
            if slot["phase"] == "noticed" and not slot["proc"].alive() and not slot.get("exit_seen"):
                run.worker_exits.append((now, slot["slot"], slot["proc"].proc.returncode))  # drained
                slot["exit_seen"] = True
            if slot["phase"] in ("noticed", "gone") and now >= slot["next"]:
                reclaim_host(slot["host"])
                slot["instance"]["end"] = now
                run.events.append({"t": now, "what": "gone", "slot": slot["slot"], "cloud": slot["cloud"], "host": slot["host"]})
                slot["phase"], slot["next"] = "down", now + market.downtime(slot)
            elif slot["phase"] == "down" and now >= slot["next"] and not finished:
                arrive(slot, now)
            elif slot["phase"] == "up" and slot["proc"] and not slot["proc"].alive():
                code = slot["proc"].proc.returncode
                if not slot.get("exit_seen"):
                    run.worker_exits.append((now, slot["slot"], code))
                    slot["exit_seen"] = True
                if code == 0:
                    slot["proc"] = None   # the run is over for this worker
                elif cstate["phase"] in ("up", "replaced") or cstate["replace_at"] is not None:
                    # 75 (the coordinator stopped), 4 (it went silent), anything else: start again at
                    # the coordinator's current address, on the same machine and directory.
                    result["restarts"] += 1
                    slot["exit_seen"] = False
                    slot["proc"] = run.start_worker(slot["slot"], slot["host"], slot["workdir"])
        # The coordinator's reclaim, its host's end, and its replacement. The launcher asks for a
        # replacement as soon as the old coordinator has exited (a drained one exits well before
        # its host goes) or its host is gone, whichever is first; it starts after the market's delay.
        if cstate["phase"] == "up" and now >= market.coordinator["reclaim"] and len(run.coordinators) == 1:
            notice = market.coordinator["notice"]
            run.events.append({"t": now, "what": "reclaim", "slot": "coordinator", "cloud": "coordinator", "notice": notice,
                               "host": cstate["host"]})
            if notice > 0:
                run.coordinator().signal(signal.SIGTERM)
            cstate["phase"], cstate["kill_at"] = "noticed", now + notice / market.scale
            cstate["old"] = {"proc": run.coordinator(), "host": cstate["host"], "instance": coordinator_instance}
        old = cstate.get("old")
        if old and not old.get("gone"):
            if cstate["replace_at"] is None and (not old["proc"].alive() or now >= cstate["kill_at"]):
                if not old["proc"].alive():
                    cstate["old_exit"] = (now, old["proc"].proc.returncode)
                cstate["replace_at"] = now + market.coordinator["replacement_delay"]
                cstate["next_host"] = take_host()
                # Workers that stop from now on are started again pointed at the next coordinator,
                # and wait for it there (--connect-timeout), as behind a Service.
                run.endpoint = f"tcp://{ip(cstate['next_host'])}:7070"
            if now >= cstate["kill_at"]:
                if old["proc"].alive():
                    cstate["old_exit"] = (now, "killed")
                reclaim_host(old["host"])
                old["instance"]["end"], old["gone"] = now, True
                run.events.append({"t": now, "what": "gone", "slot": "coordinator", "cloud": "coordinator", "host": old["host"]})
        if cstate["phase"] == "noticed" and cstate["replace_at"] is not None and now >= cstate["replace_at"]:
            cstate["host"] = cstate["next_host"]
            run.start_coordinator(cstate["host"], resume=True)
            coordinator_instance = {"role": "coordinator", "slot": "coordinator", "cloud": "coordinator",
                                    "host": cstate["host"], "start": now, "end": None}
            run.instances.append(coordinator_instance)
            run.events.append({"t": now, "what": "arrive", "slot": "coordinator", "cloud": "coordinator", "host": cstate["host"]})
            cstate["phase"] = "replaced"
        result["coordinator_state"] = {k: v for k, v in cstate.items() if k != "old"}
        time.sleep(0.02)
    run.commits.poll()
    run.commits.settle()
    if not finished:
        raise HarnessError(f"the spot run did not finish within {args.finish_timeout} s")
    end = run.clock()
    for inst in run.instances:
        if inst["end"] is None:
            inst["end"] = end
    # Workers are told the run is over; give them a moment to exit 0, then stop the rest.
    for slot in slots:
        if slot["proc"] is not None:
            try:
                code = slot["proc"].proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            run.worker_exits.append((run.clock(), slot["slot"], code))
    run.stop_all()
    with open(os.path.join(run.coordinators[-1]["run_dir"], "summary.json")) as f:
        result["summary"] = json.load(f)
    result["end"] = run.commits.last()["t"]
    result["redone"] = []
    for i, c in enumerate(run.coordinators):
        try:
            with open(os.path.join(c["run_dir"], "redone.jsonl")) as f:
                result["redone"] += [dict(json.loads(line), coordinator=i) for line in f if line.strip()]
        except FileNotFoundError:
            pass
    result["coordinator_logs"] = [c["proc"].output() for c in run.coordinators]
    result["ok"] = True
    return result


def usual_step_seconds(commits):
    """The usual wall time of one step for each fleet size: the median gap between consecutive
    steps committed by that many workers (the `workers` of metrics.jsonl)."""
    gaps = {}
    for a, b in zip(commits, commits[1:]):
        if b["step"] == a["step"] + 1 and b["t"] > a["t"]:
            gaps.setdefault(b["workers"], []).append(b["t"] - a["t"])
    usual = {w: statistics.median(g) for w, g in gaps.items() if len(g) >= 3}
    if not usual:
        usual = {w: statistics.median(g) for w, g in gaps.items()}

    def lookup(workers):
        if workers in usual:
            return usual[workers]
        nearest = min(usual, key=lambda w: abs(w - workers)) if usual else None
        return usual[nearest] if nearest is not None else 0.0
    return lookup, usual


ATTRIBUTION_WINDOW = 5.0  # seconds after an event within which a slow step is charged to it: a join
# admitted at the next step boundary fetches the state and its first samples within a few seconds


def analyze(args, reference, spot):
    """Where the spot fleet's wall time went.

    Every gap between two consecutive commits is compared with the usual step time for the fleet
    size that committed it; the excess is charged to the market event that caused it: a worker
    killed without notice inside the gap or in the ATTRIBUTION_WINDOW seconds before it, else the
    first event inside the gap, else the latest event in the window before it, else nothing (noise:
    the machine is shared).
    Running with fewer workers than the full fleet is counted apart, as capacity: its steps are
    slower by the usual amount. The coordinator's reclaim is charged everything from the old
    coordinator's last commit until the resumed run commits past it (the outage and the steps redone)."""
    run, market = spot["run"], spot["market"]
    commits = run.commits.seen
    usual, usual_table = usual_step_seconds(commits)
    full = usual(args.workers)
    samples = spot["summary"]["samples"]
    wall = spot["end"]
    instance_seconds = sum(i["end"] - i["start"] for i in run.instances)
    worker_seconds = sum(i["end"] - i["start"] for i in run.instances if i["role"] == "worker")
    resumed_start = run.coordinators[1]["start"] if len(run.coordinators) > 1 else None
    creclaim = next((e for e in run.events if e["what"] == "reclaim" and e["slot"] == "coordinator"), None)

    # The coordinator's window: from the old coordinator's last commit until the resumed run has
    # committed past it (steps committed again count as redone).
    coordinator, window = None, None
    if creclaim and resumed_start is not None:
        old_commits = [c for c in commits if c["t"] < resumed_start]
        new_commits = [c for c in commits if c["t"] >= resumed_start]
        last_old = old_commits[-1] if old_commits else {"t": 0.0, "step": 0}
        caught_up = next((c for c in new_commits if c["step"] > last_old["step"]), None)
        resumed_from = spot["summary"].get("resumed_from_step") or 0
        old_exit = spot["coordinator_state"].get("old_exit")
        coordinator = {"notice": creclaim["notice"], "t": creclaim["t"], "old_exit": old_exit,
                       "replacement_started": resumed_start, "first_commit": new_commits[0]["t"] if new_commits else None,
                       "last_step_before": last_old["step"], "resumed_from": resumed_from,
                       "steps_redone": max(0, last_old["step"] - resumed_from),
                       "resume_to_commit": (new_commits[0]["t"] - resumed_start) if new_commits else None,
                       "market_delay": market.coordinator["replacement_delay"]}
        if caught_up:
            window = (last_old["t"], caught_up["t"])
            coordinator["lost"] = max(0.0, caught_up["t"] - last_old["t"] - usual(caught_up["workers"]))
            coordinator["outage"] = new_commits[0]["t"] - creclaim["t"]
        for line in spot["coordinator_logs"][1].split("\n"):
            if "downloaded and verified the checkpoint" in line:
                coordinator["download_line"] = line.strip()

    events = [e for e in run.events if e["slot"] != "coordinator" and (e["what"] == "reclaim" or
                                                                        (e["what"] == "arrive" and e["t"] > 0))]
    charged = {id(e): 0.0 for e in events}
    capacity = unattributed = 0.0
    gap_owner = {}  # step -> event charged with the gap that ended in its commit
    for a, b in zip(commits, commits[1:]):
        if window and a["t"] >= window[0] and b["t"] <= window[1]:
            continue
        steps = b["step"] - a["step"]
        if steps <= 0:
            continue
        capacity += max(0.0, usual(b["workers"]) - full) * steps
        excess = (b["t"] - a["t"]) - usual(b["workers"]) * steps
        if excess <= 0:
            continue
        inside = [e for e in events if a["t"] < e["t"] <= b["t"]]
        before = [e for e in events if a["t"] - ATTRIBUTION_WINDOW <= e["t"] <= a["t"]]
        # A worker killed without notice stalls the steps until it is declared down, whatever
        # else happens meanwhile: it comes first, inside the gap or just before it.
        killed = [e for e in before + inside if e["what"] == "reclaim" and e["notice"] == 0]
        owner = killed[-1] if killed else inside[0] if inside else before[-1] if before else None
        if owner is None:
            unattributed += excess
        else:
            charged[id(owner)] += excess
            gap_owner[b["step"]] = owner
    redone_by = {id(e): 0 for e in events}
    redone_unattributed = 0
    for r in spot["redone"]:
        owner = gap_owner.get(r["step"])
        if owner is not None:
            redone_by[id(owner)] += r["samples"]
        elif not (coordinator and r["coordinator"] == 1 and r["step"] <= coordinator["last_step_before"]):
            redone_unattributed += r["samples"]

    interruptions = []
    for e in events:
        entry = {"what": e["what"], "slot": e["slot"], "cloud": e["cloud"], "notice": e.get("notice"), "t": e["t"],
                 "host": e["host"], "lost": charged[id(e)], "redone_samples": redone_by[id(e)]}
        if e["what"] == "reclaim":
            gone = next((g for g in run.events if g["what"] == "gone" and g["slot"] == e["slot"] and g["t"] >= e["t"]), None)
            exit_ = next((x for x in run.worker_exits if x[1] == e["slot"] and x[0] >= e["t"]), None)
            if e["notice"] > 0 and gone and exit_ and exit_[0] <= gone["t"]:
                entry["drained_in"] = exit_[0] - e["t"]
                entry["exit_code"] = exit_[2]
                entry["idle_paid"] = gone["t"] - exit_[0]
        interruptions.append(entry)
    ref = reference
    ideal = (args.steps - 1) * full
    first = commits[0]["t"]
    attributed = sum(charged.values()) + (coordinator["lost"] if coordinator and "lost" in coordinator else 0.0)
    rest = wall - first - ideal - capacity - attributed
    return {"usual_step": full, "usual_table": usual_table, "samples": samples, "wall": wall, "rate": samples / wall,
            "ratio": (samples / wall) / ref["rate"], "instance_seconds": instance_seconds,
            "ratio_in_run": (first + ideal) / wall,
            "mean_workers": worker_seconds / wall, "interruptions": interruptions, "coordinator": coordinator,
            "capacity_lost": capacity, "unattributed": unattributed, "redone_unattributed": redone_unattributed,
            "ideal": ideal, "first_commit": first, "rest": rest,
            "weights_match": spot["summary"]["weights_sha256"] == ref["summary"]["weights_sha256"],
            "weights": spot["summary"]["weights_sha256"], "reference_weights": ref["summary"]["weights_sha256"],
            "restarts": spot["restarts"], "redone_total": sum(r["samples"] for r in spot["redone"])}


def dollars_per_million(instance_seconds, price_per_hour, samples):
    return instance_seconds / 3600 * price_per_hour / samples * 1e6


def report(args, reference, spot, a, machine):
    scale = args.time_scale
    lines = []
    out = lines.append
    ref_instance_seconds = reference["instances"] * reference["wall"]
    out(f"Seed {args.seed}; {args.workers} worker slots ({', '.join(f'{c} {n} s' for c, n in CLOUDS[:args.workers])}); "
        f"{args.steps} steps of {GLOBAL_BATCH} samples (pixel-mlp, {args.pixels} pixels a tile, exact reduce); "
        f"checkpoint every {args.checkpoint_interval} steps to s3://{BUCKET}/ on a test host; "
        + (f"each worker or coordinator host an instance of {args.cpu_per_host:g} cores (a CFS quota); " if args.cpu_per_host > 0
           else "no CPU quota per host; ")
        + f"time scale {scale:g}: market times (notices, lifetimes Exp(mean {args.mean_up:g} s), gaps Exp(mean "
        f"{args.mean_down:g} s)) divided by {scale:g}; Grove's own clocks unscaled.")
    out(f"Machine: {machine}.")
    out("")
    out("| | uninterrupted fleet | spot fleet |")
    out("| --- | --- | --- |")
    out(f"| wall time, start to last commit | {reference['wall']:.1f} s | {a['wall']:.1f} s |")
    out(f"| samples committed | {reference['summary']['samples']} | {a['samples']} |")
    out(f"| goodput | {reference['rate']:.1f} samples/s | {a['rate']:.1f} samples/s |")
    out(f"| against the uninterrupted fleet | 100 % | {100 * a['ratio']:.1f} % |")
    out(f"| against its own full-fleet pace (start + {args.steps - 1} usual steps of {args.workers} workers, same run) | | "
        f"{100 * a['ratio_in_run']:.1f} % |")
    out(f"| workers alive, mean | {args.workers} | {a['mean_workers']:.2f} |")
    out(f"| samples redone (redone.jsonl) | {reference['redone']} | "
        f"{a['redone_total']} + {a['coordinator']['steps_redone'] * GLOBAL_BATCH if a['coordinator'] else 0} after the coordinator's reclaim |")
    out(f"| instance-seconds billed (workers + coordinator) | {ref_instance_seconds:.0f} | {a['instance_seconds']:.0f} |")
    out(f"| final weights | `{a['reference_weights'][:12]}…` | `{a['weights'][:12]}…` "
        f"({'the same' if a['weights_match'] else 'DIFFERENT'}) |")
    out("")
    out(f"Cost per million samples, every host priced as one {PRICES['instance']}:")
    out("")
    out("| price | per instance-hour | uninterrupted fleet | spot fleet |")
    out("| --- | --- | --- | --- |")
    od = PRICES["on_demand"]
    out(f"| on-demand | ${od:.3f} | ${dollars_per_million(ref_instance_seconds, od, reference['summary']['samples']):.3f} | — |")
    rows = [(f"spot, AWS example ({100 * (1 - PRICES['spot'] / od):.0f} % off)", PRICES["spot"])]
    rows += [(label, od * (1 - off)) for label, off in PRICES["bands"]]
    for label, price in rows:
        out(f"| {label} | ${price:.4f} | ${dollars_per_million(ref_instance_seconds, price, reference['summary']['samples']):.3f} | "
            f"${dollars_per_million(a['instance_seconds'], price, a['samples']):.3f} |")
    spot_cost = dollars_per_million(a["instance_seconds"], PRICES["spot"], a["samples"])
    od_cost = dollars_per_million(ref_instance_seconds, od, reference["summary"]["samples"])
    out("")
    out(f"At the AWS example price the spot fleet's sample costs {100 * spot_cost / od_cost:.0f} % of an on-demand "
        f"fleet's ({spot_cost:.3f} against {od_cost:.3f} dollars per million samples).")
    out("")
    out(f"Where the spot fleet's {a['wall']:.1f} s went. The usual step of the full fleet ({args.workers} workers) took "
        f"{a['usual_step'] * 1000:.0f} ms (median). Each gap between two commits longer than the usual step for the number "
        "of workers that committed it is charged to the market event that caused it: a worker killed without notice inside "
        f"the gap or in the {ATTRIBUTION_WINDOW:g} s before it, else the first event inside the gap, else the latest in the "
        f"{ATTRIBUTION_WINDOW:g} s before it. The rows add up to the wall time:")
    out("")
    out("| where the time went | events | wall time | per event, mean (min–max) | samples redone | drained within | paid idle after leaving, mean |")
    out("| --- | --- | --- | --- | --- | --- | --- |")
    out(f"| start: coordinator, workers, first step | | {a['first_commit']:.1f} s | | | | |")
    out(f"| the other {args.steps - 1} steps at the full fleet's usual pace | | {a['ideal']:.1f} s | | | | |")
    for notice in (120, 30, 0):
        group = [i for i in a["interruptions"] if i["what"] == "reclaim" and i["notice"] == notice]
        if not group:
            out(f"| worker reclaimed, notice {NOTICE_CLASS[notice]} ({notice / scale:g} s here) | 0 | | | | | |")
            continue
        lost = [i["lost"] for i in group]
        drained = [i["drained_in"] for i in group if "drained_in" in i]
        idle = [i["idle_paid"] for i in group if "idle_paid" in i]
        out(f"| worker reclaimed, notice {NOTICE_CLASS[notice]} ({notice / scale:g} s here) | {len(group)} | {sum(lost):.1f} s | "
            f"{statistics.mean(lost):.2f} s ({min(lost):.2f}–{max(lost):.2f}) | {sum(i['redone_samples'] for i in group)} | "
            + (f"{max(drained):.2f} s at most" if drained else "– (killed)") + " | "
            + (f"{statistics.mean(idle):.1f} s" if idle else "–") + " |")
    joins = [i for i in a["interruptions"] if i["what"] == "arrive"]
    if joins:
        lost = [i["lost"] for i in joins]
        out(f"| new worker joins (empty cache) | {len(joins)} | {sum(lost):.1f} s | {statistics.mean(lost):.2f} s "
            f"({min(lost):.2f}–{max(lost):.2f}) | {sum(i['redone_samples'] for i in joins)} | | |")
    c = a["coordinator"]
    if c and "lost" in c:
        out(f"| coordinator reclaimed, notice {NOTICE_CLASS[c['notice']]} ({c['notice'] / scale:g} s here), resumed elsewhere | 1 | "
            f"{c['lost']:.1f} s | | {c['steps_redone'] * GLOBAL_BATCH} | | |")
    out(f"| fewer workers than the full fleet (slower steps) | | {a['capacity_lost']:.1f} s | | | | |")
    out(f"| the rest: slow steps near no event, less steps faster than the median (the shared machine) | | {a['rest']:.1f} s | | "
        f"{a['redone_unattributed']} | | |")
    out("")
    out("Steps per fleet size (median step time): " + ", ".join(
        f"{w} workers {t * 1000:.0f} ms" for w, t in sorted(a["usual_table"].items())) + ".")
    c = a["coordinator"]
    if c:
        out("")
        how = f"notice {c['notice']} s ({c['notice'] / scale:g} s scaled)" if c["notice"] else "no notice"
        exit_ = c["old_exit"]
        exit_text = ("it was killed with its host" if not exit_ or exit_[1] == "killed"
                     else f"it drained and exited {exit_[1]} {exit_[0] - c['t']:.1f} s after the notice")
        out(f"The coordinator's host was reclaimed at {c['t']:.1f} s with {how}: {exit_text}; the replacement started "
            f"{c['replacement_started'] - c['t']:.1f} s after the reclaim (of which {c['market_delay']:.1f} s the market's "
            f"delay for a new machine) with an empty run directory, resumed from step {c['resumed_from']} "
            f"(the last step committed before was {c['last_step_before']}: {c['steps_redone']} steps, "
            f"{c['steps_redone'] * GLOBAL_BATCH} samples, redone) and committed its first step {c['resume_to_commit']:.1f} s "
            f"after it started. Reclaim to first commit: {c.get('outage', float('nan')):.1f} s.")
        if c.get("download_line"):
            out(f"Its log: `{c['download_line'][c['download_line'].find('downloaded'):]}`")
    out("")
    out(f"Worker processes started again after their coordinator stopped or went silent: {a['restarts']}.")
    out("")
    out(f"Prices: {PRICES['source']}. Bands: {PRICES['bands_source']}.")
    return "\n".join(lines)


def schedule_lines(spot):
    rows = []
    for e in spot["run"].events:
        who = "coordinator" if e["slot"] == "coordinator" else f"slot {e['slot']} ({e['cloud']})"
        what = e["what"] + (f" (notice {e['notice']} s)" if e["what"] == "reclaim" else "")
        rows.append(f"{e['t']:8.2f} s  {who:18} {what:22} h{e['host']}")
    return rows


COLOURS = {"aws": "#d9822b", "gce": "#2b7bd9", "azure": "#7b4fd0", "none": "#444444", "coordinator": "#2a9d5b"}


def svg_plot(args, reference, spot, a, path):
    """The run on one page: committed steps over wall time against the uninterrupted fleet, and
    below it one lane per slot and one for the coordinator (bars: an instance up; pale: its notice)."""
    run = spot["run"]
    width, left, right = 960, 150, 20
    top_h, lane_h = 260, 22
    lanes = [f"slot {s['slot']}: {s['cloud']}" for s in spot["market"].slots] + ["coordinator"]
    T = 52  # the plot's top: two lines of title above it
    height = T + top_h + 40 + lane_h * len(lanes) + 84
    t_max = max(a["wall"], reference["wall"]) * 1.02
    x = lambda t: left + (width - left - right) * t / t_max
    y = lambda step: T + top_h - top_h * step / args.steps
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="sans-serif" font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14">Grove on a seeded spot market: seed {args.seed}, {args.workers} worker slots, '
           f'time scale {args.time_scale:g}, coordinator reclaimed once</text>',
           f'<text x="{left}" y="36" font-size="13">goodput {100 * a["ratio"]:.0f} % of the uninterrupted fleet\'s '
           f'({100 * a["ratio_in_run"]:.0f} % of its own full-fleet pace); final weights equal the uninterrupted run\'s: '
           f'{"yes" if a["weights_match"] else "NO"}</text>']
    # Axes and grid.
    for step in range(0, args.steps + 1, max(1, args.steps // 5)):
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y(step):.1f}" y2="{y(step):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y(step) + 4:.1f}" text-anchor="end">{step}</text>')
    tick = 10 ** max(0, len(str(int(t_max))) - 1)
    tick = tick // 2 if t_max / tick < 4 else tick
    lanes_top = T + top_h + 40
    for t in range(0, int(t_max) + 1, max(1, tick)):
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{T}" y2="{lanes_top + lane_h * len(lanes)}" stroke="#eee"/>')
        out.append(f'<text x="{x(t):.1f}" y="{lanes_top + lane_h * len(lanes) + 16}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{(left + width) / 2}" y="{lanes_top + lane_h * len(lanes) + 34}" text-anchor="middle">wall time (s)</text>')
    out.append(f'<text x="14" y="{T + top_h / 2}" transform="rotate(-90 14 {T + top_h / 2})" text-anchor="middle">committed step</text>')
    # The coordinator's outage, shaded across the whole picture.
    c = a["coordinator"]
    if c and c["first_commit"]:
        out.append(f'<rect x="{x(c["t"]):.1f}" y="{T}" width="{x(c["first_commit"]) - x(c["t"]):.1f}" '
                   f'height="{lanes_top - T + lane_h * len(lanes)}" fill="#2a9d5b" opacity="0.12"/>')
    # Worker reclaims: a thin line at each notice (or kill) in the slot's colour.
    for e in run.events:
        if e["what"] == "reclaim" and e["slot"] != "coordinator":
            out.append(f'<line x1="{x(e["t"]):.1f}" x2="{x(e["t"]):.1f}" y1="{T}" y2="{T + top_h}" '
                       f'stroke="{COLOURS[e["cloud"]]}" stroke-width="1" stroke-dasharray="3,3"/>')

    def polyline(commits, colour, dash=""):
        points = " ".join(f"{x(cm['t']):.1f},{y(cm['step']):.1f}" for cm in commits)
        return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.6" {dash}/>'
    out.append(polyline(reference["commits"], "#999", 'stroke-dasharray="6,4"'))
    # The spot run, one line per coordinator, so that the steps redone after the resume show.
    starts = [co["start"] for co in run.coordinators] + [float("inf")]
    for i in range(len(run.coordinators)):
        part = [cm for cm in run.commits.seen if starts[i] <= cm["t"] < starts[i + 1]]
        if part:
            out.append(polyline(part, "#111"))
    out.append(f'<text x="{x(reference["wall"]) - 8:.1f}" y="{y(args.steps) + 12:.1f}" text-anchor="end" fill="#777">uninterrupted</text>')
    out.append(f'<text x="{x(a["wall"]) - 4:.1f}" y="{y(args.steps) + 14:.1f}" text-anchor="end">spot fleet</text>')
    # Lanes.
    slot_of = {f"slot {s['slot']}: {s['cloud']}": s["slot"] for s in spot["market"].slots}
    for n, lane in enumerate(lanes):
        ly = lanes_top + lane_h * n
        out.append(f'<text x="{left - 6}" y="{ly + 15}" text-anchor="end">{lane}</text>')
        key = "coordinator" if lane == "coordinator" else slot_of[lane]
        colour = COLOURS["coordinator" if lane == "coordinator" else spot["market"].slots[key]["cloud"]]
        for inst in [i for i in run.instances if i["slot"] == key]:
            notice_at = next((ev["t"] for ev in run.events if ev["what"] == "reclaim" and ev["slot"] == key
                              and inst["start"] <= ev["t"] <= inst["end"]), inst["end"])
            out.append(f'<rect x="{x(inst["start"]):.1f}" y="{ly + 4}" width="{max(1, x(notice_at) - x(inst["start"])):.1f}" '
                       f'height="{lane_h - 8}" fill="{colour}"><title>h{inst["host"]}</title></rect>')
            if inst["end"] > notice_at:
                out.append(f'<rect x="{x(notice_at):.1f}" y="{ly + 4}" width="{max(1, x(inst["end"]) - x(notice_at)):.1f}" '
                           f'height="{lane_h - 8}" fill="{colour}" opacity="0.35"/>')
            out.append(f'<text x="{x(inst["start"]) + 3:.1f}" y="{ly + 15}" fill="white" font-size="10">h{inst["host"]}</text>')
    out.append(f'<text x="{left}" y="{height - 26}" font-size="11">bars: an instance up (pale: its notice, until its host goes); '
               'dashed lines: worker reclaims, in the slot\'s colour</text>')
    out.append(f'<text x="{left}" y="{height - 10}" font-size="11">green band: the coordinator\'s reclaim until the resumed run\'s '
               'first commit; grey dashes: the uninterrupted fleet, run before</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def to_data(args, reference, spot, machine):
    """Everything the report and the picture are made from, as JSON (--data)."""
    run, market = spot["run"], spot["market"]
    return {"args": {k: v for k, v in vars(args).items()}, "machine": machine, "reference": reference,
            "spot": {k: spot[k] for k in ("summary", "end", "redone", "coordinator_logs", "coordinator_state", "restarts")},
            "run": {"commits": run.commits.seen, "events": run.events, "instances": run.instances,
                    "worker_exits": run.worker_exits,
                    "coordinators": [{"start": c["start"], "host": c["host"]} for c in run.coordinators]},
            "market": {"scale": market.scale, "coordinator": market.coordinator,
                       "slots": [{"slot": sl["slot"], "cloud": sl["cloud"], "notice": sl["notice"]} for sl in market.slots]}}


def from_data(data):
    """The inverse of to_data: what analyze, report and svg_plot read."""
    from types import SimpleNamespace as NS
    run = NS(commits=NS(seen=data["run"]["commits"]), events=data["run"]["events"], instances=data["run"]["instances"],
             worker_exits=[tuple(x) for x in data["run"]["worker_exits"]], coordinators=data["run"]["coordinators"])
    market = NS(scale=data["market"]["scale"], coordinator=data["market"]["coordinator"], slots=data["market"]["slots"])
    return data["reference"], dict(data["spot"], run=run, market=market), data["machine"]


def machine_description():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return f"{os.cpu_count()} cores ({cpu}), load average {load[0]:.1f} at the end"


def publish(args, reference, spot, machine):
    a = analyze(args, reference, spot)
    text = report(args, reference, spot, a, machine)
    schedule = schedule_lines(spot)
    print("\n" + text + "\n\nWhat the market did:\n" + "\n".join(schedule))
    if args.report:
        with open(args.report, "w") as f:
            f.write(text + "\n\nWhat the market did (wall time, who, what, host):\n\n```\n" + "\n".join(schedule) + "\n```\n")
    if args.svg:
        svg_plot(args, reference, spot, a, args.svg)
    return a


def stop_on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main():
    signal.signal(signal.SIGTERM, stop_on_signal)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=4, help="worker slots, clouds in the order aws, gce, azure, none")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--pixels", type=int, default=4096, help="model.pixels_per_tile of the pixel-mlp")
    parser.add_argument("--checkpoint-interval", type=int, default=50)
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument("--mean-up", type=float, default=900.0, help="market seconds an instance lives, mean")
    parser.add_argument("--mean-down", type=float, default=300.0, help="market seconds until new capacity, mean")
    parser.add_argument("--coordinator-notice", default="auto", choices=["auto", "120", "30", "0"])
    parser.add_argument("--cpu-per-host", type=float, default=0.25,
                        help="cores each worker or coordinator host may use (a CFS quota); 0: no quota")
    parser.add_argument("--keep", action="store_true", help="keep the logs and run directories")
    parser.add_argument("--finish-timeout", type=float, default=900)
    parser.add_argument("--svg", default=None, help="write the picture here")
    parser.add_argument("--report", default=None, help="write the tables (Markdown) and the schedule here")
    parser.add_argument("--data", default=None, help="write everything measured here, as JSON")
    parser.add_argument("--from-data", default=None, help="make the report and picture again from a --data file; runs nothing")
    parser.add_argument("--build-dir", default=".build/release")
    args = parser.parse_args()
    if args.from_data:
        with open(args.from_data) as f:
            data = json.load(f)
        for key, value in data["args"].items():
            if key not in ("svg", "report", "data", "from_data"):
                setattr(args, key, value)
        reference, spot, machine = from_data(data)
        publish(args, reference, spot, machine)
        return
    if args.workers < 2 or args.steps < 10 or args.time_scale <= 0 or args.mean_up <= 0 or args.mean_down <= 0:
        sys.exit("spot-fleet: --workers >= 2, --steps >= 10, and positive --time-scale, --mean-up, --mean-down")
    os.chdir(ROOT)
    args.build_dir = os.path.abspath(args.build_dir)
    for exe in ("coordinator", "worker"):
        if not os.access(os.path.join(args.build_dir, exe), os.X_OK):
            sys.exit(f"spot-fleet: no {exe} in {args.build_dir} (swift build -c release)")
    check = subprocess.run([sys.executable, TESTHOSTS, "check"], capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit(f"spot-fleet: cannot make test hosts here: {check.stderr.strip()}")
    probe = subprocess.run([sys.executable, "-c", "import moto.server, boto3"], capture_output=True)
    if probe.returncode != 0:
        sys.exit("spot-fleet: needs moto[server] (pip install 'moto[server]')")
    name = f"sf{os.getpid() % 100000}"
    # h1 the store, h2.. the pool: two coordinators and every worker incarnation draw from it.
    pool = list(range(2, args.workers + 7))
    scratch = tempfile.mkdtemp(prefix="grove-spot-fleet-")
    moto = None
    global CPU
    print(f"spot fleet: seed {args.seed}, {args.workers} slots, {args.steps} steps, time scale {args.time_scale:g}; "
          f"test hosts '{name}', scratch {scratch}", flush=True)
    started = time.monotonic()
    try:
        hosts("up", name, "--hosts", str(1 + len(pool)))
        CPU = HostCPU(name, pool, args.cpu_per_host)
        moto, env = start_moto(name, scratch)
        print("  the uninterrupted fleet...", flush=True)
        reference = run_reference(args, name, scratch, env)
        print(f"  {reference['summary']['samples']} samples in {reference['wall']:.1f} s ({reference['rate']:.1f} samples/s); "
              "the spot fleet...", flush=True)
        spot = run_spot(args, name, scratch, env, pool)
        machine = machine_description()
        if args.data:
            with open(args.data, "w") as f:
                json.dump(to_data(args, reference, spot, machine), f)
        a = publish(args, reference, spot, machine)
        print(f"\n{time.monotonic() - started:.0f} s in all")
        if not a["weights_match"]:
            print("FAIL: the spot fleet did not end on the uninterrupted run's weights", file=sys.stderr)
            sys.exit(1)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    except HarnessError as error:
        sys.exit(f"spot-fleet: {error} (logs in {scratch})")
    except KeyboardInterrupt:
        print(f"spot-fleet: interrupted; removing the test hosts and everything on them (logs in {scratch})", file=sys.stderr)
        sys.exit(130)
    finally:
        if moto is not None and moto.poll() is None:
            try:
                moto.stdin.close()   # the server stops moto when its input closes
                moto.wait(timeout=15)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                moto.kill()
        hosts("down", name, check=False)
        CPU.remove()


if __name__ == "__main__":
    main()
