#!/usr/bin/env python3
"""Two `echo --reuse-port` processes on one TCP port; clients send requests
straight to that port (raw SCGI, one connection each) while one of the two
is stopped gracefully (SIGTERM). Prints a JSON line with what the clients
saw: requests answered, requests lost (connection reset or closed without an
answer) and the error types.

Run by test_scaleout.py, as root inside a private network namespace
(`unshare -n`), where it brings up the loopback interface and sets
net.ipv4.tcp_migrate_req to --migrate without touching the host's network:

    unshare -n python3 reuseport_scenario.py --echo ECHO --migrate 0|1

(or `unshare -rn` without root, where user namespaces are allowed). With
--migrate host it runs in the current namespace and leaves the sysctl as it
is."""

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Echo, Sandbox, scgi_call, split_cgi_response, stream_pattern  # noqa: E402

SYSCTL = "/proc/sys/net/ipv4/tcp_migrate_req"


def one_round(box, index, clients, before, after):
    port = harness.free_port()
    a = Echo(box, ("tcp", port), name="echo-a%d" % index, extra=["--reuse-port"])
    b = Echo(box, ("tcp", port), name="echo-b%d" % index, extra=["--reuse-port"])
    counts = collections.Counter()
    lock = threading.Lock()
    stop = threading.Event()
    expected = stream_pattern(100)

    def client():
        while not stop.is_set():
            try:
                raw = scgi_call(("127.0.0.1", port), uri="/app/stream?n=100", timeout=10)
                status, _, body = split_cgi_response(raw)
                outcome = "answered" if status == 200 and body == expected else "wrong answer"
            except (ConnectionError, AssertionError) as e:
                outcome = "lost: " + type(e).__name__
            except OSError as e:
                outcome = "lost: " + (type(e).__name__ if type(e) is not OSError else "errno %s" % e.errno)
            with lock:
                counts[outcome] += 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(before)
    a_status = a.stop(signal.SIGTERM, timeout=15)
    time.sleep(after)
    stop.set()
    for t in threads:
        t.join(15)
    b_status = b.stop(signal.SIGTERM, timeout=15)
    return {
        "answered": counts["answered"],
        "lost": sum(v for k, v in counts.items() if k != "answered"),
        "outcomes": dict(counts),
        "stopped_exit_status": a_status,
        "other_exit_status": b_status,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--echo", required=True)
    parser.add_argument("--migrate", choices=("0", "1", "host"), required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--before", type=float, default=0.6, help="seconds of load before the SIGTERM")
    parser.add_argument("--after", type=float, default=0.4, help="seconds of load after it")
    args = parser.parse_args()
    harness.ECHO = os.path.abspath(args.echo)
    if args.migrate != "host":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        with open(SYSCTL, "w") as f:
            f.write(args.migrate)
    with open(SYSCTL) as f:
        migrate = f.read().strip()
    box = Sandbox("reuseport")
    try:
        rounds = [one_round(box, i, args.clients, args.before, args.after) for i in range(args.rounds)]
    finally:
        harness.stop_all()
        box.close()
    print(json.dumps({"tcp_migrate_req": migrate, "rounds": rounds}))


if __name__ == "__main__":
    main()
