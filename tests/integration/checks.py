"""The checks every front end goes through, over TCP and over a Unix socket,
with the `echo` example behind it. A test file subclasses `FrontEndChecks`
once per transport and states what that front end really does (the
variables it sends, how it treats chunked uploads, encoded paths, ...), and
`DeploymentChecks` once for the situations a deployment meets (backend down,
backend too slow, file hand-off, socket permissions, the front end's own
buffering, a backend that answers while the body still arrives)."""

import concurrent.futures
import os
import random
import socket
import time

import harness
from harness import Echo, Sandbox, curl, sha256, stream_pattern, parse_env, record, wait_for

KiB = 1024
MiB = 1024 * KiB
ECHO_SIZES = (0, 1, 100 * KiB, 8 * MiB, 64 * MiB)
# Seconds between the two pieces of harness.TwoPieceBackend's answer.
PIECE_PAUSE = 1.5


def env_dict(pairs):
    return {name: value for name, value in pairs}


class FrontEndChecks(harness.SnippetUser):
    """Mixin for unittest.TestCase. Subclasses set:

    frontend      the frontends.FrontEnd class
    transport     "tcp" or "unix"
    env_get       the names, in order, of the variables of a GET with one
                  extra header (X-Foo) and a query string
    path_vars     the variables that carry the decoded path, in order
    chunked       "dechunked" or 411
    """

    frontend = None
    transport = "tcp"
    env_get = ()
    path_vars = ()
    chunked = "dechunked"
    # Whether the front end forwards the HTTP Transfer-Encoding header of a
    # chunked upload it has de-chunked (as HTTP_TRANSFER_ENCODING).
    forwards_transfer_encoding = True

    @classmethod
    def snippet_name(cls):
        return "%s-%s" % (cls.frontend.name, cls.transport)

    @classmethod
    def snippets_used(cls):
        return {cls.snippet_name()}

    @classmethod
    def setUpClass(cls):
        cls.box = Sandbox("%s-%s" % (cls.frontend.name, cls.transport))
        cls.addClassCleanup(cls.box.close)
        run = cls.box.mkdir("run")
        cls.socket_path = os.path.join(run, "app.sock")
        cls.backend_port = harness.free_port()
        cls.values = {"4000": cls.backend_port, "/run/app/app.sock": cls.socket_path, "/run/app": run}
        where = ("unix", cls.socket_path) if cls.transport == "unix" else ("tcp", cls.backend_port)
        cls.echo = Echo(cls.box, where)
        cls.addClassCleanup(cls.echo.stop)
        cls.fe = cls.frontend(cls.box, [cls.snippet(cls.snippet_name(), cls.values)]).start()
        cls.addClassCleanup(cls.fe.stop)

    def get(self, path, **kw):
        kw.setdefault("scratch", self.box.root)
        return curl(self.fe.url(path), **kw)

    def assertStatus(self, response, status):
        self.assertEqual(response.status, status, "%r: %r" % (response, response.body[:300]))

    def env(self, path="/app/env", **kw):
        r = self.get(path, **kw)
        self.assertStatus(r, 200)
        return parse_env(r.body)

    # --- what the application sees -------------------------------------------------

    def test_env_get(self):
        pairs = self.env("/app/env?a=1&b=%20", headers=["X-Foo: bar"])
        names = [n for n, _ in pairs]
        record("env-%s-%s.txt" % (self.frontend.name, self.transport),
               "".join("%s=%s\n" % (n, v.decode("latin-1")) for n, v in pairs))
        self.assertEqual(len(names), len(set(names)), "duplicate names: %s" % names)
        self.assertEqual(names, list(self.env_get))
        env = env_dict(pairs)
        self.assertEqual(env["CONTENT_LENGTH"], b"0")
        self.assertEqual(env["SCGI"], b"1")
        self.assertEqual(env["REQUEST_METHOD"], b"GET")
        self.assertEqual(env["REQUEST_URI"], b"/app/env?a=1&b=%20")
        self.assertEqual(env["QUERY_STRING"], b"a=1&b=%20")
        self.assertEqual(env["SERVER_PROTOCOL"], b"HTTP/1.1")
        self.assertEqual(env["SERVER_PORT"], str(self.fe.port).encode())
        self.assertEqual(env["REMOTE_ADDR"], b"127.0.0.1")
        self.assertTrue(env["REMOTE_PORT"].isdigit())
        self.assertEqual(env["HTTP_X_FOO"], b"bar")
        self.assertTrue(env["HTTP_USER_AGENT"].startswith(b"curl/"))
        self.assertEqual(env["REQUEST_SCHEME"], b"http")

    def test_env_post(self):
        pairs = self.env("/app/env", data=b"abc", headers=["Content-Type: text/x-test"])
        self.assertEqual(pairs[0], ("CONTENT_LENGTH", b"3"))
        env = env_dict(pairs)
        self.assertEqual(env["REQUEST_METHOD"], b"POST")
        self.assertEqual(env["CONTENT_TYPE"], b"text/x-test")
        self.post_extras(env)

    def post_extras(self, env):
        """Front-end specific: what else a POST adds."""

    def test_large_header_value(self):
        value = "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(6000))
        env = env_dict(self.env(headers=["X-Big: " + value]))
        self.assertEqual(env["HTTP_X_BIG"], value.encode())

    def test_header_bytes_not_utf8(self):
        raw = b"\xff\xfe\x80 caf\xe9 \xc3("
        env = env_dict(self.env(headers=[b"X-Bytes: " + raw]))
        self.assertEqual(env["HTTP_X_BYTES"], raw)

    def test_percent_encoded_path(self):
        raw = "/app/%C3%A9t%C3%A9/a%20b%21/env"
        env = env_dict(self.env(raw + "?q=%C3%A9"))
        self.assertEqual(env["REQUEST_URI"], (raw + "?q=%C3%A9").encode())
        self.assertEqual(env["QUERY_STRING"], b"q=%C3%A9")
        decoded = b"".join(env.get(v, b"") for v in self.path_vars)
        self.assertEqual(decoded, "/app/été/a b!/env".encode())

    def test_percent_encoded_bytes_not_utf8(self):
        r = self.get("/app/%FF%FE/env")
        self.check_not_utf8_path(r)

    def check_not_utf8_path(self, r):
        self.assertStatus(r, 200)
        env = env_dict(parse_env(r.body))
        self.assertEqual(env["REQUEST_URI"], b"/app/%FF%FE/env")
        self.assertEqual(b"".join(env.get(v, b"") for v in self.path_vars), b"/app/\xff\xfe/env")

    def test_encoded_slash(self):
        self.check_encoded_slash(self.get("/app/a%2Fb/env"))

    # --- bodies ----------------------------------------------------------------

    def test_echo_bodies(self):
        for size in ECHO_SIZES:
            with self.subTest(size=size):
                body = os.urandom(size)
                started = time.monotonic()
                r = self.get("/app/echo", data=body, max_time=30)
                self.assertStatus(r, 200)
                self.assertEqual(len(r.body), size)
                self.assertEqual(sha256(r.body), sha256(body))
                record("time-echo-%s-%s-%d.txt" % (self.frontend.name, self.transport, size),
                       "%.2f s\n" % (time.monotonic() - started))

    def test_chunked_upload(self):
        body = os.urandom(1 * MiB)
        r = self.get("/app/echo", data=body, chunked=True, max_time=60)
        if self.chunked == 411:
            self.assertStatus(r, 411)
            return
        self.assertStatus(r, 200)
        self.assertEqual(sha256(r.body), sha256(body))
        # The length the application sees is the real, de-chunked one.
        pairs = self.env(data=b"x" * 1000, chunked=True)
        env = env_dict(pairs)
        self.assertEqual(pairs[0], ("CONTENT_LENGTH", b"1000"))
        if self.forwards_transfer_encoding:
            self.assertEqual(env.get("HTTP_TRANSFER_ENCODING"), b"chunked")
        else:
            self.assertNotIn("HTTP_TRANSFER_ENCODING", env)

    def test_stream(self):
        n = 5000000
        r = self.get("/app/stream?n=%d" % n)
        self.assertStatus(r, 200)
        self.assertEqual(len(r.body), n)
        self.assertEqual(sha256(r.body), sha256(stream_pattern(n)))

    def test_not_found(self):
        r = self.get("/app/nothing-here")
        self.assertStatus(r, 404)
        self.assertEqual(r.body, b"no such path: /app/nothing-here\n")

    def test_concurrent_mixed(self):
        rng = random.Random(7)
        jobs = []
        for i in range(50):
            kind = ("env", "echo", "stream", "missing")[i % 4]
            if kind == "echo":
                arg = os.urandom(rng.randrange(0, 100 * KiB))
            elif kind == "stream":
                arg = rng.randrange(0, 300 * KiB)
            else:
                arg = None
            jobs.append((i, kind, arg))

        def run(job):
            i, kind, arg = job
            if kind == "env":
                r = self.get("/app/env", headers=["X-Job: %d" % i])
                ok = r.status == 200 and env_dict(parse_env(r.body)).get("HTTP_X_JOB") == str(i).encode()
            elif kind == "echo":
                r = self.get("/app/echo", data=arg)
                ok = r.status == 200 and r.body == arg
            elif kind == "stream":
                r = self.get("/app/stream?n=%d" % arg)
                ok = r.status == 200 and r.body == stream_pattern(arg)
            else:
                r = self.get("/app/missing")
                ok = r.status == 404
            return kind, ok, repr(r)

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(run, jobs))
        failed = [(kind, r) for kind, ok, r in results if not ok]
        self.assertEqual(failed, [])


