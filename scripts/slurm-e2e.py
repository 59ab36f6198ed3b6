#!/usr/bin/env python3
"""A Grove run under a real Slurm on this machine: a lost node, a drain on Slurm's warning, a requeue.

Starts munged, slurmctld and two slurmd daemons (node1 and node2, both this host, each on its own
port), with every file — key, slurm.conf, state, spools, logs, pids — under one temporary
directory. Then:

  1. an uninterrupted reference run (coordinator run, two local workers) gives the weights;
  2. deploy/slurm/grove.sbatch is submitted on both nodes (`coordinator slurm`: the coordinator
     in the batch step, one `srun --no-kill` worker step per node);
  3. mid-run, node2 is set DOWN: Slurm ends the worker step on it, the job goes on on node1;
  4. SIGTERM reaches the batch shell alone, as `--signal=B:TERM@N` sends it before a time limit
     (`scancel --batch --signal=TERM`): the coordinator drains, checkpoints and requeues the job;
  5. Slurm starts the job again (SLURM_RESTART_COUNT=1); it resumes from the newest verified
     checkpoint and finishes.

Checks: the job survived the lost node and completed with exit code 0 after one restart; every
step 1..N is in metrics.jsonl exactly once; the run resumed from a checkpoint; the final weights
equal the reference run's (reduce.mode exact: who computed what cannot change the bits). Prints
'N passed, N failed' and exits non-zero on a failure. Every daemon is stopped by its pid at the
end, also on failure. Where Slurm cannot start (not root, packages missing and not installable, a
daemon that will not come up) it says why and skips (exit 0).

Usage: scripts/slurm-e2e.py [--build-dir .build/release] [--steps N] [--keep]
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chaos import committed_steps, settings as chaos_settings  # noqa: E402

NODES = ["node1", "node2"]
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"}


def settings(steps):
    """The chaos campaign's small run (a checkpoint every 5 steps, 0.5 s heartbeats), with the small
    CanopyNet: its steps are long enough (~0.1 s on two idle cores) for the faults to land mid-run."""
    return chaos_settings(steps) + ["--set", "model.name=canopy-net", "--set", "training.global_batch=16"]


class Skip(Exception):
    """Slurm cannot run here; the reason is printed and the test skipped."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, predicate, timeout, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


