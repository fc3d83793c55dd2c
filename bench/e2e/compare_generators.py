#!/usr/bin/env python3
"""scgi-bench against the load generator it replaced.

Until scgi-bench existed, scripts/bench-e2e drove the servers with
bench/e2e/load_generator.cpp (`scgi-load`, single-threaded epoll). scgi-bench
must never be the bottleneck: on the same machine it must drive at least as
many requests/s as scgi-load against the same server. This script measures
both, interleaved, and prints the medians.

The old generator is rebuilt from git history (the version before the commit
that removed bench/e2e/load_generator.cpp; --old-rev picks another commit),
with the compiler flags of a Release build (it needs only CLI11). Both send byte for byte the same request, scgi-load's
13-byte POST to /echo (scgi-bench is told to drop its nginx-like default
variables with -e), and both check each response (scgi-bench: --check-echo).

For every server (`echo` and bench/e2e's `scgi-baseline-server`), transport
(a Unix socket, TCP on 127.0.0.1) and connection count, each repetition runs
both generators, each against a freshly started server, their order
alternating. Printed per cell: the median requests/s of each, the median of
the per-repetition ratios new/old with their range, and each generator's own
CPU time per request (user + sys from wait4, divided by every response of
its run).

    python3 bench/e2e/compare_generators.py                 # build-bench/, 5 x 3 s
    python3 bench/e2e/compare_generators.py --reps 3 --duration 2 --connections 1 64
    python3 bench/e2e/compare_generators.py --pin --connections 16 64   # steadier figures

Needs a Release build with the tools, the examples and the benchmarks
(scripts/bench-e2e makes one in build-bench/) and a git checkout. Every
server it starts is stopped on exit (tests/integration/harness.py's process
machinery); every wait is bounded.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402  (processes that are always stopped, bounded waits)

OLD_SOURCE = "bench/e2e/load_generator.cpp"
# scgi-load's request: CONTENT_LENGTH, SCGI, REQUEST_METHOD POST, REQUEST_URI,
# CONTENT_TYPE application/octet-stream, and 13 body bytes.
SAME_REQUEST = ["--body-size", "13", "--check-echo", "-e", "CONTENT_TYPE=application/octet-stream"] + [
    arg for name in ("QUERY_STRING", "DOCUMENT_URI", "DOCUMENT_ROOT", "SERVER_PROTOCOL", "REQUEST_SCHEME",
                     "REMOTE_ADDR", "REMOTE_PORT", "SERVER_PORT", "SERVER_NAME", "HTTP_HOST", "HTTP_CONTENT_LENGTH",
                     "HTTP_CONTENT_TYPE") for arg in ("-e", name)]


def build_old(rev, out_dir):
    """Compiles scgi-load from `rev` (default: the last commit that has it)."""
    if rev is None:
        last = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%H", "--", OLD_SOURCE],
                              stdout=subprocess.PIPE, check=True, text=True).stdout.strip()
        if not last:
            sys.exit("compare_generators: %s is in no commit of this checkout" % OLD_SOURCE)
        exists = subprocess.run(["git", "-C", ROOT, "cat-file", "-e", "%s:%s" % (last, OLD_SOURCE)],
                                stderr=subprocess.DEVNULL).returncode == 0
        rev = last if exists else last + "^"  # the last change deleted it: take the version before
    source = os.path.join(out_dir, "load_generator.cpp")
    with open(source, "wb") as f:
        f.write(subprocess.run(["git", "-C", ROOT, "show", "%s:%s" % (rev, OLD_SOURCE)], stdout=subprocess.PIPE,
                               check=True).stdout)
    binary = os.path.join(out_dir, "scgi-load")
    compiler = os.environ.get("CXX", "c++")
    subprocess.run([compiler, "-std=c++20", "-O3", "-DNDEBUG", source, "-o", binary], check=True)
    short = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", rev], stdout=subprocess.PIPE, check=True,
                           text=True).stdout.strip()
    return binary, short


def start_server(binary, transport, sandbox, name, pin):
    """A fresh server (on CPU 0 if `pin`); returns (process, the endpoint it printed)."""
    where = "unix:" + sandbox.path(name + ".sock") if transport == "unix" else "127.0.0.1:0"
    out = sandbox.path(name + ".out")
    prefix = ["taskset", "-c", "0"] if pin else []
    process = harness.Process(prefix + [binary, where], name, sandbox.path(name + ".log"), stdout_path=out)
    line = harness.wait_for(lambda: re.search(r"^Listening on (\S+)$", harness.read_text(out), re.M)
                            or (not process.alive() and "exited"), 10, what=name + " to listen")
    if line == "exited":
        raise RuntimeError("%s exited: %s" % (name, process.log()))
    return process, line.group(1)


def run_generator(argv, timeout):
    """Runs a generator; returns (stdout, its user+sys CPU seconds)."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise
    # communicate() reaped it; its rusage is in the children's total.
    if p.returncode not in (0, 1):
        raise RuntimeError("%s failed (%d): %s" % (argv[0], p.returncode, err.decode()[-500:]))
    return out.decode(), err.decode()


