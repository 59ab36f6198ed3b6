#!/usr/bin/env python3
"""Test hosts on this machine: network namespaces with their own addresses, joined by a switch
that lives in a namespace of its own, with per-host impairments and partitions.

    testhosts.py up --name NAME --hosts N       create NAME-h1..NAME-hN and the switch NAME-sw
    testhosts.py down --name NAME               remove everything NAME made (also after a failure)
    testhosts.py impair --name NAME HOST [--rate R] [--loss PCT] [--delay MS]
    testhosts.py partition --name NAME A B      A and B stop hearing each other (both ways)
    testhosts.py isolate --name NAME A          A stops hearing every other host
    testhosts.py heal --name NAME [A [B]]       undo partitions of A and B, of A, or all
    testhosts.py exec --name NAME HOST -- CMD   run CMD inside HOST
    testhosts.py show --name NAME               hosts, addresses and impairments, as JSON
    testhosts.py check                          exit 0 if this machine can make test hosts, else
                                                exit 2 saying why
    testhosts.py selftest --name NAME           makes 3 hosts, measures that every impairment does
                                                what it says, removes them; prints the figures

Host i (1-based) has 10.77.0.(10+i)/24 and fd77::(10+i)/64 on `eth0` and its own loopback; no
host has a route anywhere else, and nothing here touches the machine's own network namespace
except to create the namespaces. Every address is one of these hosts'.

What it can make, and how:
  - rate limits, per host and direction: a `tbf` qdisc on the host's eth0 (its sending) and on
    the switch's port towards it (its receiving);
  - loss, per host: nftables `numgen random mod 100000 < N drop` on the host's input and output,
    so a host with 1 % loss loses about 1 % of what it sends and 1 % of what it receives;
  - partitions and isolation: nftables drop rules in both hosts, by peer address (loopback is
    never touched, so a host always reaches itself);
  - latency, per host and direction: this kernel has no `netem` qdisc and no NFQUEUE, so a host
    with a delay is wired through a userspace relay in the switch namespace (testhosts_relay.py)
    that holds every Ethernet frame in each direction for the delay before passing it on. Frames
    are relayed in order; the relay copies frames through Python, so a delayed host is limited to
    what the relay can move (docs/multi-host.md gives the measured figure).
What it cannot make: jitter, reordering, duplication or corruption of packets (the relay keeps
order and content), or delay on a host without the relay.

State lives in /run/grove-testhosts/NAME.json while the hosts exist. `down` removes the
namespaces by name (their interfaces, qdiscs and rules go with them), stops relays by pid and
removes the state file; it succeeds when there is nothing left to remove.
"""
import argparse, json, os, shutil, signal, subprocess, sys, time

STATE_DIR = "/run/grove-testhosts"
SUBNET4 = "10.77.0"
SUBNET6 = "fd77::"
RELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testhosts_relay.py")


class HarnessError(Exception):
    pass


def run(*args, check=True, quiet=False, input=None):
    result = subprocess.run(list(args), capture_output=True, text=True, input=input)
    if check and result.returncode != 0:
        raise HarnessError(f"`{' '.join(args)}` failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    return result


def in_ns(ns, *args, check=True, input=None):
    return run("ip", "netns", "exec", ns, *args, check=check, input=input)


def require_namespaces():
    """Refuses, saying why, where this machine cannot make the hosts."""
    if os.geteuid() != 0:
        raise HarnessError("test hosts need root (network namespaces, nftables, qdiscs); run as root")
    for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("tc", "iproute2"), ("ethtool", "ethtool")):
        if shutil.which(tool) is None:
            raise HarnessError(f"test hosts need `{tool}` (Debian package {package})")
    probe = f"grove-probe-{os.getpid()}"
    made = run("ip", "netns", "add", probe, check=False)
    if made.returncode != 0:
        raise HarnessError(f"this machine cannot create network namespaces: {made.stderr.strip()}")
    try:
        table = in_ns(probe, "nft", "add", "table", "inet", "probe", check=False)
        if table.returncode != 0:
            raise HarnessError(f"nftables does not work in a namespace here: {table.stderr.strip()}")
    finally:
        run("ip", "netns", "del", probe, check=False)


def state_path(name):
    return os.path.join(STATE_DIR, f"{name}.json")


def load(name):
    try:
        with open(state_path(name)) as f:
            return json.load(f)
    except FileNotFoundError:
        raise HarnessError(f"no test hosts named '{name}' (run `testhosts.py up --name {name}` first)")


def save(state):
    os.makedirs(STATE_DIR, exist_ok=True)
    tmp = state_path(state["name"]) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, state_path(state["name"]))


