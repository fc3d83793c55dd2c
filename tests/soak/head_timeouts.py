#!/usr/bin/env python3
"""How long a client that never completes its request head stays connected.

Starts the `echo` example (default: build/clang/examples/echo, else
build/release/examples/echo; or --echo PATH) with its default options, once
on 127.0.0.1:0 and once on a Unix socket in a fresh temporary directory, and
opens on each, at the same time:
  silent      connects and sends nothing
  half-len    sends "10" (half of a netstring length prefix)
  half-head   sends the first half of a valid head
Each measures the wall time from connect until the server's FIN or RST
arrives (recv returns 0 or fails), and what it got before that. Every wait
is bounded (--limit, default 60 s); the echo process is always stopped.
Python 3 standard library only. Prints a table (and --json for a machine).

    tests/soak/head_timeouts.py [--echo PATH] [--repeat N] [--limit S] [--json]
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HEAD = b"CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00REQUEST_URI\x00/echo\x00"
REQUEST = str(len(HEAD)).encode() + b":" + HEAD + b","
CASES = {
    "silent": b"",
    "half-len": b"10",
    "half-head": REQUEST[: len(REQUEST) // 2],
}


def find_echo(explicit):
    if explicit:
        return explicit
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for build in ("clang", "release", "Release"):
        path = os.path.join(root, "build", build, "examples", "echo")
        if os.access(path, os.X_OK):
            return path
    sys.exit("no echo binary found: build the scgi_example_echo target or pass --echo PATH")


def start_echo(echo, endpoint, limit):
    proc = subprocess.Popen([echo, endpoint], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + limit
    line = ""
    # The first stdout line says where it listens; bounded by a timer that
    # kills the process if it never comes.
    killer = threading.Timer(max(0.0, deadline - time.monotonic()), proc.kill)
    killer.start()
    try:
        line = proc.stdout.readline()
    finally:
        killer.cancel()
    if not line.startswith("Listening on "):
        proc.kill()
        proc.wait()
        sys.exit(f"echo did not start on {endpoint}: {line!r} {proc.stderr.read()!r}")
    return proc, line[len("Listening on "):].strip()


def connect(where):
    if where.startswith("unix:") or where.startswith("/"):
        path = where[len("unix:"):] if where.startswith("unix:") else where
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
    else:
        host, port = where.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect((host, int(port)))
    return s


def measure(where, first_bytes, limit):
    """Seconds from connect to the server's close, how it closed, what came."""
    s = connect(where)
    started = time.monotonic()
    try:
        if first_bytes:
            s.sendall(first_bytes)
        received = b""
        s.settimeout(limit)
        how = "FIN"
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                how = f"still open after {limit:.0f} s"
                break
            except ConnectionResetError:
                how = "RST"
                break
            if not chunk:
                break
            received += chunk
        return time.monotonic() - started, how, received
    finally:
        s.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--echo", help="the echo binary")
    parser.add_argument("--repeat", type=int, default=2, help="measurements per case (in parallel)")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds before giving up on a close")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    echo = find_echo(args.echo)

    tmp = tempfile.mkdtemp(prefix="scgi-head-timeouts.")
    procs = []
    results = []  # (transport, case, seconds, how, answer)
    try:
        targets = []
        for transport, endpoint in (("tcp", "127.0.0.1:0"), ("unix", "unix:" + os.path.join(tmp, "echo.sock"))):
            proc, where = start_echo(echo, endpoint, 10.0)
            procs.append(proc)
            targets.append((transport, where))
        lock = threading.Lock()

        def one(transport, where, case, first):
            seconds, how, received = measure(where, first, args.limit)
            answer = received.split(b"\r\n", 1)[0].decode(errors="replace") if received else "(nothing)"
            with lock:
                results.append((transport, case, seconds, how, answer))

        threads = [
            threading.Thread(target=one, args=(transport, where, case, first))
            for transport, where in targets
            for case, first in CASES.items()
            for _ in range(args.repeat)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.limit + 10)
        # A normal request is still answered at the end.
        for transport, where in targets:
            s = connect(where)
            s.settimeout(10)
            s.sendall(REQUEST)
            reply = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            s.close()
            if not reply.startswith(b"Status: 200"):
                sys.exit(f"{transport}: a normal request afterwards got {reply[:40]!r}")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    results.sort()
    if args.json:
        print(json.dumps([dict(zip(("transport", "case", "seconds", "closed_by", "answer"), r)) for r in results]))
        return
    print(f"echo: {echo}  (default server_options; {args.repeat} connection(s) per case)")
    print(f"| transport | client | open for (s) | closed by | answer |")
    print(f"| --- | --- | --- | --- | --- |")
    grouped = {}
    for transport, case, seconds, how, answer in results:
        grouped.setdefault((transport, case), []).append((seconds, how, answer))
    order = list(CASES)
    for (transport, case), rows in sorted(grouped.items(), key=lambda kv: (kv[0][0], order.index(kv[0][1]))):
        low, high = min(r[0] for r in rows), max(r[0] for r in rows)
        times = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"
        hows = ", ".join(sorted({r[1] for r in rows}))
        answers = ", ".join(sorted({r[2] for r in rows}))
        print(f"| {transport} | {case} | {times} | {hows} | {answers} |")


if __name__ == "__main__":
    main()