class LocalSlurm:
    """munged, slurmctld and one slurmd per node, in the foreground of processes this object owns."""

    def __init__(self, root):
        self.root = root
        self.daemons = []  # (name, Popen), stopped in reverse order
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def start(self):
        for tool in ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "srun"]:
            if shutil.which(tool) is None:
                raise Skip(f"{tool} is not installed (scripts/install-slurm.sh installs Debian's slurm-wlm and munge)")
        # munged refuses a socket directory that not everyone may traverse, and a key others can read.
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        os.chmod(os.path.dirname(self.root), 0o755)
        for d in ["munge", "munge-run", "state", "log", "spool"] + [f"spool/{n}" for n in NODES]:
            os.makedirs(self.path(d), exist_ok=True)
        os.chmod(self.path("munge"), 0o700)
        with open(self.path("munge", "munge.key"), "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(self.path("munge", "munge.key"), 0o400)
        socket_path = self.path("munge-run", "munge.socket")
        self.spawn("munged", ["munged", "--foreground", "--key-file", self.path("munge", "munge.key"), "--socket", socket_path,
                              "--pid-file", self.path("munge-run", "munged.pid"), "--log-file", self.path("log", "munged.log"),
                              "--seed-file", self.path("munge", "munged.seed")])
        self.wait_alive("munged", lambda: os.path.exists(socket_path), "log/munged.log")
        ports = {"ctld": free_port(), **{n: free_port() for n in NODES}}
        with open(self.path("slurm.conf"), "w") as f:
            f.write(self.conf(socket_path, ports))
        self.spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", self.path("slurm.conf")])
        self.wait_alive("slurmctld", lambda: self.run(["scontrol", "ping"], check=False).returncode == 0, "log/slurmctld.log")
        for node in NODES:
            self.spawn(f"slurmd {node}", ["slurmd", "-D", "-N", node, "-f", self.path("slurm.conf")])
        self.wait_alive("both slurmd", lambda: self.idle_nodes() == set(NODES), "log/slurmd-node1.log", timeout=30)

    def conf(self, munge_socket, ports):
        # cred_expire also bounds how long a requeued job waits before it may start again (120 s
        # by default); sched_interval is how often pending jobs are looked at (60 s by default).
        lines = [
            "ClusterName=grovetest", "SlurmctldHost=localhost", f"SlurmctldPort={ports['ctld']}",
            "AuthType=auth/munge", "CredType=cred/munge", f"AuthInfo=socket={munge_socket},cred_expire=10",
            "SlurmUser=root", "SlurmdUser=root",
            f"StateSaveLocation={self.path('state')}", f"SlurmdSpoolDir={self.path('spool', '%n')}",
            f"SlurmctldPidFile={self.path('slurmctld.pid')}", f"SlurmdPidFile={self.path('slurmd-%n.pid')}",
            f"SlurmctldLogFile={self.path('log', 'slurmctld.log')}", f"SlurmdLogFile={self.path('log', 'slurmd-%n.log')}",
            "ProctrackType=proctrack/pgid", "TaskPlugin=task/none", "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
            "SchedulerType=sched/builtin", "SchedulerParameters=sched_interval=2",
            "JobCompType=jobcomp/none", "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none", "MpiDefault=none",
            # A node set DOWN comes back by itself once its slurmd answers: the requeued job may
            # get both nodes again.
            "ReturnToService=2", "KillWait=20", "MinJobAge=600", "SlurmctldDebug=info", "SlurmdDebug=info",
        ]
        for node in NODES:
            lines.append(f"NodeName={node} NodeHostname=localhost NodeAddr=127.0.0.1 Port={ports[node]} CPUs=2 State=UNKNOWN")
        lines.append(f"PartitionName=grove Nodes={','.join(NODES)} Default=YES MaxTime=INFINITE State=UP")
        return "\n".join(lines) + "\n"

    def spawn(self, name, argv):
        log = open(self.path("log", name.replace(" ", "-") + ".out"), "w")
        self.daemons.append((name, subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                    env=self.env, start_new_session=True)))

    def wait_alive(self, what, ready, log, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            dead = [(n, p.returncode) for n, p in self.daemons if p.poll() is not None]
            if dead:
                raise Skip(f"{dead[0][0]} exited with {dead[0][1]}: {self.tail(log)}{self.tail('log/' + dead[0][0].replace(' ', '-') + '.out')}")
            if ready():
                return
            time.sleep(0.2)
        raise Skip(f"{what} did not come up within {timeout} s: {self.tail(log)}")

    def tail(self, name, lines=8):
        try:
            with open(self.path(name)) as f:
                return "\n  " + "\n  ".join(f.read().splitlines()[-lines:])
        except OSError:
            return ""

    def run(self, argv, check=True, **kwargs):
        result = subprocess.run(argv, capture_output=True, text=True, env=kwargs.pop("env", self.env), timeout=30, **kwargs)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stdout}{result.stderr}")
        return result

    def idle_nodes(self):
        out = self.run(["sinfo", "-h", "-N", "-o", "%N %t"], check=False).stdout
        return {n for n, s in (line.split() for line in out.splitlines() if line.strip()) if s == "idle"}

    def job(self, job_id):
        out = self.run(["scontrol", "show", "job", "--oneliner", job_id]).stdout
        return dict(re.findall(r"(\w+)=(\S*)", out))

    def stop(self):
        """Cancels every job, then stops each daemon by its pid: SIGTERM, SIGKILL after 10 s."""
        if any(n == "slurmctld" and p.poll() is None for n, p in self.daemons):
            self.run(["scancel", "--full", "--user", "root"], check=False)
            try:
                wait_until("the jobs to end", lambda: not self.run(["squeue", "-h"], check=False).stdout.strip(), 30)
            except RuntimeError as error:
                print(f"slurm: {error}", file=sys.stderr)
        for name, proc in reversed(self.daemons):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        # A job step's slurmstepd outlives its slurmd; ours hold a socket under our spool.
        for pid in self.stepds():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stepds(self):
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if not f.read().startswith(b"slurmstepd"):
                        continue
                if any(os.readlink(f"/proc/{entry}/fd/{fd}").startswith(self.root) for fd in os.listdir(f"/proc/{entry}/fd")):
                    found.append(int(entry))
            except OSError:
                continue
        return found