def host_ns(name, index):
    return f"{name}-h{index}"


def switch_ns(name):
    return f"{name}-sw"


def host_index(state, host):
    """'h2', '2' or the namespace name of host 2 -> 2."""
    text = host[len(state["name"]) + 1:] if host.startswith(state["name"] + "-") else host
    text = text[1:] if text.startswith("h") else text
    if not text.isdigit() or not 1 <= int(text) <= state["hosts"]:
        raise HarnessError(f"no host '{host}' among {state['name']}'s hosts h1..h{state['hosts']}")
    return int(text)


def address4(index):
    return f"{SUBNET4}.{10 + index}"


def address6(index):
    return f"{SUBNET6}{10 + index:x}"


def no_offloads(ns, device):
    # Frames that pass the relay must be real Ethernet frames with their checksums filled in, not
    # 64 KiB offload aggregates whose checksum the receiving device was to compute.
    in_ns(ns, "ethtool", "-K", device, "tx", "off", "tso", "off", "gso", "off", "gro", "off", check=False)


def up(args, quiet=False):
    require_namespaces()
    name = args.name
    if not 1 <= args.hosts <= 200:
        raise HarnessError(f"--hosts {args.hosts}: between 1 and 200 hosts")
    if os.path.exists(state_path(name)):
        raise HarnessError(f"test hosts '{name}' exist already (`testhosts.py down --name {name}` removes them)")
    state = {"name": name, "hosts": args.hosts, "impairments": {}, "partitions": [], "isolated": [], "relays": {}}
    save(state)
    try:
        sw = switch_ns(name)
        run("ip", "netns", "add", sw)
        in_ns(sw, "ip", "link", "set", "lo", "up")
        in_ns(sw, "ip", "link", "add", "br0", "type", "bridge")
        in_ns(sw, "ip", "link", "set", "br0", "up")
        for i in range(1, args.hosts + 1):
            ns = host_ns(name, i)
            run("ip", "netns", "add", ns)
            in_ns(ns, "ip", "link", "set", "lo", "up")
            # Both ends are created inside the switch namespace, then one moves into the host.
            in_ns(sw, "ip", "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0")
            in_ns(sw, "ip", "link", "set", "eth0", "netns", ns)
            in_ns(sw, "ip", "link", "set", f"p{i}", "master", "br0")
            in_ns(sw, "ip", "link", "set", f"p{i}", "up")
            in_ns(ns, "ip", "addr", "add", f"{address4(i)}/24", "dev", "eth0")
            in_ns(ns, "ip", "-6", "addr", "add", f"{address6(i)}/64", "dev", "eth0", "nodad")
            in_ns(ns, "ip", "link", "set", "eth0", "up")
            render_rules(state, i)
    except BaseException:
        teardown(name, quiet=True)
        raise
    if not quiet:
        print(json.dumps(describe(state), indent=2))


