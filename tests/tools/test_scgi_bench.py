"""scgi-bench as a process against real servers: the `echo` example and
scripted backends (harness.FakeBackend) that count what they answered or
misbehave one way each. Over TCP on 127.0.0.1 and Unix sockets in a sandbox;
every run of scgi-bench is bounded (-n and a timeout, and subprocess's own).

    test_scgi_bench.py --bench PATH --echo PATH [--budget S] [unittest args]
"""

import json
import os
import pty
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402  (the integration tests' process and socket machinery)

BENCH = os.environ.get("SCGI_BENCH", "")

# Every field the README promises in --json, with its type.
LOAD_FIELDS = {
    "mode": str, "endpoint": str, "uri": str, "connections": int, "threads": int, "request_count": int,
    "warmup_s": float, "request_bytes": int, "body_bytes": int, "check_echo": bool, "stopped_early": bool,
    "duration_s": float, "requests": int, "errors": int, "requests_per_second": float, "response_bytes": int,
    "response_bytes_per_second": float, "latency_us": dict, "status": dict, "errors_by_kind": dict,
    "error_causes": dict, "total": dict, "histogram_us": list,
}
ERROR_KINDS = ["connect", "timeout", "closed_early", "malformed", "wrong_length", "echo_mismatch"]


def bench(*args, timeout=60):
    """Runs scgi-bench; returns (exit status, stdout, stderr)."""
    p = subprocess.run([BENCH, *[str(a) for a in args]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def bench_json(*args, timeout=60):
    """Runs scgi-bench --json; returns (exit status, the parsed object)."""
    code, out, err = bench("--json", *args, timeout=timeout)
    try:
        return code, json.loads(out)
    except ValueError as e:
        raise AssertionError("not JSON (%s): %r; stderr: %s" % (e, out[:500], err)) from e


class ScriptedBackend(harness.FakeBackend):
    """Reads each request whole, then does `behaviour`:
    echo       the body back with its Content-Length (counted in `answered`)
    close      closes without a byte
    short      Content-Length 10, then 5 body bytes
    long       Content-Length 3, then 10 body bytes
    garbage    a head line without a colon
    badlength  Content-Length 1x
    reset      Content-Length 100, 10 body bytes, then a reset (RST)
    nobody     204 No Content with a Content-Length of 42 and no body
    silent     nothing, holding the connection until close()
    alter      the body back with its first byte changed"""

    def __init__(self, behaviour, unix_path=None):
        self.behaviour = behaviour
        self.answered = 0
        self.connections = 0
        self.last_request = None  # (header block, body) of the last request read
        self._held = []
        super().__init__(backlog=128, unix_path=unix_path)

    def _serve(self, conn):
        with self._lock:
            self.connections += 1
        conn.settimeout(10)
        try:
            request = harness.read_scgi_request(conn)
            if request is None:
                conn.close()
                return
            body = request[1]
            with self._lock:
                self.last_request = request
            if self.behaviour == "silent":
                with self._lock:
                    self._held.append(conn)
                return
            if self.behaviour == "echo":
                conn.sendall(b"Status: 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            elif self.behaviour == "short":
                conn.sendall(b"Status: 200 OK\r\nContent-Length: 10\r\n\r\n12345")
            elif self.behaviour == "long":
                conn.sendall(b"Status: 200 OK\r\nContent-Length: 3\r\n\r\n1234567890")
            elif self.behaviour == "garbage":
                conn.sendall(b"this is not a CGI response\r\n\r\n")
            elif self.behaviour == "badlength":
                conn.sendall(b"Status: 200 OK\r\nContent-Length: 1x\r\n\r\n1")
            elif self.behaviour == "nobody":
                conn.sendall(b"Status: 204 No Content\r\nContent-Length: 42\r\n\r\n")
            elif self.behaviour == "reset":
                conn.sendall(b"Status: 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                time.sleep(0.05)  # the bytes reach the client before the reset
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.behaviour == "alter":
                conn.sendall(b"Status: 200 OK\r\n\r\n" + bytes([body[0] ^ 1]) + body[1:])
            conn.close()
            if self.behaviour == "echo":
                with self._lock:
                    self.answered += 1
        except OSError:
            conn.close()

    def close(self):
        super().close()
        with self._lock:
            for c in self._held:
                c.close()


class BenchTest(unittest.TestCase):
    sockets = 0  # Unix socket files made so far: each backend gets a new one

    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox("bench")

    @classmethod
    def tearDownClass(cls):
        cls.sandbox.close()

    def backend(self, behaviour, transport="tcp"):
        BenchTest.sockets += 1
        path = self.sandbox.path("backend-%d.sock" % BenchTest.sockets) if transport == "unix" else None
        b = ScriptedBackend(behaviour, path)
        self.addCleanup(b.close)
        return b

    def echo(self, transport):
        # A name of its own per test and transport: Echo waits for "Listening
        # on" in a log named after it, which must not hold an earlier echo's.
        name = "echo-%s-%s" % (self.id().rsplit(".", 1)[-1], transport)
        where = ("unix", self.sandbox.path(name + ".sock")) if transport == "unix" else ("tcp", harness.free_port())
        e = harness.Echo(self.sandbox, where, name=name, group=None, mode=None)
        self.addCleanup(e.stop)
        return "unix:" + where[1] if transport == "unix" else "127.0.0.1:%d" % where[1]

    def assert_fields(self, result):
        for name, kind in LOAD_FIELDS.items():
            self.assertIn(name, result)
            # JSON writes a whole number of seconds as 1.000: still a float here.
            self.assertIsInstance(result[name], kind, name)
        for name in ("min", "mean", "p50", "p90", "p99", "p999", "max"):
            self.assertIsInstance(result["latency_us"][name], float, name)
        self.assertEqual(sorted(result["errors_by_kind"]), sorted(ERROR_KINDS))
        for name in ("requests", "errors", "abandoned", "response_bytes", "errors_by_kind"):
            self.assertIn(name, result["total"])


class CountsTest(BenchTest):
    def test_echo_counts_over_both_transports(self):
        for transport in ("tcp", "unix"):
            with self.subTest(transport=transport):
                endpoint = self.echo(transport)
                code, r = bench_json("-n", 300, "-c", 8, "--body-size", 1000, "--check-echo", endpoint, "/echo")
                self.assertEqual(code, 0, r)
                self.assert_fields(r)
                self.assertEqual((r["requests"], r["errors"]), (300, 0))
                self.assertEqual(r["status"], {"200": 300})
                self.assertEqual(r["total"]["requests"], 300)
                self.assertEqual(r["body_bytes"], 1000)
                lat = r["latency_us"]
                self.assertTrue(0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"],
                                lat)
                self.assertEqual(sum(band["count"] for band in r["histogram_us"]), 300)
                self.assertGreater(r["requests_per_second"], 0)

    def test_requests_match_what_the_server_answered(self):
        for transport in ("tcp", "unix"):
            with self.subTest(transport=transport):
                server = self.backend("echo", transport)
                code, r = bench_json("-n", 200, "-c", 6, "-t", 2, "--body-size", 50, "--check-echo",
                                     server.endpoint, "/x")
                self.assertEqual(code, 0, r)
                self.assertEqual((r["requests"], r["errors"]), (200, 0))
                harness.wait_for(lambda: server.answered == 200, 5, what="the server's count")
                self.assertEqual(server.connections, 200)  # one request per connection

    def test_request_options_shape_every_request(self):
        body_file = self.sandbox.write("body.bin", bytes(range(256)) * 40)
        server = self.backend("echo", "unix")
        code, r = bench_json("-n", 20, "-c", 2, "-X", "PUT", "-H", "X-Trace: on", "-e", "EXTRA=1",
                             "--data-binary", "@" + body_file, "--check-echo", server.endpoint, "/up?x=1")
        self.assertEqual((code, r["requests"], r["body_bytes"]), (0, 20, 10240), r)
        block, body = server.last_request
        variables = dict(zip(block.split(b"\0")[0::2], block.split(b"\0")[1::2]))
        self.assertEqual(variables[b"CONTENT_LENGTH"], b"10240")
        self.assertEqual(variables[b"REQUEST_METHOD"], b"PUT")
        self.assertEqual(variables[b"REQUEST_URI"], b"/up?x=1")
        self.assertEqual(variables[b"QUERY_STRING"], b"x=1")
        self.assertEqual(variables[b"HTTP_X_TRACE"], b"on")
        self.assertEqual(variables[b"EXTRA"], b"1")
        self.assertEqual(body, bytes(range(256)) * 40)

    def test_large_bodies_from_a_file_and_from_stdin_byte_for_byte(self):
        size = 64 << 20
        body_file = self.sandbox.write("large.bin", bytes(range(251)) * (size // 251) + bytes(size % 251))
        for transport in ("tcp", "unix"):
            endpoint = self.echo(transport)
            with self.subTest(transport=transport, source="file"):
                code, r = bench_json("-n", 3, "-c", 1, "--timeout", 60, "--data-binary", "@" + body_file,
                                     "--check-echo", endpoint, "/echo", timeout=120)
                self.assertEqual((code, r["requests"], r["errors"], r["body_bytes"]), (0, 3, 0, size), r)
            with self.subTest(transport=transport, source="stdin"):
                with open(body_file, "rb") as stdin:
                    p = subprocess.run([BENCH, "--json", "-n", "2", "-c", "1", "--timeout", "60", "--data-binary",
                                        "@-", "--check-echo", endpoint, "/echo"], stdin=stdin,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
                r = json.loads(p.stdout)
                self.assertEqual((p.returncode, r["requests"], r["errors"], r["body_bytes"]), (0, 2, 0, size),
                                 p.stderr)
                # Through a pipe too (stdin that is not a file is spooled first).
                with open(body_file, "rb") as source:
                    p = subprocess.Popen([BENCH, "--json", "-n", "2", "-c", "1", "--timeout", "60",
                                          "--data-binary", "@-", "--check-echo", endpoint, "/echo"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    try:
                        out, err = p.communicate(source.read(), timeout=120)
                    finally:
                        if p.poll() is None:
                            p.kill()
                            p.wait()
                r = json.loads(out)
                self.assertEqual((p.returncode, r["requests"], r["errors"], r["body_bytes"]), (0, 2, 0, size), err)

    def test_head_requests_and_bodiless_statuses_are_not_length_errors(self):
        endpoint = self.echo("unix")
        code, r = bench_json("-n", 20, "-c", 2, "-X", "HEAD", endpoint, "/stream?n=1000")
        self.assertEqual((code, r["requests"], r["errors"]), (0, 20, 0), r)
        code, r = bench_json("-n", 10, "-c", 2, self.backend("nobody").endpoint, "/")
        self.assertEqual((code, r["requests"], r["errors"], r["status"]), (0, 10, 0, {"204": 10}), r)

    def test_timed_run_with_warmup(self):
        server = self.backend("echo")
        code, r = bench_json("-d", "0.5", "--warmup", "0.3", "-c", 2, server.endpoint)
        self.assertEqual(code, 0, r)
        self.assertAlmostEqual(r["duration_s"], 0.5, delta=0.05)
        self.assertGreater(r["requests"], 0)
        # The totals hold the warm-up too; the server answered every one of them.
        self.assertGreater(r["total"]["requests"], r["requests"])
        harness.wait_for(lambda: server.answered == r["total"]["requests"], 5, what="the server's count")


class ErrorKindsTest(BenchTest):
    def check_kind(self, behaviour, kind, *extra, endpoint=None, n=12):
        endpoint = endpoint or self.backend(behaviour).endpoint
        code, r = bench_json("-n", n, "-c", 3, *extra, endpoint, "/echo")
        self.assertEqual(code, 1, r)
        self.assertEqual((r["requests"], r["errors"]), (0, n), r)
        self.assertEqual(r["errors_by_kind"][kind], n, r["errors_by_kind"])
        return r

    def test_closed_early(self):
        self.check_kind("close", "closed_early")

    def test_wrong_length_short_and_long(self):
        self.check_kind("short", "wrong_length")
        self.check_kind("long", "wrong_length")

    def test_malformed(self):
        self.check_kind("garbage", "malformed")
        r = self.check_kind("badlength", "malformed")
        self.assertIn("Content-Length", r["error_causes"]["malformed"])

    def test_reset_within_the_body_is_a_wrong_length(self):
        r = self.check_kind("reset", "wrong_length", n=6)
        self.assertEqual(r["error_causes"]["wrong_length"], "Connection reset by peer")

    def test_requests_unanswered_at_the_end_fail_the_run(self):
        # A timed run against a server that never answers, with a timeout
        # longer than the run: nothing fails within it, but the requests
        # still in flight after the drain are abandoned, and that is a failure.
        server = self.backend("silent")
        started = time.monotonic()
        code, r = bench_json("-d", "0.3", "--timeout", 30, "-c", 3, server.endpoint)
        self.assertEqual(code, 1, r)
        self.assertEqual((r["requests"], r["errors"], r["total"]["abandoned"]), (0, 0, 3), r)
        self.assertLess(time.monotonic() - started, 10)

    def test_timeout(self):
        started = time.monotonic()
        self.check_kind("silent", "timeout", "--timeout", "0.3", n=6)
        self.assertLess(time.monotonic() - started, 10)

    def test_refused_tcp_and_missing_socket(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))  # a port that is bound but does not listen
            r = self.check_kind(None, "connect", endpoint="127.0.0.1:%d" % s.getsockname()[1])
            self.assertEqual(r["error_causes"]["connect"], "Connection refused")
        r = self.check_kind(None, "connect", endpoint="unix:" + self.sandbox.path("nobody.sock"))
        self.assertEqual(r["error_causes"]["connect"], "No such file or directory")

    def test_echo_check_catches_an_altered_body(self):
        self.check_kind("alter", "echo_mismatch", "--check-echo", "--body-size", 20)
        # Without the check the same answers are fine.
        code, r = bench_json("-n", 5, self.backend("alter").endpoint, "--body-size", 20)
        self.assertEqual((code, r["requests"], r["errors"]), (0, 5, 0))


class OutputTest(BenchTest):
    def test_text_summary(self):
        server = self.backend("echo", "unix")
        code, out, err = bench("-n", 50, "-c", 2, server.endpoint, "/echo")
        self.assertEqual(code, 0, err)
        for line in ("requests   50 answered, 0 failed", "latency    min ", "status     200: 50", "errors     none",
                     "latency histogram:"):
            self.assertIn(line, out)
        self.assertEqual(err, "")  # no progress line: stderr is not a terminal

    def test_progress_line_on_a_terminal(self):
        server = self.backend("echo", "unix")
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([BENCH, "-d", "1", "-c", "2", server.endpoint], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            slave = None
            out, _ = p.communicate(timeout=30)
            shown = b""
            while True:
                try:
                    piece = os.read(master, 4096)
                except OSError:  # EIO: the other side is closed
                    break
                if not piece:
                    break
                shown += piece
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(p.returncode, 0, out)
        # A line rewritten in place (\r, erase to the end), then erased.
        lines = [line for line in shown.split(b"\r") if line]
        self.assertGreaterEqual(len(lines), 3, shown)
        self.assertRegex(lines[0].decode(), r"^ +\d+\.\d s  [\d,]+ responses  [\d,]+/s  0 errors\x1b\[K$")
        self.assertEqual(lines[-1], b"\x1b[K")
        self.assertIn(b"answered", out)  # the summary still goes to stdout

    def test_idle_mode_holds_connections(self):
        for transport in ("tcp", "unix"):
            with self.subTest(transport=transport):
                server = self.backend("echo", transport)
                code, r = bench_json("--idle", "-c", 20, "-d", "0.5", server.endpoint)
                self.assertEqual(code, 0, r)
                self.assertEqual((r["mode"], r["connected"], r["failed"], r["closed_by_server"]), ("idle", 20, 0, 0))
                self.assertGreaterEqual(r["hold_s"], 0.5)
                harness.wait_for(lambda: server.connections == 20, 5, what="20 connections")
                self.assertEqual(server.answered, 0)  # each sent only the start of a request

    def test_usage_errors_and_help(self):
        code, out, _ = bench("--help")
        self.assertEqual(code, 0)
        for option in ("-c", "-d", "-n", "-t", "--warmup", "--timeout", "--body-size", "--check-echo", "--idle",
                       "--json", "Exit status"):
            self.assertIn(option, out)
        for args in (["-n", "5", "-d", "1", "127.0.0.1:1"], ["-d", "soon", "127.0.0.1:1"], ["localhost"],
                     ["-c", "2", "-t", "3", "127.0.0.1:1"], []):
            with self.subTest(args=args):
                code, _, err = bench(*args)
                self.assertEqual(code, 2, err)
                self.assertTrue(err.strip(), "no message")

    def test_sigint_stops_with_a_summary(self):
        server = self.backend("echo")
        p = subprocess.Popen([BENCH, "--json", "-d", "60", "-c", "2", server.endpoint], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            harness.wait_for(lambda: server.answered > 10, 10, what="requests")
            p.send_signal(signal.SIGINT)
            out, _ = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 4)
        r = json.loads(out)
        self.assertTrue(r["stopped_early"])
        self.assertGreater(r["requests"], 0)


if __name__ == "__main__":
    BENCH = harness.take_program_argument("--bench", BENCH, "the built scgi-bench (or set SCGI_BENCH)")
    harness.main()