def check(results, name, ok, detail=""):
    results.append((name, bool(ok)))
    print(f"  {'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}", flush=True)


def scenario(slurm, args, scratch, reference, results):
    repo = os.getcwd()
    build = os.path.abspath(args.build_dir)
    run_dir = os.path.join(scratch, "run")
    out = os.path.join(scratch, "job.out")
    # The chaos campaign's tiny run, with a checkpoint every 5 steps; loopback only.
    run_settings = settings(args.steps) + ["--set", "coordinator.bind=127.0.0.1", "--set", "workers.bind=127.0.0.1",
                                           "--set", "fault_tolerance.drain_timeout=10"]
    submitted = slurm.run(["sbatch", "--parsable", "--nodes=2", "--time=10", "--output", out,
                           os.path.join(repo, "deploy", "slurm", "grove.sbatch"), "--run-dir", run_dir] + run_settings,
                          env=dict(slurm.env, GROVE_BIN=build), cwd=repo)
    job_id = submitted.stdout.strip().split(";")[0]
    started = time.time()
    print(f"  submitted job {job_id}", flush=True)

    def log():
        try:
            with open(out) as f:
                return f.read()
        except OSError:
            return ""

    def at_step(step):
        try:
            return max(committed_steps(run_dir), default=0) >= step
        except (OSError, ValueError, KeyError):
            return False

    def state():
        return slurm.job(job_id).get("JobState")

    def running():
        return state() == "RUNNING"

    def ended():
        return state() in FINAL

    try:
        wait_until("the job to start", lambda: state() != "PENDING", 60)
        wait_until("the run's step 8", lambda: at_step(8) or ended(), 90)
        check(results, "both worker steps trained", two_workers(run_dir), log()[-2000:])

        # 3. A lost node: Slurm ends the step on node2; the job must go on without it.
        lost_at = max(committed_steps(run_dir))
        slurm.run(["scontrol", "update", "NodeName=node2", "State=DOWN", "Reason=grove-test-lost-node"])
        wait_until("a step committed by the worker on node1 alone",
                   lambda: one_worker_after(run_dir, lost_at) or ended(), 60)
        check(results, "the job survived the lost node", running(), slurm.job(job_id).get("JobState", "?"))
        check(results, "training went on with one worker", one_worker_after(run_dir, lost_at), log()[-2000:])

        # 4. The time limit's warning, as --signal=B:TERM@N delivers it: to the batch shell alone.
        warned_at = max(committed_steps(run_dir))
        slurm.run(["scancel", "--batch", "--signal=TERM", job_id])
        wait_until("the job to be requeued", lambda: slurm.job(job_id).get("Restarts") == "1", 60)
        # Slurm counts the restart when scontrol requeue is called; the coordinator logs it after.
        try:
            wait_until("the coordinator's requeue line", lambda: f"requeued job {job_id}" in log(), 20)
        except RuntimeError:
            pass  # the check below says what is missing
        first = log()
        check(results, "the warning drained the coordinator with a checkpoint", "SIGTERM received" in first, first[-2000:])
        check(results, "the coordinator requeued its job", f"requeued job {job_id}" in first, first[-2000:])
        print(f"  requeued {time.time() - started:.0f} s after submission, at step {warned_at}+", flush=True)

        # 5. Slurm starts it again; it resumes and finishes.
        final = wait_until("the requeued job to end", lambda: state() if ended() else None, 180, interval=1)
        job = slurm.job(job_id)
        print(f"  job {job_id} {final} {time.time() - started:.0f} s after submission", flush=True)
        text = log()
        check(results, "the job completed with exit code 0 after one restart",
              final == "COMPLETED" and job.get("ExitCode") == "0:0" and job.get("Restarts") == "1",
              f"{final}, ExitCode {job.get('ExitCode')}, Restarts {job.get('Restarts')}\n{text[-3000:]}")
        check(results, "the restart continued from the newest verified checkpoint",
              "restart 1" in text and "resuming from checkpoint" in text, text[-3000:])
        steps = committed_steps(run_dir)
        check(results, "every step committed exactly once", sorted(steps) == list(range(1, args.steps + 1)),
              f"{len(steps)} lines, {len(set(steps))} distinct of {args.steps}")
        with open(os.path.join(run_dir, "summary.json")) as f:
            summary = json.load(f)
        check(results, "the restart resumed from a checkpoint", (summary.get("resumed_from_step") or 0) > 0,
              f"resumed_from_step {summary.get('resumed_from_step')}")
        check(results, "the final weights equal the uninterrupted run's", summary["weights_sha256"] == reference,
              f"{summary['weights_sha256']} != {reference}")
        check(results, "each node's worker logged to the run directory",
              all(os.path.exists(os.path.join(run_dir, "logs", f"worker-{n}.log")) for n in NODES))
    except Exception:
        print(f"--- job output ({out}) ---\n{log()[-4000:]}", file=sys.stderr)
        raise