def teardown(name, quiet=False):
    state = None
    try:
        with open(state_path(name)) as f:
            state = json.load(f)
    except (FileNotFoundError, json.JSONDecodeError):
        pass
    if state:
        for pid in state.get("relays", {}).values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    # By name: every namespace this name made, whether or not the state file knew of it.
    listed = run("ip", "netns", "list", check=False).stdout.split("\n")
    mine = [line.split()[0] for line in listed if line.split() and (line.split()[0] == switch_ns(name)
            or (line.split()[0].startswith(f"{name}-h") and line.split()[0][len(name) + 2:].isdigit()))]
    for ns in mine:
        # Processes still inside (a test's coordinator or worker) are killed first, by pid.
        pids = run("ip", "netns", "pids", ns, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run("ip", "netns", "del", ns, check=False)
    for leftover in [state_path(name)] + [os.path.join(STATE_DIR, n) for n in (os.listdir(STATE_DIR) if os.path.isdir(STATE_DIR) else [])
                                          if n.startswith(f"{name}-relay-h") and n.endswith(".log")]:
        try:
            os.remove(leftover)
        except FileNotFoundError:
            pass
    if not quiet:
        print(f"removed {len(mine)} namespaces of '{name}'")


def down(args):
    teardown(args.name)


def render_rules(state, index):
    """Rewrites host `index`'s nftables table from the state: its loss, partitions, isolation."""
    ns = host_ns(state["name"], index)
    me = f"h{index}"
    loss = state["impairments"].get(me, {}).get("loss", 0.0)
    peers = set()
    for a, b in state["partitions"]:
        if a == me:
            peers.add(b)
        if b == me:
            peers.add(a)
    isolated = me in state["isolated"]
    for other in state["isolated"]:
        if other != me:
            peers.add(other)
    lines = ["table inet grove", "delete table inet grove", "table inet grove {"]
    for chain, hook, direction in (("input", "input", "saddr"), ("output", "output", "daddr")):
        lines.append(f"  chain {chain} {{ type filter hook {hook} priority 0; policy accept;")
        lines.append(f"    {'iif' if chain == 'input' else 'oif'} lo accept")
        if isolated:
            lines.append("    drop")
        for peer in sorted(peers):
            j = host_index(state, peer)
            lines.append(f"    ip {direction} {address4(j)} drop")
            lines.append(f"    ip6 {direction} {address6(j)} drop")
        if loss > 0:
            lines.append(f"    numgen random mod 100000 < {int(round(loss * 1000))} drop")
        lines.append("  }")
    lines.append("}")
    in_ns(ns, "nft", "-f", "-", input="\n".join(lines) + "\n")


def parse_rate(text):
    units = {"kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "bit": 1}
    lower = text.strip().lower()
    for unit in ("kbit", "mbit", "gbit", "bit"):
        if lower.endswith(unit):
            number = lower[: -len(unit)]
            try:
                value = float(number) * units[unit]
            except ValueError:
                break
            if value > 0:
                return value
    raise HarnessError(f"--rate '{text}': a positive number with a unit: 100mbit, 1gbit, 500kbit")


def apply_rate(ns, device, bits):
    in_ns(ns, "tc", "qdisc", "del", "dev", device, "root", check=False)
    if bits is None:
        return
    # A burst of at least 1 ms at the rate (and never below a few full frames) keeps tbf accurate;
    # a 50 ms queue behaves like a switch port's buffer.
    burst = max(int(bits / 8 / 1000), 16 * 1514)
    in_ns(ns, "tc", "qdisc", "add", "dev", device, "root", "tbf", "rate", f"{int(bits)}bit", "burst", str(burst), "latency", "50ms")


def impair(args, quiet=False):
    state = load(args.name)
    i = host_index(state, args.host)
    me = f"h{i}"
    current = state["impairments"].get(me, {})
    if args.clear:
        current = {}
    if args.rate is not None:
        current["rate"] = None if args.rate == "none" else parse_rate(args.rate)
    if args.loss is not None:
        if not 0 <= args.loss <= 100:
            raise HarnessError(f"--loss {args.loss}: a percentage between 0 and 100")
        current["loss"] = args.loss
    if args.delay is not None:
        if not 0 <= args.delay <= 10000:
            raise HarnessError(f"--delay {args.delay}: milliseconds between 0 and 10000")
        current["delay_ms"] = args.delay
    state["impairments"][me] = current
    sw, ns = switch_ns(state["name"]), host_ns(state["name"], i)
    if current.get("loss", 0) > 0 or current.get("delay_ms", 0) > 0:
        # Loss rules and the relay must see real frames, not 64 KiB offload aggregates: without
        # segmentation offloads on the host's link, TCP sends (and the switch delivers) frames.
        no_offloads(ns, "eth0")
        no_offloads(sw, f"p{i}")
    # The relay moves first: the rate on the switch side must sit on whichever port faces the host.
    set_relay(state, i, current.get("delay_ms", 0))
    rate = current.get("rate")
    apply_rate(ns, "eth0", rate)
    apply_rate(sw, f"p{i}", None if me in state["relays"] else rate)
    if me in state["relays"]:
        apply_rate(sw, f"d{i}", rate)
    render_rules(state, i)
    save(state)
    if not quiet:
        print(json.dumps(describe(state)["hosts"][me]))


def set_relay(state, i, delay_ms):
    """Wires host i through the relay (delay > 0) or straight into the bridge (delay 0)."""
    me, sw = f"h{i}", switch_ns(state["name"])
    pid = state["relays"].pop(me, None)
    if pid:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        in_ns(sw, "ip", "link", "del", f"r{i}", check=False)  # takes its peer d{i} with it
        in_ns(sw, "ip", "link", "set", f"p{i}", "master", "br0")
    if delay_ms <= 0:
        return
    # p{i} (towards the host) leaves the bridge; a new pair r{i}/d{i} joins it. The relay copies
    # frames p{i} <-> r{i}, each held for the delay, and d{i} is the bridge's port for the host.
    in_ns(sw, "ip", "link", "set", f"p{i}", "nomaster")
    in_ns(sw, "ip", "link", "add", f"r{i}", "type", "veth", "peer", "name", f"d{i}")
    in_ns(sw, "ip", "link", "set", f"d{i}", "master", "br0")
    for device in (f"p{i}", f"r{i}", f"d{i}"):
        in_ns(sw, "ip", "link", "set", device, "up")
        no_offloads(sw, device)  # the bridge segments what it forwards into d{i}
    log = open(os.path.join(STATE_DIR, f"{state['name']}-relay-h{i}.log"), "w")
    relay = subprocess.Popen(["ip", "netns", "exec", sw, sys.executable, RELAY, f"p{i}", f"r{i}", str(delay_ms)],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    # The relay says "ready" once both sockets are bound; a relay that dies says why.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open(log.name) as f:
            text = f.read()
        if "ready" in text:
            break
        if relay.poll() is not None:
            raise HarnessError(f"the delay relay for {me} exited: {text.strip()}")
        time.sleep(0.05)
    else:
        relay.kill()
        raise HarnessError(f"the delay relay for {me} did not start within 10 s")
    state["relays"][me] = relay.pid


def partition(args):
    state = load(args.name)
    a, b = f"h{host_index(state, args.a)}", f"h{host_index(state, args.b)}"
    if a == b:
        raise HarnessError(f"cannot partition {a} from itself")
    pair = sorted([a, b])
    if pair not in state["partitions"]:
        state["partitions"].append(pair)
    for h in pair:
        render_rules(state, host_index(state, h))
    save(state)


def isolate(args):
    state = load(args.name)
    a = f"h{host_index(state, args.a)}"
    if a not in state["isolated"]:
        state["isolated"].append(a)
    for j in range(1, state["hosts"] + 1):
        render_rules(state, j)
    save(state)


def heal(args):
    state = load(args.name)
    a = f"h{host_index(state, args.a)}" if args.a else None
    b = f"h{host_index(state, args.b)}" if args.b else None
    if a is None:
        state["partitions"], state["isolated"] = [], []
    elif b is None:
        state["partitions"] = [p for p in state["partitions"] if a not in p]
        state["isolated"] = [h for h in state["isolated"] if h != a]
    else:
        state["partitions"] = [p for p in state["partitions"] if p != sorted([a, b])]
    for j in range(1, state["hosts"] + 1):
        render_rules(state, j)
    save(state)


def describe(state):
    hosts = {}
    for i in range(1, state["hosts"] + 1):
        me = f"h{i}"
        hosts[me] = {"namespace": host_ns(state["name"], i), "ipv4": address4(i), "ipv6": address6(i),
                     "impairments": state["impairments"].get(me, {}),
                     "partitioned_from": sorted({x for p in state["partitions"] if me in p for x in p} - {me}),
                     "isolated": me in state["isolated"]}
    return {"name": state["name"], "switch": switch_ns(state["name"]), "hosts": hosts}


def show(args):
    print(json.dumps(describe(load(args.name)), indent=2))


def execute(args):
    state = load(args.name)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise HarnessError("exec: nothing to run (testhosts.py exec --name N h1 -- CMD ...)")
    os.execvp("ip", ["ip", "netns", "exec", host_ns(state["name"], host_index(state, args.host))] + command)


PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testhosts_probe.py")


def selftest(args):
    """Makes three hosts and checks each impairment against a measurement; exit 2 on a miss."""
    name = args.name
    up(argparse.Namespace(name=name, hosts=3), quiet=True)
    servers = []
    figures, misses = {}, []
    try:
        state = load(name)
        for i in (2, 3):
            servers.append(subprocess.Popen(["ip", "netns", "exec", host_ns(name, i), sys.executable, PROBE, "serve", "9000"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)

        def probe(verb, target, *extra, source=1):
            result = in_ns(host_ns(name, source), sys.executable, PROBE, verb, target, "9000", *map(str, extra), check=False)
            return result.returncode, result.stdout.strip()

        def expect(label, ok, detail):
            figures[label] = detail
            if not ok:
                misses.append(f"{label}: {detail}")

        expect("h1 reaches h2", probe("reach", address4(2))[0] == 0, "connected")
        expect("h1 reaches h3 over IPv6", probe("reach", address6(3))[0] == 0, "connected")
        # Nothing outside the hosts: the machine's own loopback is not a host's loopback.
        expect("h1's loopback is its own", probe("reach", "127.0.0.1")[0] != 0, "no listener on h1's 127.0.0.1:9000")
        partition(argparse.Namespace(name=name, a="h1", b="h2"))
        expect("partition h1 h2 cuts h1-h2", probe("reach", address4(2))[0] != 0 and probe("reach", address6(2))[0] != 0, "no connection")
        expect("partition h1 h2 leaves h1-h3", probe("reach", address4(3))[0] == 0, "connected")
        heal(argparse.Namespace(name=name, a="h1", b="h2"))
        expect("heal h1 h2", probe("reach", address4(2))[0] == 0, "connected")
        isolate(argparse.Namespace(name=name, a="h3"))
        expect("isolate h3", probe("reach", address4(3))[0] != 0 and probe("reach", address4(3), source=2)[0] != 0, "no connection from h1 or h2")
        expect("isolate h3 leaves h1-h2", probe("reach", address4(2))[0] == 0, "connected")
        heal(argparse.Namespace(name=name, a=None, b=None))
        base_rtt = float(probe("rtt", address4(2))[1])
        figures["round trip h1-h2, no impairment (ms)"] = base_rtt
        for rate_mbit in (100, 10):
            impair(argparse.Namespace(name=name, host="h2", rate=f"{rate_mbit}mbit", loss=None, delay=None, clear=True), quiet=True)
            measured = float(probe("rate", address4(2), 4 if rate_mbit == 10 else 24)[1])
            expect(f"rate {rate_mbit} Mbit/s on h2 (measured Mbit/s)", 0.8 * rate_mbit <= measured <= 1.05 * rate_mbit, measured)
        for delay in (5.0, 0.25):
            impair(argparse.Namespace(name=name, host="h2", rate=None, loss=None, delay=delay, clear=True), quiet=True)
            rtt = float(probe("rtt", address4(2))[1])
            # Each way through the relay once: twice the delay, plus what the relay costs (on a busy
            # machine, its scheduling too).
            expect(f"delay {delay} ms on h2 (round trip ms)", 2 * delay <= rtt <= 2 * delay + max(5.0, 2 * delay), rtt)
        figures["relay throughput h1->h2 with 0.25 ms (Mbit/s)"] = float(probe("rate", address4(2), 32)[1])
        impair(argparse.Namespace(name=name, host="h2", rate=None, loss=10.0, delay=None, clear=True), quiet=True)
        code, received = probe("udp", address4(2), 4000)
        delivered = int(received) / 4000 if code == 0 and received.isdigit() else 0
        expect("loss 10 % on h2 (datagrams delivered)", 0.86 <= delivered <= 0.94, round(delivered, 4))
    finally:
        for server in servers:
            server.kill()
            server.wait()
        teardown(name, quiet=True)
    left = [line for line in run("ip", "netns", "list", check=False).stdout.split("\n") if line.startswith(name + "-")]
    expect("down removes every namespace", not left, left or "none left")
    print(json.dumps(figures, indent=2))
    if misses:
        raise HarnessError("self-test failed: " + "; ".join(misses))


def check(_args):
    require_namespaces()
    print("test hosts can be made here")


def main():
    if sys.argv[1:2] == ["check"]:
        try:
            check(None)
        except HarnessError as error:
            print(f"testhosts: {error}", file=sys.stderr)
            return 2
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="verb", required=True)

    def verb(name, handler):
        p = sub.add_parser(name)
        p.add_argument("--name", required=True, help="prefix of every namespace made")
        p.set_defaults(handler=handler)
        return p

    p = verb("up", up); p.add_argument("--hosts", type=int, required=True)
    verb("down", down)
    p = verb("impair", impair); p.add_argument("host")
    p.add_argument("--rate", help="e.g. 100mbit, 1gbit; 'none' removes the limit")
    p.add_argument("--loss", type=float, help="percent of packets dropped in each direction")
    p.add_argument("--delay", type=float, help="one-way milliseconds added in each direction")
    p.add_argument("--clear", action="store_true", help="remove this host's impairments first")
    p = verb("partition", partition); p.add_argument("a"); p.add_argument("b")
    p = verb("isolate", isolate); p.add_argument("a")
    p = verb("heal", heal); p.add_argument("a", nargs="?"); p.add_argument("b", nargs="?")
    p = verb("exec", execute); p.add_argument("host"); p.add_argument("command", nargs=argparse.REMAINDER)
    verb("show", show)
    verb("selftest", selftest)
    args = parser.parse_args()
    if "-" in args.name and args.name.rsplit("-", 1)[1] in ("sw",) or not args.name.replace("-", "").replace("_", "").isalnum() or len(args.name) > 20:
        print(f"testhosts: --name '{args.name}': letters, digits, '-' and '_', at most 20 characters", file=sys.stderr)
        return 2
    try:
        args.handler(args)
    except HarnessError as error:
        print(f"testhosts: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
