#!/usr/bin/env python3
"""A local S3-compatible server for tests: moto's server on 127.0.0.1.

Starts `moto.server` on a free loopback port (with --host ADDR, on a free port of ADDR instead: an
address of a test host, for a server run inside that host's namespace by scripts/spot-fleet.py), creates an IAM user allowed s3:* and an access key
for it, prints one JSON line

    {"endpoint": "http://127.0.0.1:PORT", "access_key_id": "...", "secret_access_key": "...", "pid": N}

and serves until its standard input closes or it receives SIGTERM, then stops moto.

With --auth, moto checks every request's Signature V4 against that key, so a client that signs
wrongly is refused as S3 would refuse it. moto's check rebuilds the request from a decoded URL and
refuses correctly signed requests whose key or query holds characters that must be encoded
(`+`, `=`, `&`, non-ASCII, a `/` in a listing's prefix) — boto3's requests too — so tests that
use such keys or list under a prefix run without --auth.
Exit status 3 (and a message on stderr) when moto is not installed: pip install 'moto[server]'.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

try:
    import boto3  # noqa: F401  (moto depends on it)
    import moto.server  # noqa: F401
except ImportError as error:
    print(f"moto[server] is not installed ({error}); pip install 'moto[server]'", file=sys.stderr)
    sys.exit(3)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def main() -> None:
    args = sys.argv[1:]
    host = args[args.index("--host") + 1] if "--host" in args[:-1] else "127.0.0.1"
    port = free_port(host)
    env = dict(os.environ)
    if "--auth" in sys.argv[1:]:
        # The first three requests (user, key, policy) go without authentication; every later one is checked.
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def stop(*_):
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    endpoint = f"http://{host}:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=2)
            break
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                print(f"moto server did not start on {endpoint}", file=sys.stderr)
                stop()
            time.sleep(0.1)
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam.create_user(UserName="grove-test")
    key = iam.create_access_key(UserName="grove-test")["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_user_policy(UserName="grove-test", PolicyName="s3", PolicyDocument=json.dumps(policy))
    print(json.dumps({"endpoint": endpoint, "access_key_id": key["AccessKeyId"],
                      "secret_access_key": key["SecretAccessKey"], "pid": server.pid}), flush=True)
    sys.stdin.read()
    stop()


if __name__ == "__main__":
    main()