def two_workers(run_dir):
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            return any(json.loads(line).get("workers") == 2 for line in f if line.strip())
    except (OSError, ValueError):
        return False


def one_worker_after(run_dir, step):
    try:
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            return any(m["step"] > step and m.get("workers") == 1 for m in map(json.loads, filter(str.strip, f)))
    except (OSError, ValueError):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=".build/release")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, state)")
    args = parser.parse_args()
    if args.steps < 40:
        sys.exit(f"--steps: {args.steps} leaves no room for the faults (at least 40)")
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    coordinator = os.path.join(args.build_dir, "coordinator")
    if not os.access(coordinator, os.X_OK):
        sys.exit(f"--build-dir: no coordinator at {coordinator} (run scripts/build.sh first)")
    if os.geteuid() != 0:
        print("slurm: skipped: the daemons run as root here (slurmd starts jobs as their user); run as root")
        return
    started = time.time()
    scratch = tempfile.mkdtemp(prefix="grove-slurm-")
    results = []
    ref_dir = os.path.join(scratch, "reference")
    ref = subprocess.run([coordinator, "run", "--config", "cluster.yaml", "--run-dir", ref_dir, "--set", "workers.local=2"]
                         + settings(args.steps), capture_output=True, text=True)
    if ref.returncode != 0:
        sys.exit(f"the reference run failed:\n{ref.stdout}{ref.stderr}")
    with open(os.path.join(ref_dir, "summary.json")) as f:
        reference = json.load(f)["weights_sha256"]
    print(f"slurm: reference run of {args.steps} steps in {time.time() - started:.0f} s", flush=True)
    slurm = LocalSlurm(os.path.join(scratch, "slurm"))
    # A CI that runs out of time sends SIGTERM: stop the daemons on the way out (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failed = None
    try:
        slurm.start()
        print(f"slurm: munged, slurmctld and slurmd on {', '.join(NODES)} up ({time.time() - started:.0f} s since the start)", flush=True)
        scenario(slurm, args, scratch, reference, results)
    except Skip as reason:
        print(f"slurm: skipped: Slurm cannot start here: {reason}")
        return
    except Exception as error:
        failed = error
    finally:
        slurm.stop()
        left = [n for n, p in slurm.daemons if p.poll() is None]
        if left:
            print(f"slurm: still running after stop: {left}", file=sys.stderr)
    if failed is not None:
        results.append(("the scenario ran to its end", False))
        print(f"  FAIL {failed}\n  logs: {scratch}", file=sys.stderr)
    passed = sum(ok for _, ok in results)
    print(f"slurm: {time.time() - started:.0f} s")
    print(f"{passed} passed, {len(results) - passed} failed")
    if passed == len(results) and not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    elif args.keep or passed != len(results):
        print(f"slurm: logs and state kept in {scratch}")
    sys.exit(0 if passed == len(results) else 1)


if __name__ == "__main__":
    main()
