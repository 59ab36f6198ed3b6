#!/usr/bin/env python3
"""The delay relay of scripts/testhosts.py: copies every Ethernet frame between two interfaces of
the switch namespace, holding each for a fixed time, in order, in both directions.

    testhosts_relay.py A B DELAY_MS

Frames are neither reordered, dropped (except when a send buffer is full: counted and printed
on exit) nor changed. Prints "ready" once both interfaces are bound.
"""
import collections, os, select, signal, socket, sys, time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def main():
    if len(sys.argv) != 4:
        print("usage: testhosts_relay.py A B DELAY_MS", file=sys.stderr)
        return 2
    a, b, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    try:
        os.nice(-10)  # a frame held too long is a delay the host did not ask for
    except OSError:
        pass
    delay = delay_ms / 1000.0
    sockets = {}
    for name in (a, b):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, ETH_P_ALL))
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        sockets[name] = s
    other = {a: sockets[b], b: sockets[a]}
    queues = {a: collections.deque(), b: collections.deque()}  # frames read from the key, to send to the other
    counts = {"relayed": 0, "send_full": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    print("ready", flush=True)
    # select() rather than epoll: its timeout has microseconds, epoll's milliseconds, and a
    # 0.25 ms delay must not become 1 ms.
    fds = {sockets[name].fileno(): name for name in (a, b)}
    while not stop:
        now = time.monotonic()
        for name, queue in queues.items():
            out = other[name]
            while queue and queue[0][0] <= now:
                _, frame = queue.popleft()
                try:
                    out.send(frame)
                    counts["relayed"] += 1
                except (BlockingIOError, OSError):
                    counts["send_full"] += 1
        due = [q[0][0] for q in queues.values() if q]
        timeout = max(0.0, min(due) - time.monotonic()) if due else 0.5
        try:
            ready, _, _ = select.select(list(fds), [], [], timeout)
        except InterruptedError:
            continue
        arrived = time.monotonic()
        for fd in ready:
            name = fds[fd]
            s = sockets[name]
            while True:
                try:
                    frame, address = s.recvfrom(65536)
                except BlockingIOError:
                    break
                except OSError as error:  # the interface went away: the hosts are being removed
                    print(f"relay: {name}: {error}", flush=True)
                    return 0
                if address[2] == PACKET_OUTGOING:
                    continue  # our own sends, seen again on the way out
                queues[name].append((arrived + delay, frame))
    print(f"relay: {counts['relayed']} frames relayed, {counts['send_full']} dropped on full send buffers", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
