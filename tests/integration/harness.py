"""Shared machinery of the integration tests: private sandboxes, processes
that are always stopped, free ports, curl, a raw SCGI client, listeners that
record what a front end sends, and the configuration snippets of docs/.

Standard library only. Every wait is bounded; every process started here is
in its own process group and is killed (SIGTERM, then SIGKILL) at the end of
its test, at interpreter exit, on SIGTERM/SIGINT and when the run's deadline
passes; if the runner itself is killed (SIGKILL), a watchdog process kills
the groups it left. Nothing outside the sandbox (a fresh temporary directory)
is written, and nothing listens anywhere but 127.0.0.1 and Unix sockets in it.
"""

import argparse
import atexit
import grp
import hashlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS_DIR = os.path.join(SOURCE_DIR, "docs")
IS_ROOT = os.geteuid() == 0

# Set by main() from the command line (or the environment, for running one
# file by hand).
ECHO = os.environ.get("SCGI_ECHO", "")
RESULTS_DIR = os.environ.get("SCGI_IT_RESULTS", "")
KEEP = os.environ.get("SCGI_IT_KEEP", "") not in ("", "0")


class Deadline(KeyboardInterrupt):
    """The run took longer than its budget, or a SIGTERM/SIGINT arrived.
    A KeyboardInterrupt so that unittest does not swallow it."""


# --- users --------------------------------------------------------------------

# The account the front ends' workers run as when the tests run as root
# (Debian's packages use www-data for all three). Without root the front ends
# run as the current user and nothing needs a group.
WEB_USER = "www-data"


def web_group_name():
    """The group a Unix socket must admit for the front end's workers."""
    if IS_ROOT:
        return WEB_USER
    return grp.getgrgid(os.getegid()).gr_name


def require_root(test, why):
    if not IS_ROOT:
        test.skipTest("needs root: " + why)


# --- processes ----------------------------------------------------------------

_processes = []
_processes_lock = threading.Lock()
_spawning = 0  # > 0 while a Process is being started and registered
_held_signal = None  # the interruption that arrived meanwhile

# The watchdog: a process in its own session that learns every process group
# started here ("+ PGID", "- PGID" when stopped) and every sandbox ("d+ PATH",
# "d- PATH") on a pipe only this process holds. When this process dies,
# however it dies, the pipe closes and the watchdog kills the groups still
# listed (nginx's workers and Apache's children included: they stay in their
# server's group), then removes the sandboxes still listed.
_WATCHDOG_CODE = r"""
import os, shutil, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups, dirs = set(), set()
for line in sys.stdin:
    op, _, arg = line.rstrip("\n").partition(" ")
    if op == "+":
        groups.add(int(arg))
    elif op == "-":
        groups.discard(int(arg))
    elif op == "d+":
        dirs.add(arg)
    elif op == "d-":
        dirs.discard(arg)
for sig in (signal.SIGTERM, signal.SIGKILL):
    for g in groups:
        try:
            os.killpg(g, sig)
        except OSError:
            pass
    if groups and sig == signal.SIGTERM:
        time.sleep(2)
if os.environ.get("SCGI_IT_KEEP", "") in ("", "0"):
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)
"""
_watchdog = None


def _tell_watchdog(line):
    global _watchdog
    if _watchdog is None:
        _watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG_CODE], stdin=subprocess.PIPE,
                                     start_new_session=True, text=True)
    try:
        _watchdog.stdin.write(line + "\n")
        _watchdog.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


class Process:
    """A child process in its own process group, output to a log file."""

    def __init__(self, argv, name, log_path, env=None, pass_fds=(), stdout_path=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.stdout_path = stdout_path or log_path
        err = open(log_path, "ab")
        out = err if stdout_path is None else open(stdout_path, "ab")
        # No interruption between the fork and the registration (a process
        # started but not registered would outlive the run): the handlers
        # hold a signal that arrives meanwhile until the end of this block.
        # (Blocking the signals instead would pass the blocked mask on to the
        # child.)
        global _spawning
        _spawning += 1
        try:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                pass_fds=pass_fds, start_new_session=True)
            self.pid = self.popen.pid
            self.stopped = False
            with _processes_lock:
                _processes.append(self)
            _tell_watchdog("+ %d" % self.pid)
        finally:
            _spawning -= 1
            err.close()
            if out is not err:
                out.close()
        _raise_held_signal()

    def alive(self):
        return self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout):
        """The exit status, or None if it is still running after `timeout` s."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signals the whole process group, waits, then SIGKILLs it. Returns
        the exit status (negative: killed by that signal). Once stopped, a
        further call only returns the status."""
        if self.stopped:
            return self.popen.returncode
        self.send_signal(sig)
        status = self.wait(timeout)
        if status is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            status = self.popen.wait()
        # Anything left in the group (nginx workers, Apache children).
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.stopped = True
        with _processes_lock:
            if self in _processes:
                _processes.remove(self)
        _tell_watchdog("- %d" % self.pid)
        return status

    def kill(self):
        """SIGKILL to the whole group (a crash, as the tests simulate it)."""
        return self.stop(signal.SIGKILL, timeout=10)

    def log(self):
        return read_text(self.log_path)


