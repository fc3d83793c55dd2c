#!/usr/bin/env python3
"""The performance report: runs every measurement of bench/README.md's
"Performance report" in one go and draws its charts.

Run by bench/report/run (which builds what it needs first); by hand:

    python3 bench/report/report.py --build build-bench [--reps 3] [--duration 5] [--out bench/report]

Measured, each cell on a freshly started server, repetitions interleaved:

1. Direct, with scgi-bench: the `echo` example (1 thread, 2 threads, and 2
   processes sharing a TCP port with SO_REUSEPORT) and the minimal C-style
   baseline server (bench/e2e/baseline_server.cpp), over a Unix socket and
   TCP, 1/16/64 connections: requests/s, the servers' CPU time per request
   (user+system from /proc/PID/stat, summed over their processes), p50/p99.
2. Behind nginx (one worker, private instance), with wrk as the client:
   `echo` and the baseline on Unix sockets, and nginx's own `return 200` as
   the ceiling, so a reader sees whether the backend or the front end limits.
3. Large bodies, with scgi-bench: 64 MiB uploads to /echo and 64 MiB
   downloads from /stream, `echo` against the baseline: MB/s and CPU ms per MB.

Writes results.json, results.md (the tables bench/README.md shows) and
*.png (gnuplot, charts.gp) into --out. Only 127.0.0.1 and Unix sockets in a
temporary directory; every process it starts is stopped on exit."""

import argparse
import atexit
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MiB = 1 << 20

started = []  # every process started here, stopped at exit


def stop(process, timeout=10):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@atexit.register
def stop_all():
    for process in started:
        stop(process)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(process, what, timeout=10):
    """Reads the server's stdout until its "Listening on" line."""
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if b"Listening on" in line:
            return
        if not line and process.poll() is not None:
            break
    raise RuntimeError("%s did not start: %r" % (what, line))