def children_cpu():
    r = os.times()
    return r.children_user + r.children_system


def measure(kind, binary, endpoint, conns, args):
    """One run; returns (requests/s of the measured window, responses of the
    whole run, CPU seconds, errors)."""
    timeout = args.duration + args.warmup + 60
    prefix = ["taskset", "-c", "1"] if args.pin else []
    before = children_cpu()
    if kind == "old":
        out, _ = run_generator(prefix + [binary, "--endpoint", endpoint, "--connections", str(conns), "--duration",
                                str(args.duration), "--warmup", str(args.warmup)], timeout)
        cpu = children_cpu() - before
        fields = dict(item.split("=", 1) for item in out.split())
        return float(fields["rps"]), int(fields["answered"]), cpu, int(fields["errors"])
    out, _ = run_generator(prefix + [binary, "--json", "-c", str(conns), "-d", str(args.duration), "--warmup",
                            str(args.warmup), *SAME_REQUEST, endpoint, "/echo"], timeout)
    cpu = children_cpu() - before
    r = json.loads(out)
    return r["requests_per_second"], r["total"]["requests"], cpu, r["total"]["errors"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                        help="Release build with tools, examples and benchmarks (default build-bench)")
    parser.add_argument("--old-rev", help="the commit to build scgi-load from (default: its last one)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measured window")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--transports", nargs="+", default=["unix", "tcp"], choices=["unix", "tcp"])
    parser.add_argument("--servers", nargs="+", default=["echo", "baseline"], choices=["echo", "baseline"])
    parser.add_argument("--pin", action="store_true",
                        help="server on CPU 0, generator on CPU 1 (taskset): steadier at 16 and 64 connections")
    args = parser.parse_args()

    build = os.path.abspath(args.build)
    servers = {"echo": os.path.join(build, "examples", "echo"),
               "baseline": os.path.join(build, "bench", "e2e", "scgi-baseline-server")}
    new = os.path.join(build, "tools", "scgi-bench", "scgi-bench")
    for path in [new] + [servers[s] for s in args.servers]:
        if not os.access(path, os.X_OK):
            sys.exit("compare_generators: %s is missing: build it (scripts/bench-e2e builds %s)" % (path, build))

    scratch = tempfile.mkdtemp(prefix="scgi-generators-")
    sandbox = harness.Sandbox("generators")
    try:
        old, old_rev = build_old(args.old_rev, scratch)
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                              text=True).stdout.strip()
        print("date: %s; nproc %d; load %s; scgi-bench at %s, scgi-load from %s; %d x %.1f s (+ %.1f s warm-up)%s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(),
            " ".join(open("/proc/loadavg").read().split()[:3]), head, old_rev, args.reps, args.duration,
            args.warmup, "; pinned: server CPU 0, generator CPU 1" if args.pin else ""), flush=True)
        cells = [(s, t, c) for s in args.servers for t in args.transports for c in args.connections]
        runs = {cell: {"old": [], "new": []} for cell in cells}
        n = 0
        for rep in range(args.reps):
            for cell in cells:
                server, transport, conns = cell
                for kind in (("old", "new") if rep % 2 == 0 else ("new", "old")):
                    n += 1
                    process, endpoint = start_server(servers[server], transport, sandbox, "%s-%d" % (server, n),
                                                     args.pin)
                    try:
                        rps, answered, cpu, errors = measure(kind, old if kind == "old" else new, endpoint, conns,
                                                             args)
                    finally:
                        process.stop()
                    runs[cell][kind].append((rps, cpu * 1e6 / max(answered, 1), errors))
                    print("rep %d %-8s %-4s c=%-3d %s: %8.0f req/s  %5.2f us CPU/req  %d errors" % (
                        rep + 1, server, transport, conns, kind, rps, cpu * 1e6 / max(answered, 1), errors),
                        flush=True)
        print()
        print("| server | transport | conns | scgi-load req/s | scgi-bench req/s | ratio (range) "
              "| scgi-load CPU us/req | scgi-bench CPU us/req | errors |")
        print("|---|---|--:|--:|--:|---|--:|--:|--:|")
        for cell in cells:
            old_runs, new_runs = runs[cell]["old"], runs[cell]["new"]
            ratios = [b[0] / a[0] for a, b in zip(old_runs, new_runs) if a[0] > 0]
            print("| %s | %s | %d | %.0f | %.0f | %.2fx (%.2f-%.2f) | %.2f | %.2f | %d |" % (
                *cell, statistics.median(r[0] for r in old_runs), statistics.median(r[0] for r in new_runs),
                statistics.median(ratios), min(ratios), max(ratios), statistics.median(r[1] for r in old_runs),
                statistics.median(r[1] for r in new_runs), sum(r[2] for r in old_runs + new_runs)))
        print("\nload at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    finally:
        harness.stop_all()
        sandbox.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
