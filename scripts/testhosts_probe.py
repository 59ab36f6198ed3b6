#!/usr/bin/env python3
"""Probes for scripts/testhosts.py's self-test, run inside a test host.

    testhosts_probe.py serve PORT            TCP echo/sink and UDP counter on PORT, until killed
    testhosts_probe.py reach HOST PORT       exit 0 if a TCP connection opens within 1 s, else 1
    testhosts_probe.py rtt HOST PORT         median round trip of 1-byte TCP echoes, in ms
    testhosts_probe.py rate HOST PORT MIB    Mbit/s of sending MIB MiB over TCP
    testhosts_probe.py udp HOST PORT N       sends N datagrams; prints how many the server counted
"""
import socket, sys, threading, time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(port):
    udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    udp.bind(("::", port))
    counts = {}

    def count():
        while True:
            data, address = udp.recvfrom(2048)
            if data.startswith(b"count?"):
                udp.sendto(str(counts.get(data[6:], 0)).encode(), address)
            else:
                counts[data[:8]] = counts.get(data[:8], 0) + 1

    threading.Thread(target=count, daemon=True).start()
    tcp = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("::", port))
    tcp.listen(16)

    def handle(connection):
        with connection:
            while True:
                data = connection.recv(1 << 20)
                if not data:
                    connection.sendall(b"done")
                    return
                if len(data) == 1:
                    connection.sendall(data)

    while True:
        connection, _ = tcp.accept()
        threading.Thread(target=handle, args=(connection,), daemon=True).start()


def connect(host, port, timeout=1.0):
    s = socket.socket(family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "serve":
        serve(int(args[0]))
    host, port = args[0], int(args[1])
    if verb == "reach":
        try:
            connect(host, port).close()
            return 0
        except OSError:
            return 1
    if verb == "rtt":
        s = connect(host, port, timeout=5)
        times = []
        for _ in range(21):
            start = time.perf_counter()
            s.sendall(b"x")
            s.recv(1)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(f"{times[len(times) // 2]:.3f}")
        return 0
    if verb == "rate":
        s = connect(host, port, timeout=30)
        buffer = b"\0" * (1 << 20)
        start = time.perf_counter()
        for _ in range(int(args[2])):
            s.sendall(buffer)
        s.shutdown(socket.SHUT_WR)
        s.recv(4)
        print(f"{int(args[2]) * 8 * 1.048576 / (time.perf_counter() - start):.1f}")
        return 0
    if verb == "udp":
        u = socket.socket(family(host), socket.SOCK_DGRAM)
        tag = f"{time.perf_counter_ns() % 10**8:08d}".encode()
        for _ in range(int(args[2])):
            u.sendto(tag + b"\0" * 56, (host, port))
            time.sleep(0.0002)
        time.sleep(0.3)
        u.settimeout(1)
        for _ in range(10):  # the question or its answer may be lost too
            u.sendto(b"count?" + tag, (host, port))
            try:
                print(u.recv(64).decode())
                return 0
            except socket.timeout:
                continue
        return 1
    print(f"unknown probe {verb}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