def children(pid):
    """The PIDs whose parent is `pid` (nginx's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


class Servers:
    """One configuration under test: a command started once or twice (the
    SO_REUSEPORT case), listening on one endpoint."""

    def __init__(self, argv, endpoint, copies=1):
        self.endpoint = endpoint
        self.processes = []
        for _ in range(copies):
            p = subprocess.Popen(argv + [endpoint], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            started.append(p)
            wait_listening(p, " ".join(argv))
            self.processes.append(p)

    def pids(self):
        return [p.pid for p in self.processes]

    def cpu(self):
        return cpu_seconds(self.pids())

    def stop(self):
        for p in self.processes:
            stop(p)


class Report:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.echo = os.path.join(self.build, "examples", "echo")
        self.baseline = os.path.join(self.build, "bench", "e2e", "scgi-baseline-server")
        self.bench = os.path.join(self.build, "tools", "scgi-bench", "scgi-bench")
        needed = [] if args.redraw else [self.echo, self.baseline] + (
            [self.bench] if set(args.only) & {"direct", "large"} else [])
        for path in needed:
            if not os.access(path, os.X_OK):
                sys.exit("report: %s is missing: build it first (bench/report/run does)" % path)
        self.tmp = tempfile.mkdtemp(prefix="scgi-report.")
        atexit.register(shutil.rmtree, self.tmp, True)
        self.results = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "nproc": os.cpu_count(), "load_before": os.getloadavg()[0]}

    # --- servers -------------------------------------------------------------

    def endpoint(self, transport, name):
        if transport == "unix":
            return "unix:" + os.path.join(self.tmp, name + ".sock")
        return "127.0.0.1:%d" % free_port()

    def start(self, server, transport):
        """`server`: echo, echo-2-threads, echo-2-processes, baseline."""
        if server == "baseline":
            return Servers([self.baseline], self.endpoint(transport, server))
        if server == "echo":
            return Servers([self.echo], self.endpoint(transport, server))
        if server == "echo-2-threads":
            return Servers([self.echo, "--threads", "2"], self.endpoint(transport, server))
        if server == "echo-2-processes":
            return Servers([self.echo, "--reuse-port"], self.endpoint(transport, server), copies=2)
        raise ValueError(server)

    # --- the load ----------------------------------------------------------------

    def scgi_bench(self, endpoint, uri, extra):
        argv = [self.bench, "--json", endpoint, uri] + extra
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if p.returncode not in (0, 1):
            raise RuntimeError("scgi-bench failed (%d): %s" % (p.returncode, p.stderr.decode()[-500:]))
        return json.loads(p.stdout)

    def measure(self, servers, uri, extra, warmup=True):
        """One scgi-bench run against fresh servers: its JSON plus the servers'
        CPU seconds over the run (a warm-up run first, not counted)."""
        if warmup and self.args.warmup > 0:
            # The same load for --warmup seconds: extra without its -d/-n.
            same_load = [a for i, a in enumerate(extra) if a not in ("-d", "-n") and extra[i - 1] not in ("-d", "-n")]
            self.scgi_bench(servers.endpoint, uri, same_load + ["-d", str(self.args.warmup)])
        before = servers.cpu()
        out = self.scgi_bench(servers.endpoint, uri, extra)
        out["server_cpu_seconds"] = servers.cpu() - before
        return out

    # --- 1. direct -----------------------------------------------------------------

    def direct(self):
        cells = []
        for transport in ("unix", "tcp"):
            for server in ("baseline", "echo", "echo-2-threads", "echo-2-processes"):
                if server == "echo-2-processes" and transport == "unix":
                    continue  # SO_REUSEPORT is TCP only
                for conns in self.args.connections:
                    cells.append((transport, server, conns))
        runs = {cell: [] for cell in cells}
        for rep in range(self.args.reps):
            order = cells if rep % 2 == 0 else list(reversed(cells))
            for cell in order:
                transport, server, conns = cell
                servers = self.start(server, transport)
                try:
                    out = self.measure(servers, "/echo", ["-c", str(conns), "-d", str(self.args.duration),
                                                          "--body-size", "13"])
                finally:
                    servers.stop()
                # The server's CPU time over the whole scgi-bench run, divided
                # by every request it answered in that time (the final drain
                # included), as scripts/bench-e2e does.
                requests = max(out["total"]["requests"], 1)
                runs[cell].append({
                    "rps": out["requests_per_second"],
                    "cpu_us": out["server_cpu_seconds"] * 1e6 / requests,
                    "p50_us": out["latency_us"]["p50"],
                    "p99_us": out["latency_us"]["p99"],
                    "errors": out["errors"],
                })
                print("direct %-4s %-16s c=%-3d rep %d: %8.0f req/s  %6.2f us CPU/req  p50 %7.1f us  errors %d" % (
                    transport, server, conns, rep + 1, runs[cell][-1]["rps"], runs[cell][-1]["cpu_us"],
                    runs[cell][-1]["p50_us"], out["errors"]), flush=True)
        self.results["direct"] = [
            dict(transport=t, server=s, connections=c,
                 **{k: statistics.median(r[k] for r in runs[(t, s, c)]) for k in ("rps", "cpu_us", "p50_us", "p99_us")},
                 errors=sum(r["errors"] for r in runs[(t, s, c)]))
            for (t, s, c) in cells]

    # --- 2. behind nginx -----------------------------------------------------------

    def nginx_conf(self, port, echo_sock, baseline_sock):
        prefix = os.path.join(self.tmp, "nginx")
        os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
        shutil.copy("/etc/nginx/scgi_params", os.path.join(prefix, "scgi_params"))
        conf = os.path.join(prefix, "nginx.conf")
        user = "user root root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write("""%sworker_processes 1;