class DeploymentChecks(harness.SnippetUser):
    """Mixin for unittest.TestCase: each test starts its own front end (and
    backend) in a fresh sandbox. Subclasses set `frontend`, `down_status`,
    `timeout_status`, `handoff` ("uri" for X-Accel-Redirect, "path" for
    X-Sendfile) and `handoff_snippets`, `handoff_denied_status`."""

    frontend = None
    down_status = 502
    timeout_status = 504
    handoff = "path"
    handoff_snippets = ()
    handoff_denied_status = 404
    denied_log = "Permission denied"
    # Seconds a front end may keep answering "down" after the backend is
    # back (lighttpd disables a failed backend for a while).
    recovery_seconds = 1

    # What the front end's own buffering does with its plain <name>-tcp
    # configuration (test_buffering): whether it connects to the backend and
    # sends the body while the client is still sending it, and whether it
    # passes a small response piece on to the client as soon as the backend
    # writes it (rather than when its buffer fills or the response ends).
    streams_request_body = False
    streams_response = False
    # Whether a backend that answers while the body still arrives (echo
    # --full-duplex: receive_body_before_response = false) gets a body larger
    # than the socket buffers through (test_full_duplex_backend).
    full_duplex = False

    # Further snippets a subclass's own tests use.
    extra_snippets = ()

    @classmethod
    def snippets_used(cls):
        name = cls.frontend.name
        return {name + "-tcp", name + "-unix", name + "-timeout", *cls.handoff_snippets, *cls.extra_snippets}

    def setUp(self):
        self.box = Sandbox(self.frontend.name + "-deploy")
        self.addCleanup(self.box.close)
        self.run_dir = self.box.mkdir("run")
        self.files = self.box.mkdir("files")
        self.socket_path = os.path.join(self.run_dir, "app.sock")
        self.backend_port = harness.free_port()
        self.values = {"4000": self.backend_port, "/run/app/app.sock": self.socket_path,
                       "/run/app": self.run_dir, "/srv/app/files": self.files, "timeout": 3}

    def start_frontend(self, snippet_names, values=None):
        values = values or self.values
        fe = self.frontend(self.box, [self.snippet(n, values) for n in snippet_names]).start()
        self.addCleanup(fe.stop)
        return fe

    def start_frontend_text(self, texts, frontend=None):
        """A front end (this class's, or `frontend`) with configuration text
        the test made itself (see snippet_without)."""
        fe = (frontend or self.frontend)(self.box, list(texts)).start()
        self.addCleanup(fe.stop)
        return fe

    def snippet_without(self, name, line_part, values=None):
        """The docs snippet `name` without its one line containing
        `line_part`: the configuration a user gets by leaving that line out
        (fails if there is no such single line, so that a changed snippet
        cannot make the test run something else)."""
        lines = self.snippet(name, values or self.values).splitlines(True)
        kept = [l for l in lines if line_part not in l]
        self.assertEqual(len(kept), len(lines) - 1, "snippet %s has no single line with %r" % (name, line_part))
        return "".join(kept)

    def start_echo(self, where, **kw):
        echo = Echo(self.box, where, **kw)
        self.addCleanup(echo.stop)
        return echo

    def get(self, fe, path, **kw):
        kw.setdefault("scratch", self.box.root)
        return curl(fe.url(path), **kw)

    def check_backend_down(self, transport):
        fe = self.start_frontend(["%s-%s" % (self.frontend.name, transport)])
        r = self.get(fe, "/app/env")
        self.assertEqual(r.status, self.down_status, repr(r))
        log = [l for l in fe.log().splitlines()
               if any(w in l.lower() for w in ("error", "crit", "fail", "down"))]
        record("down-%s-%s.txt" % (self.frontend.name, transport),
               "HTTP %d\nerror log:\n%s\n" % (r.status, "\n".join(log[-5:])))
        # The same front end serves again once the backend is up.
        self.start_echo(("unix", self.socket_path) if transport == "unix" else ("tcp", self.backend_port))
        started = time.monotonic()
        wait_for(lambda: self.get(fe, "/app/env").status == 200, self.recovery_seconds + 4,
                 interval=0.1, what="the front end to reach the backend again")
        record("recovery-%s-%s.txt" % (self.frontend.name, transport), "%.2f s\n" % (time.monotonic() - started))

    def test_backend_down_tcp(self):
        self.check_backend_down("tcp")

    def test_backend_down_unix(self):
        self.check_backend_down("unix")

    def test_backend_timeout(self):
        # A backend that accepts and reads but never answers.
        silent = harness.Recorder(reply=None, idle=30)
        self.addCleanup(silent.close)
        values = dict(self.values, **{"4000": silent.port})
        fe = self.start_frontend(["%s-timeout" % self.frontend.name], values)
        started = time.monotonic()
        r = self.get(fe, "/app/env", max_time=30)
        elapsed = time.monotonic() - started
        self.assertEqual(r.status, self.timeout_status, repr(r))
        self.assertGreaterEqual(elapsed, 2.5)
        self.assertLess(elapsed, 10)
        record("timeout-%s.txt" % self.frontend.name, "HTTP %d after %.1f s (timeout 3 s)\n" % (r.status, elapsed))

    def test_file_handoff(self):
        data = os.urandom(3 * MiB + 7)
        path = os.path.join(self.files, "report.bin")
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        secret = self.box.write("secret.txt", b"not for the web\n")
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend(self.handoff_snippets)
        query = "uri=/files/report.bin" if self.handoff == "uri" else "path=" + path
        r = self.get(fe, "/app/file?" + query)
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(sha256(r.body), sha256(data))
        self.assertEqual(len(r.body), len(data))
        for header in ("x-accel-redirect", "x-sendfile"):
            self.assertNotIn(header, r.headers)
        # A file outside the configured root is refused by the front end.
        query = "uri=/files/../secret.txt" if self.handoff == "uri" else "path=" + secret
        r = self.get(fe, "/app/file?" + query)
        self.assertEqual(r.status, self.handoff_denied_status, repr(r))
        self.assertNotIn(b"not for the web", r.body)

    def test_socket_without_group_is_refused(self):
        harness.require_root(self, "the front end's workers run as www-data only when started as root")
        # The server's default: mode 0660, owned by root:root. The workers
        # (www-data) may not connect.
        self.start_echo(("unix", self.socket_path), group=None)
        fe = self.start_frontend(["%s-unix" % self.frontend.name])
        r = self.get(fe, "/app/env")
        self.assertEqual(r.status, self.down_status, repr(r))
        self.assertIn(self.denied_log, fe.log())
        record("denied-%s.txt" % self.frontend.name, "HTTP %d\n%s\n" % (
            r.status, "\n".join(l for l in fe.log().splitlines() if self.denied_log in l)))

    # --- buffering and streaming ------------------------------------------------

    def measure_buffering(self, snippet_names, path="/app/buffering", extra_head=b""):
        """One POST of 256 KiB, sent in two halves 1 s apart, through the front
        end to harness.TwoPieceBackend (which answers once it has the whole
        body, in two pieces PIECE_PAUSE s apart). Returns (whether the backend
        had been connected before the second half was sent, seconds from the
        end of the request to the first piece at the client)."""
        backend = harness.TwoPieceBackend(PIECE_PAUSE, extra_head)
        self.addCleanup(backend.close)
        fe = self.start_frontend(snippet_names, dict(self.values, **{"4000": backend.port}))
        size = 256 * KiB
        data = b""
        first = None
        with socket.create_connection(("127.0.0.1", fe.port), timeout=15) as s:
            s.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (path.encode(), size))
            s.sendall(b"a" * (size // 2))
            time.sleep(1.0)
            connected_early = backend.accepted() > 0
            s.sendall(b"a" * (size - size // 2))
            sent = time.monotonic()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if first is None and backend.FIRST in data:
                    first = time.monotonic() - sent
        fe.stop()  # (a test may start another in the same sandbox)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:300])
        self.assertIn(backend.SECOND, data)
        self.assertIsNotNone(first)
        self.assertEqual(backend.bodies, [size])
        return connected_early, first

    def check_buffering(self, label, snippet_names, streams_request_body, streams_response, **kw):
        early, first = self.measure_buffering(snippet_names, **kw)
        record("buffering-%s-%s.txt" % (self.frontend.name, label),
               "%s: backend connected while the body was still arriving: %s; first response piece at the "
               "client %.2f s after the request (the backend wrote it at once, the next %.1f s later)\n" % (
                   " + ".join(snippet_names), early, first, PIECE_PAUSE))
        self.assertEqual(early, streams_request_body, "backend connected before the whole body was sent")
        if streams_response:
            self.assertLess(first, PIECE_PAUSE / 2, "first response piece held by the front end")
        else:
            self.assertGreater(first, PIECE_PAUSE - 0.3, "first response piece passed on at once")

    def test_buffering(self):
        """What the front end's own buffering means for streaming, with the
        plain configuration: whether the application sees an upload while it
        arrives, and whether the client sees a response piece as soon as the
        application writes it."""
        self.check_buffering("default", ["%s-tcp" % self.frontend.name],
                             self.streams_request_body, self.streams_response)

    def test_full_duplex_backend(self):
        """echo --full-duplex (receive_body_before_response = false) answers
        each body piece as it arrives. A front end that stops sending the body
        once the response has begun (nginx), or sends the whole body before it
        reads anything (Apache), never gets a body larger than the socket
        buffers through; one that reads while it sends (lighttpd) does."""
        self.start_echo(("unix", self.socket_path), extra=["--full-duplex"])
        fe = self.start_frontend(["%s-unix" % self.frontend.name])
        body = os.urandom(4 * MiB)
        r = self.get(fe, "/app/echo", data=body, max_time=5)
        intact = r.status == 200 and r.body == body
        record("full-duplex-%s.txt" % self.frontend.name, "4 MiB through %s-unix to echo --full-duplex: %r, "
               "body intact: %s\n" % (self.frontend.name, r, intact))
        self.assertEqual(intact, self.full_duplex, repr(r))