def stop_all():
    """Stops every process still running and removes every sandbox left (at
    exit, after an interruption skipped the tests' own cleanups)."""
    with _processes_lock:
        running = list(reversed(_processes))
    for p in running:
        p.stop(timeout=5)
    for box in list(Sandbox.current):
        box.close()


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a true value (returned) or raises
    AssertionError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# --- sandbox ------------------------------------------------------------------

class Sandbox:
    """A fresh temporary directory for one test class: configuration, pid
    files, logs, sockets, temporary files. Traversable (0755) so that front-end
    workers running as www-data reach the sockets and files inside it."""

    current = []  # the sandboxes alive now, for failure diagnostics

    def __init__(self, name):
        self.root = tempfile.mkdtemp(prefix="scgi-it-%s-" % name)
        os.chmod(self.root, 0o755)
        Sandbox.current.append(self)
        _tell_watchdog("d+ " + self.root)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def mkdir(self, *parts, mode=0o755, owner=None):
        """A directory inside the sandbox; `owner` (a user name) chowns it
        when running as root (a front end's upload directory)."""
        p = self.path(*parts)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, mode)
        if owner and IS_ROOT:
            pw = pwd.getpwnam(owner)
            os.chown(p, pw.pw_uid, pw.pw_gid)
        return p

    def write(self, name, data, mode=0o644):
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(p, mode)
        return p

    def logs(self):
        out = []
        for dirpath, _, files in os.walk(self.root):
            for f in sorted(files):
                if f.endswith(".log"):
                    out.append(os.path.join(dirpath, f))
        return out

    def close(self):
        if self in Sandbox.current:
            Sandbox.current.remove(self)
        if KEEP:
            print("kept sandbox %s" % self.root, file=sys.stderr)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        _tell_watchdog("d- " + self.root)