daemon off;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    fastcgi_temp_path %s/fastcgi;
    uwsgi_temp_path %s/uwsgi;
    scgi_temp_path %s/scgi;
    server {
        listen 127.0.0.1:%d;
        location /echo/ { include scgi_params; scgi_pass unix:%s; }
        location /baseline/ { include scgi_params; scgi_pass unix:%s; }
        location = /ceiling { return 200 "ok\\n"; }
    }
}
""" % (user, prefix, prefix, prefix, prefix, prefix, prefix, prefix, port, echo_sock, baseline_sock))
        return prefix, conf

    def wrk(self, url, conns):
        p = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % max(1, round(self.args.duration)), "--latency", url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        text = p.stdout.decode()
        rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
        p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", text)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        requests = re.search(r"(\d+) requests in", text)
        if not rps or not requests:
            raise RuntimeError("wrk output not understood: %s %s" % (text, p.stderr.decode()))
        scale = {"us": 1, "ms": 1e3, "s": 1e6}
        return {
            "rps": float(rps.group(1)),
            "requests": int(requests.group(1)),
            "p50_us": float(p50.group(1)) * scale[p50.group(2)] if p50 else None,
            "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, errors.groups())) if errors else 0),
        }

    def behind_nginx(self):
        echo = self.start("echo", "unix")
        baseline = self.start("baseline", "unix")
        port = free_port()
        prefix, conf = self.nginx_conf(port, echo.endpoint[5:], baseline.endpoint[5:])
        nginx = subprocess.Popen(["nginx", "-p", prefix, "-c", conf, "-e", os.path.join(prefix, "logs/error.log")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(nginx)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or nginx.poll() is not None:
                        raise RuntimeError("nginx did not start: %s" % nginx.stderr.read().decode())
                    time.sleep(0.05)
            cells = [(target, conns) for target in ("ceiling", "echo", "baseline") for conns in (16, 64)]
            runs = {cell: [] for cell in cells}
            backends = {"echo": echo, "baseline": baseline}
            for rep in range(self.args.reps):
                for cell in (cells if rep % 2 == 0 else list(reversed(cells))):
                    target, conns = cell
                    url = "http://127.0.0.1:%d/%s" % (port, "ceiling" if target == "ceiling" else target + "/echo")
                    self.wrk(url, conns)  # warm-up, not counted (short: wrk's own duration)
                    backend = backends.get(target)
                    before = backend.cpu() if backend else 0
                    nginx_pids = [nginx.pid] + children(nginx.pid)
                    nginx_before = cpu_seconds(nginx_pids)
                    out = self.wrk(url, conns)
                    requests = max(out["requests"], 1)
                    out["backend_cpu_us"] = (backend.cpu() - before) * 1e6 / requests if backend else None
                    out["nginx_cpu_us"] = (cpu_seconds(nginx_pids) - nginx_before) * 1e6 / requests
                    runs[cell].append(out)
                    print("nginx  %-8s c=%-3d rep %d: %8.0f req/s  backend %s us CPU/req  nginx %.1f us CPU/req" % (
                        target, conns, rep + 1, out["rps"],
                        "%.2f" % out["backend_cpu_us"] if backend else "-", out["nginx_cpu_us"]), flush=True)
        finally:
            stop(nginx)
            echo.stop()
            baseline.stop()

        def med(values):
            values = [v for v in values if v is not None]
            return statistics.median(values) if values else None
        self.results["nginx"] = [
            dict(target=t, connections=c, rps=med(r["rps"] for r in runs[(t, c)]),
                 p50_us=med(r["p50_us"] for r in runs[(t, c)]),
                 backend_cpu_us=med(r["backend_cpu_us"] for r in runs[(t, c)]),
                 nginx_cpu_us=med(r["nginx_cpu_us"] for r in runs[(t, c)]),
                 errors=sum(r["errors"] for r in runs[(t, c)]))
            for (t, c) in cells]

    # --- 3. large bodies -------------------------------------------------------------

    def large_bodies(self):
        size = self.args.large_mib * MiB
        cells = [(direction, transport, server)
                 for direction in ("upload", "download") for transport in ("unix", "tcp")
                 for server in ("baseline", "echo")]
        runs = {cell: [] for cell in cells}
        for rep in range(self.args.reps):
            for cell in (cells if rep % 2 == 0 else list(reversed(cells))):
                direction, transport, server = cell
                servers = self.start(server, transport)
                try:
                    if direction == "upload":
                        uri, extra = "/echo", ["--body-size", str(size)]
                    else:
                        uri, extra = "/stream?n=%d" % size, []
                    out = self.measure(servers, uri, ["-c", "1", "-n", str(self.args.large_requests)] + extra,
                                       warmup=False)
                finally:
                    servers.stop()
                mb = out["requests"] * size / 1e6
                seconds = out["requests"] / out["requests_per_second"] if out["requests_per_second"] else 0
                runs[cell].append({"mb_per_s": mb / seconds if seconds else 0,
                                   "cpu_ms_per_mb": out["server_cpu_seconds"] * 1e3 / mb if mb else 0,
                                   "errors": out["errors"]})
                print("large  %-8s %-4s %-8s rep %d: %7.0f MB/s  %5.2f ms CPU/MB  errors %d" % (
                    direction, transport, server, rep + 1, runs[cell][-1]["mb_per_s"],
                    runs[cell][-1]["cpu_ms_per_mb"], out["errors"]), flush=True)
        self.results["large"] = [
            dict(direction=d, transport=t, server=s,
                 mb_per_s=statistics.median(r["mb_per_s"] for r in runs[(d, t, s)]),
                 cpu_ms_per_mb=statistics.median(r["cpu_ms_per_mb"] for r in runs[(d, t, s)]),
                 errors=sum(r["errors"] for r in runs[(d, t, s)]))
            for (d, t, s) in cells]

    # --- output ----------------------------------------------------------------------

    def write(self):
        out = self.args.out
        os.makedirs(out, exist_ok=True)
        self.results["load_after"] = os.getloadavg()[0]
        with open(os.path.join(out, "results.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        with open(os.path.join(out, "results.md"), "w") as f:
            f.write(self.markdown())
        if all(section in self.results for section in ("direct", "nginx", "large")):
            self.charts(out)
        else:
            print("report: charts are drawn from a full run only (not with --only)")

    def markdown(self):
        r = self.results
        lines = ["Measured %s on %d cores (load %.2f before, %.2f after); median of %d repetitions, "
                 "%s s each; `bench/report/run` reproduces it." % (
                     r["when"], r["nproc"], r["load_before"], r["load_after"], self.args.reps, self.args.duration), ""]
        if "direct" in r:
            lines += ["**Direct (scgi-bench, 13-byte POST to /echo, one request per connection)**", "",
                      "| transport | server | conns | req/s | CPU µs/req | ×baseline CPU | p50 µs | p99 µs | errors |",
                      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            base = {(c["transport"], c["connections"]): c["cpu_us"] for c in r["direct"] if c["server"] == "baseline"}
            for c in r["direct"]:
                ratio = c["cpu_us"] / base[(c["transport"], c["connections"])]
                lines.append("| %s | %s | %d | %.0f | %.2f | %.2f | %.1f | %.1f | %d |" % (
                    c["transport"], c["server"], c["connections"], c["rps"], c["cpu_us"], ratio,
                    c["p50_us"], c["p99_us"], c["errors"]))
            lines.append("")
        if "nginx" in r:
            lines += ["**Behind nginx (1 worker; wrk -t1, GET; backends on Unix sockets)**", "",
                      "| target | conns | req/s | p50 µs | backend CPU µs/req | nginx CPU µs/req | errors |",
                      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for c in r["nginx"]:
                lines.append("| %s | %d | %.0f | %s | %s | %.1f | %d |" % (
                    "nginx `return 200` (ceiling)" if c["target"] == "ceiling" else c["target"], c["connections"],
                    c["rps"], "%.0f" % c["p50_us"] if c["p50_us"] else "-",
                    "%.2f" % c["backend_cpu_us"] if c["backend_cpu_us"] is not None else "-",
                    c["nginx_cpu_us"], c["errors"]))
            lines.append("")
        if "large" in r:
            lines += ["**Large bodies (%d MiB, one at a time)**" % self.args.large_mib, "",
                      "| direction | transport | server | MB/s | CPU ms per MB | errors |",
                      "| --- | --- | --- | ---: | ---: | ---: |"]
            for c in r["large"]:
                lines.append("| %s | %s | %s | %.0f | %.3f | %d |" % (
                    c["direction"], c["transport"], c["server"], c["mb_per_s"], c["cpu_ms_per_mb"], c["errors"]))
            lines.append("")
        return "\n".join(lines)

    def charts(self, out):
        r = self.results
        data = os.path.join(self.tmp, "charts")
        os.makedirs(data, exist_ok=True)
        servers = ["baseline", "echo", "echo-2-threads", "echo-2-processes"]
        connections = sorted({c["connections"] for c in r.get("direct", [])})
        # One file per transport and figure: CPU per request and requests/s.
        for transport in ("unix", "tcp"):
            for prefix, field, form in (("direct", "cpu_us", "%.3f"), ("rps", "rps", "%.0f")):
                with open(os.path.join(data, "%s-%s.dat" % (prefix, transport)), "w") as f:
                    f.write("conns " + " ".join(servers) + "\n")
                    for conns in connections:
                        row = {c["server"]: c for c in r.get("direct", [])
                               if c["transport"] == transport and c["connections"] == conns}
                        f.write("%d %s\n" % (conns, " ".join(form % row[s][field] if s in row else "NaN"
                                                            for s in servers)))
        with open(os.path.join(data, "nginx.dat"), "w") as f:
            f.write("conns ceiling echo baseline\n")
            for conns in (16, 64):
                row = {c["target"]: c for c in r.get("nginx", []) if c["connections"] == conns}
                f.write("%d %s\n" % (conns, " ".join("%.0f" % row[t]["rps"] if t in row else "NaN"
                                                    for t in ("ceiling", "echo", "baseline"))))
        with open(os.path.join(data, "large.dat"), "w") as f:
            f.write("case baseline echo\n")
            for direction in ("upload", "download"):
                for transport in ("unix", "tcp"):
                    row = {c["server"]: c for c in r.get("large", [])
                           if c["direction"] == direction and c["transport"] == transport}
                    f.write("%s-%s %s\n" % (direction, transport, " ".join(
                        "%.3f" % row[s]["cpu_ms_per_mb"] if s in row else "NaN" for s in ("baseline", "echo"))))
        subprocess.run(["gnuplot", "-e", "data='%s'; out='%s'" % (data, os.path.abspath(out)),
                        os.path.join(HERE, "charts.gp")], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", required=True, help="a Release build dir with examples, bench and tools")
    parser.add_argument("--out", default=HERE, help="where results.* and the charts go (default: bench/report)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=1, help="seconds of load before each run, not counted")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--large-mib", type=int, default=64, help="body size of the large-body runs")
    parser.add_argument("--large-requests", type=int, default=8, help="requests per large-body run")
    parser.add_argument("--only", choices=("direct", "nginx", "large"), nargs="+",
                        default=["direct", "nginx", "large"])
    parser.add_argument("--redraw", action="store_true",
                        help="measure nothing: draw the charts again from --out's results.json")
    args = parser.parse_args()
    report = Report(args)
    if args.redraw:
        with open(os.path.join(args.out, "results.json")) as f:
            report.results = json.load(f)
        report.charts(args.out)
        print("report: charts drawn again in %s" % args.out)
        return
    if "direct" in args.only:
        report.direct()
    if "nginx" in args.only:
        report.behind_nginx()
    if "large" in args.only:
        report.large_bodies()
    report.write()
    print("report: %s/results.md and charts written" % args.out)


if __name__ == "__main__":
    main()