def free_port():
    """A TCP port on 127.0.0.1 that is free now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_connect(address, timeout=0.5):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


# --- the echo example ---------------------------------------------------------

class Echo:
    """The `echo` example as a backend process.

    `where`: ("tcp", port) or ("unix", path). Unix sockets get the web
    group and mode 0660 (how the guides tell users to admit the front end) unless
    `group` says otherwise (None: the default group of the user running it)."""

    def __init__(self, sandbox, where, name="echo", extra=(), group="web", mode="0660"):
        self.sandbox = sandbox
        self.where = where
        self.name = name
        args = [ECHO, *extra]
        # SCGI_ECHO_THREADS: every echo serves on that many threads (CMake's
        # <test>.io_uring_threads variants), unless the test sets its own.
        threads = os.environ.get("SCGI_ECHO_THREADS", "")
        if threads and "--threads" not in extra:
            args += ["--threads", threads]
        if where[0] == "unix":
            if group == "web" and IS_ROOT:
                args += ["--socket-group", web_group_name()]
            if mode:
                args += ["--socket-mode", mode]
            args.append("unix:" + where[1])
        else:
            args.append("127.0.0.1:%d" % where[1])
        out = sandbox.path(name + ".out")
        self.process = Process(args, name, sandbox.path(name + ".log"), stdout_path=out)
        wait_for(lambda: "Listening on" in read_text(out) or not self.process.alive(), 10,
                 what=name + " to listen")
        if not self.process.alive():
            raise AssertionError("%s exited: %s" % (name, self.process.log()))

    @property
    def address(self):
        return self.where[1] if self.where[0] == "unix" else ("127.0.0.1", self.where[1])

    def stop(self, sig=signal.SIGTERM, timeout=15):
        return self.process.stop(sig, timeout)


# --- curl ---------------------------------------------------------------------

class Response:
    def __init__(self, exit_code, status, headers, body, stderr, raw_headers):
        self.exit_code = exit_code
        self.status = status
        self.headers = headers  # lower-case name -> value (last occurrence)
        self.body = body
        self.stderr = stderr
        self.raw_headers = raw_headers

    def __repr__(self):
        return "<curl exit %d, HTTP %d, %d body bytes%s>" % (
            self.exit_code, self.status, len(self.body),
            (", " + self.stderr.strip()) if self.stderr.strip() else "")


def curl(url, data=None, headers=(), method=None, chunked=False, max_time=60, extra=(), scratch=None):
    """One request with curl. `data`: bytes for the body (sent from a file,
    as `--data-binary @file`), or None. `headers`: str or bytes header lines.
    Returns a Response; never raises for HTTP errors."""
    scratch = scratch or tempfile.gettempdir()
    fd, out = tempfile.mkstemp(dir=scratch, prefix="curl-out-")
    os.close(fd)
    fd, hdr = tempfile.mkstemp(dir=scratch, prefix="curl-hdr-")
    os.close(fd)
    body_file = None
    try:
        argv = [b"curl", b"-sS", b"--path-as-is", b"--max-time", str(max_time).encode(),
                b"-o", out.encode(), b"-D", hdr.encode(), b"-w", b"%{http_code}"]
        for h in headers:
            argv += [b"-H", h if isinstance(h, bytes) else h.encode()]
        if chunked:
            argv += [b"-H", b"Transfer-Encoding: chunked"]
        if data is not None:
            fd, body_file = tempfile.mkstemp(dir=scratch, prefix="curl-body-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            argv += [b"--data-binary", b"@" + body_file.encode()]
        if method:
            argv += [b"-X", method.encode()]
        argv += [a if isinstance(a, bytes) else a.encode() for a in extra]
        argv.append(url if isinstance(url, bytes) else url.encode())
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=max_time + 15)
        with open(out, "rb") as f:
            body = f.read()
        with open(hdr, "rb") as f:
            raw = f.read()
        status_text = p.stdout.decode().strip()
        status = int(status_text) if status_text.isdigit() else 0
        return Response(p.returncode, status, parse_headers(raw), body, p.stderr.decode("utf-8", "replace"), raw)
    finally:
        for path in (out, hdr, body_file):
            if path:
                os.unlink(path)


def parse_headers(raw):
    """The last header block of a `curl -D` dump (after any 100 Continue)."""
    blocks = [b for b in raw.replace(b"\r\n", b"\n").split(b"\n\n") if b.strip()]
    headers = {}
    if not blocks:
        return headers
    for line in blocks[-1].split(b"\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def stream_pattern(n):
    """What echo's /stream?n=N answers: "0123456789" repeated, cut at n."""
    return (b"0123456789" * (n // 10 + 1))[:n]


def parse_env(body):
    """echo's /env answer: [(name, value)] in received order, as bytes."""
    pairs = []
    for line in body.split(b"\n"):
        if not line:
            continue
        name, sep, value = line.partition(b"=")
        if not sep:
            raise AssertionError("not NAME=VALUE: %r" % line)
        pairs.append((name.decode("ascii"), value))
    return pairs


# --- raw SCGI -----------------------------------------------------------------

def netstring_request(headers, body=b""):
    """An SCGI request: CONTENT_LENGTH first, SCGI=1, then `headers`."""
    block = b"CONTENT_LENGTH\0%d\0SCGI\x001\0" % len(body)
    for name, value in headers:
        block += name.encode() + b"\0" + (value if isinstance(value, bytes) else value.encode()) + b"\0"
    return b"%d:" % len(block) + block + b"," + body


def scgi_call(address, method="GET", uri="/", body=b"", timeout=10):
    """Sends one request straight to an SCGI server; returns the raw response
    bytes (head and body) read until the server closes."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    path, _, query = uri.partition("?")
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(address)
        s.sendall(netstring_request([("REQUEST_METHOD", method), ("REQUEST_URI", uri),
                                     ("QUERY_STRING", query), ("DOCUMENT_URI", path)], body))
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def split_cgi_response(raw):
    """(status, {lower-case header: value}, body) of a CGI response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no end of head in %r" % raw[:200])
    headers = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    status = int(headers.get("status", "200").split()[0])
    return status, headers, body


class FakeBackend:
    """A listener standing in for a backend, on 127.0.0.1 (a free port) or on
    the Unix socket `unix_path`: accepts on a thread of its own and serves
    each connection on another (`_serve`, defined by the subclass), until
    `close()`."""

    def __init__(self, backlog, unix_path=None):
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.unix_path = unix_path
        if unix_path is None:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind(("127.0.0.1", 0))
            self.port = self._sock.getsockname()[1]
        else:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.bind(unix_path)
            self.port = None
        self._sock.listen(backlog)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def endpoint(self):
        """Where it listens, as the tools and the examples spell it."""
        return "unix:" + self.unix_path if self.unix_path else "127.0.0.1:%d" % self.port

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        raise NotImplementedError

    def close(self):
        self._stop.set()
        self._sock.close()
        self._thread.join(2)
        if self.unix_path:
            try:
                os.unlink(self.unix_path)
            except FileNotFoundError:
                pass


def read_scgi_request(conn, progress=None):
    """Reads one SCGI request from socket `conn` whole (its CONTENT_LENGTH
    body bytes): returns (header block bytes, body), or None if the peer
    closes first. `progress(n)` is called with the body bytes received so
    far after each piece."""
    data = b""
    while b"," not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    length, _, rest = data.partition(b":")
    block, body = rest[:int(length)], rest[int(length) + 1:]
    declared = int(block.split(b"\0")[1])  # CONTENT_LENGTH comes first
    chunks = [body]
    received = len(body)
    while received < declared:
        if progress:
            progress(received)
        chunk = conn.recv(65536)
        if not chunk:
            return None
        chunks.append(chunk)
        received += len(chunk)
    if progress:
        progress(received)
    return block, b"".join(chunks)


class Recorder(FakeBackend):
    """A backend that records every byte each connection sends (until the
    peer half-closes, or `idle` seconds pass without a byte), then answers
    `reply` (None: never answers and holds the connection open until
    stopped)."""

    def __init__(self, reply=b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nrecorded\n", idle=1.0):
        self.reply = reply
        self.idle = idle
        self.connections = []  # bytes received per connection, in accept order
        self._held = []
        super().__init__(backlog=64)

    def _serve(self, conn):
        with self._lock:
            index = len(self.connections)
            self.connections.append(b"")
            self._held.append(conn)
        conn.settimeout(self.idle)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    break
                if not data:
                    break
                with self._lock:
                    self.connections[index] += data
            if self.reply is None:
                return  # held open until close()
            conn.sendall(self.reply)
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self):
        super().close()
        with self._lock:
            for c in self._held:
                try:
                    c.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
                except OSError:
                    pass
                c.close()


def parse_scgi(data):
    """(headers [(name, value)], body) of one recorded SCGI request; the body
    is everything after the header block, whatever CONTENT_LENGTH says."""
    length, colon, rest = data.partition(b":")
    if not colon or not length.isdigit():
        raise AssertionError("not an SCGI request: %r" % data[:80])
    n = int(length)
    block, comma, body = rest[:n], rest[n:n + 1], rest[n + 1:]
    if comma != b",":
        raise AssertionError("header block not followed by ',': %r" % data[:200])
    items = block.split(b"\0")[:-1]
    return [(items[i].decode("latin-1"), items[i + 1]) for i in range(0, len(items), 2)], body


class TwoPieceBackend(FakeBackend):
    """A backend that streams its answer: it reads each request whole
    (CONTENT_LENGTH body bytes), answers
    a head (with `extra_head`, e.g. b"X-Accel-Buffering: no\\r\\n") and the
    piece FIRST, waits `pause` seconds, sends SECOND and closes. Records, per
    connection, the body bytes received."""

    FIRST = b"first-piece\n"
    SECOND = b"second-piece\n"

    def __init__(self, pause, extra_head=b""):
        self.pause = pause
        self.extra_head = extra_head
        self.bodies = []  # per accepted connection: body bytes received so far
        super().__init__(backlog=16)

    def accepted(self):
        with self._lock:
            return len(self.bodies)

    def _serve(self, conn):
        with self._lock:
            index = len(self.bodies)
            self.bodies.append(0)
        conn.settimeout(15)

        def progress(received):
            with self._lock:
                self.bodies[index] = received

        try:
            with conn:
                if read_scgi_request(conn, progress) is None:
                    return
                conn.sendall(b"Status: 200 OK\r\nContent-Type: text/plain\r\n" + self.extra_head + b"\r\n" + self.FIRST)
                if self._stop.wait(self.pause):
                    return
                conn.sendall(self.SECOND)
        except OSError:
            pass


# --- configuration snippets of docs/ -----------------------------------------

MARKER = re.compile(r"^<!-- config: ([A-Za-z0-9_.-]+) -->\s*$")
FENCE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)")
# The fence languages that are configuration, and so must carry a marker.
CONFIG_LANGUAGES = {"nginx", "apache", "apacheconf", "lighttpd", "ini", "systemd"}


def read_fences(path):
    """Every fenced block of a markdown file: (language, text, marker name or
    None, line number)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    fences = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language = m.group(1), m.group(2).lower()
        marker = MARKER.match(lines[i - 1]) if i > 0 else None
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(fence):
            body.append(lines[i])
            i += 1
        fences.append((language, "\n".join(body) + "\n", marker.group(1) if marker else None, start + 1))
        i += 1
    return fences


def doc_files():
    if not os.path.isdir(DOCS_DIR):
        return []
    return sorted(os.path.join(DOCS_DIR, f) for f in os.listdir(DOCS_DIR) if f.endswith(".md"))


def all_snippets():
    """{name: (language, text, file)} of every marked block in docs/*.md."""
    found = {}
    for path in doc_files():
        for language, text, name, line in read_fences(path):
            if name is None:
                continue
            if name in found:
                raise AssertionError("config marker %r used twice (%s:%d)" % (name, path, line))
            found[name] = (language, text, path)
    return found


# Placeholders: realistic literal values in the snippets, replaced by the
# test's own (documented in tests/integration/README.md). Numbers are replaced
# as whole words only.
WORD_PLACEHOLDERS = ("4000", "4001", "8080")
PATH_PLACEHOLDERS = ("/run/app/app.sock", "/run/app", "/srv/app/files", "/opt/app/echo")
TIMEOUT_PLACEHOLDER = "60"


def config_snippet(name, values):
    """The text of the docs snippet marked `<!-- config: name -->`, with the
    placeholders replaced by `values` (placeholder -> the test's value; every
    placeholder the snippet contains must be given). In a snippet whose name
    ends in `-timeout`, the number 60 (seconds) is replaced by
    values["timeout"]."""
    snippets = all_snippets()
    if name not in snippets:
        raise AssertionError("no snippet marked <!-- config: %s --> in docs/" % name)
    text = snippets[name][1]
    # One pass, so that a replacement is never replaced again (the socket
    # path /tmp/.../run/app.sock contains "/run/app").
    alternatives = [re.escape(p) for p in PATH_PLACEHOLDERS] + [r"\b%s\b" % w for w in WORD_PLACEHOLDERS]
    alternatives.append(r"\bwww-data\b")
    timeout = name.endswith("-timeout")
    sixty = r"(?<![0-9])60(?![0-9])"  # also in nginx's "60s"
    if timeout:
        if not re.search(sixty, text):
            raise AssertionError("timeout snippet %s has no 60 to replace" % name)
        alternatives.append(sixty)

    def substitute(match):
        placeholder = match.group(0)
        if placeholder == "www-data":
            return web_group_name()
        if timeout and placeholder == "60":
            return str(values["timeout"])
        if placeholder not in values:
            raise AssertionError("snippet %s uses %s but the test gives no value for it" % (name, placeholder))
        return str(values[placeholder])

    return re.sub("|".join(alternatives), substitute, text)


class SnippetUser:
    """Mixin for test classes: `snippets` names every docs snippet the class
    uses, and `snippet()` refuses any other, so that the docs check
    (test_docs.py) knows from the classes alone which markers are in use."""

    snippets = ()

    @classmethod
    def snippets_used(cls):
        return set(cls.snippets)

    @classmethod
    def snippet(cls, name, values):
        if name not in cls.snippets_used():
            raise AssertionError("%s uses the snippet %s without listing it in snippets_used()" % (cls.__name__, name))
        return config_snippet(name, values)


class CurlLoad:
    """Many requests from one curl process (`--parallel`, keep-alive to the
    front end): one line "STATUS SIZE" per finished transfer in a file, so a
    test can act while it runs (`done()`) and check every answer at the end."""

    def __init__(self, sandbox, urls, parallel=8, max_time=30, name="load"):
        self.config = sandbox.path(name + ".curl")
        self.out = sandbox.path(name + ".out")
        with open(self.config, "w") as f:
            for url in urls:
                f.write('url = "%s"\noutput = "/dev/null"\n' % url)
        self.total = len(urls)
        self.process = Process(
            ["curl", "-sS", "--parallel", "--parallel-max", str(parallel), "--max-time", str(max_time),
             "-w", "%{http_code} %{size_download}\n", "-K", self.config],
            name, sandbox.path(name + ".log"), stdout_path=self.out)

    def done(self):
        return read_text(self.out).count("\n")

    def wait_done(self, n, timeout=60):
        wait_for(lambda: self.done() >= n or not self.process.alive(), timeout, what="%d requests done" % n)

    def results(self, timeout=120):
        """[(status, size)] of every transfer, once curl has finished."""
        status = self.process.wait(timeout)
        if status is None:
            self.process.stop()
            raise AssertionError("curl load did not finish in %d s" % timeout)
        self.process.stop()
        out = []
        for line in read_text(self.out).splitlines():
            code, _, size = line.partition(" ")
            out.append((int(code), int(size)))
        return out


# --- results ------------------------------------------------------------------

def record(name, text):
    """Keeps an observation (the variables a front end sends, captured bytes,
    figures) in $SCGI_IT_RESULTS/<name>, for the report; prints it with -v."""
    if RESULTS_DIR:
        os.makedirs(RESULTS_DIR, exist_ok=True)
        with open(os.path.join(RESULTS_DIR, name), "w", encoding="utf-8") as f:
            f.write(text)
    if os.environ.get("SCGI_IT_VERBOSE"):
        print("\n--- %s ---\n%s" % (name, text), file=sys.stderr)


# --- running ------------------------------------------------------------------

class _Result(unittest.TextTestResult):
    """Prints the tail of every log of the sandboxes alive at a failure."""

    def _dump_logs(self):
        for box in Sandbox.current:
            for path in box.logs():
                lines = read_text(path).splitlines()[-25:]
                if lines:
                    self.stream.write("\n--- %s (last %d lines) ---\n%s\n" % (path, len(lines), "\n".join(lines)))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump_logs()

    def addError(self, test, err):
        super().addError(test, err)
        self._dump_logs()


def _interrupt(signum, _frame):
    _raise_or_hold(Deadline("signal %d: stopping everything this test started" % signum))


def _deadline(_signum, _frame):
    _raise_or_hold(Deadline("the run's deadline passed: stopping everything this test started"))


def _raise_or_hold(exception):
    global _held_signal
    if _spawning:
        _held_signal = exception
    else:
        raise exception


def _raise_held_signal():
    global _held_signal
    if _held_signal is not None and not _spawning:
        exception, _held_signal = _held_signal, None
        raise exception


def take_program_argument(option, default, what):
    """Removes `option PATH` from the command line and returns PATH, absolute
    (`default` if the option is absent); exits with 2 unless it names an
    executable: `what` says which program it must be."""
    args = sys.argv[1:]
    path = default
    if option in args:
        i = args.index(option)
        path = args[i + 1] if i + 1 < len(args) else ""
        del args[i:i + 2]
    sys.argv[1:] = args
    if not path or not os.access(path, os.X_OK):
        print("%s: %s PATH must name %s" % (os.path.basename(sys.argv[0]), option, what), file=sys.stderr)
        sys.exit(2)
    return os.path.abspath(path)


def main(needs_echo=True):
    """Entry point of each test file: `test_X.py --echo PATH [--budget S]
    [--results DIR] [unittest args]`. The budget (seconds) should be below
    CTest's TIMEOUT, so the processes are stopped by us, not orphaned by
    CTest's kill."""
    global ECHO, RESULTS_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--echo", default=ECHO)
    parser.add_argument("--results", default=RESULTS_DIR)
    parser.add_argument("--budget", type=int, default=int(os.environ.get("SCGI_IT_BUDGET", "240")))
    args, rest = parser.parse_known_args()
    ECHO = os.path.abspath(args.echo) if args.echo else ""
    RESULTS_DIR = args.results
    if needs_echo and (not ECHO or not os.access(ECHO, os.X_OK)):
        print("integration tests: --echo PATH (or SCGI_ECHO) must name the built echo example", file=sys.stderr)
        sys.exit(2)
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGALRM, _deadline)
    signal.alarm(args.budget)
    runner = unittest.TextTestRunner(resultclass=_Result, verbosity=2)
    program = unittest.main(module="__main__", argv=[sys.argv[0], *rest], testRunner=runner, exit=False)
    signal.alarm(0)
    stop_all()
    sys.exit(0 if program.result.wasSuccessful() else 1)
