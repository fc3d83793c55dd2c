#!/usr/bin/env python3
"""Scaling out and restarting without dropping requests:

- two `echo` processes behind one nginx `upstream`, one killed (SIGKILL)
  and restarted under load: with `scgi_next_upstream error timeout` every
  request is answered;
- two `echo --reuse-port` processes on one port, one stopped gracefully
  (SIGTERM) under load, in a private network namespace with and without
  net.ipv4.tcp_migrate_req;
- systemd socket activation, acted out from the unit files in docs/: the
  socket made as the .socket unit says, the service started as the .service
  unit says with LISTEN_FDS/LISTEN_PID, restarted under load behind nginx."""

import json
import os
import pwd
import grp
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import unittest

import harness
from frontends import Nginx
from harness import IS_ROOT, CurlLoad, Echo, Process, Sandbox, record, read_text, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def all_answered(test, results, total, size):
    test.assertEqual(len(results), total)
    bad = [r for r in results if r != (200, size)]
    test.assertEqual(bad, [], "%d of %d requests not answered 200 with %d bytes: %s" % (
        len(bad), total, size, sorted(set(bad))[:10]))


class UpstreamFailover(harness.SnippetUser, unittest.TestCase):
    snippets = ("scaling-upstream", "scaling-location")

    def test_backend_killed_and_restarted_under_load(self):
        box = Sandbox("upstream")
        self.addCleanup(box.close)
        ports = harness.free_port(), harness.free_port()
        values = {"4000": ports[0], "4001": ports[1]}
        a = Echo(box, ("tcp", ports[0]), name="echo-a")
        self.addCleanup(lambda: a.stop())
        b = Echo(box, ("tcp", ports[1]), name="echo-b")
        self.addCleanup(b.stop)
        fe = Nginx(box, [self.snippet("scaling-location", values)],
                   http_snippets=[self.snippet("scaling-upstream", values)]).start()
        self.addCleanup(fe.stop)
        total, size = 6000, 2000
        load = CurlLoad(box, [fe.url("/app/stream?n=%d" % size)] * total, parallel=8)
        self.addCleanup(load.process.stop)
        load.wait_done(total // 4)
        a.process.kill()  # SIGKILL: requests in flight on it are cut
        killed_at = load.done()
        load.wait_done(total // 2)
        a = Echo(box, ("tcp", ports[0]), name="echo-a-restarted")
        restarted_at = load.done()
        # (done() lags by up to a few hundred: curl's output is buffered.)
        self.assertLess(restarted_at, total, "the load ended before the restart: raise `total`")
        results = load.results()
        all_answered(self, results, total, size)
        # nginx met the dead backend (and retried on the other): requests cut
        # by the kill ("Connection reset by peer" while reading the response
        # header), or refused connections once it was gone.
        log = fe.log()
        events = {what: log.count(what) for what in (
            "Connection reset by peer", "connect() failed", "prematurely closed",
            "upstream server temporarily disabled", "no live upstreams")}
        record("upstream-failover.txt", "%d requests, backend A killed after about %d, restarted after about %d; "
               "all answered.\nnginx error log: %s\n" % (total, killed_at, restarted_at, events))
        self.assertGreater(events["Connection reset by peer"] + events["connect() failed"]
                           + events["prematurely closed"], 0, "nginx never met the killed backend")


class ReusePort(unittest.TestCase):
    """SO_REUSEPORT: closing a listener resets the connections in its accept
    queue unless net.ipv4.tcp_migrate_req=1 (a per-namespace sysctl, Linux
    5.14+). Each scenario runs in its own network namespace."""

    def namespace(self):
        """The command prefix that runs a program in a new network namespace:
        `unshare -n` as root; otherwise inside a new user namespace too
        (`unshare -rn`), where Debian lets an unprivileged user own one."""
        if IS_ROOT:
            return ["unshare", "-n"]
        probe = subprocess.run(["unshare", "-rn", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if probe.returncode != 0:
            self.skipTest("needs root or unprivileged user namespaces (unshare -rn: %s) to set "
                          "net.ipv4.tcp_migrate_req in a private network namespace" % probe.stderr.decode().strip())
        return ["unshare", "-rn"]

    def scenario(self, migrate, rounds):
        argv = self.namespace() + [sys.executable, os.path.join(HERE, "reuseport_scenario.py"),
                                   "--echo", harness.ECHO, "--migrate", migrate, "--rounds", str(rounds)]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def summary(self, result):
        rounds = result["rounds"]
        return "tcp_migrate_req=%s: %d answered, lost per graceful stop %s (%s)" % (
            result["tcp_migrate_req"], sum(r["answered"] for r in rounds), [r["lost"] for r in rounds],
            sorted({k for r in rounds for k in r["outcomes"] if k != "answered"}))

    def test_graceful_stop_loses_nothing_with_tcp_migrate_req(self):
        """With the sysctl, no request is lost. Measured here: 0 lost in over
        60 graceful stops, but once 1 in 3 stops (ECONNRESET) in a loaded CI
        run, a race in the kernel's migration as far as we could tell (the
        server serves everything it accepts). So a scenario with a loss runs
        once more and must then lose nothing; a server that lost requests at
        every stop, as without the sysctl, fails both."""
        attempts = []
        for _ in range(2):
            result = self.scenario("1", rounds=3)
            attempts.append(self.summary(result))
            for r in result["rounds"]:
                self.assertEqual(r["stopped_exit_status"], 0)
                self.assertGreater(r["answered"], 500)
            if all(r["lost"] == 0 for r in result["rounds"]):
                break
        record("reuseport-migrate.txt", "\n".join(attempts) + "\n")
        self.assertEqual([r["lost"] for r in result["rounds"]], [0] * len(result["rounds"]), "; ".join(attempts))

    def test_graceful_stop_without_tcp_migrate_req(self):
        """Measured, not asserted: how many requests the kernel resets when
        the stopped process closes its listener (the default sysctl)."""
        result = self.scenario("0", rounds=3)
        record("reuseport-no-migrate.txt", self.summary(result) + "\n")
        for r in result["rounds"]:
            self.assertEqual(r["stopped_exit_status"], 0)
            self.assertGreater(r["answered"], 500)


# --- systemd, acted out -------------------------------------------------------

def parse_unit(text):
    """{section: [(key, value)]} of a systemd unit file (keys may repeat)."""
    sections = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise AssertionError("not a unit file line: %r" % line)
        current.append((key.strip(), value.strip()))
    return sections


def unit_value(unit, section, key, default=None):
    values = [v for k, v in unit.get(section, []) if k == key]
    return values[-1] if values else default


class ActivatedSocket:
    """What systemd does for a .socket unit's ListenStream=: a listening
    socket with the unit's mode, owner and group, kept open by the
    "manager" (this test) across service restarts."""

    def __init__(self, unit):
        listen = [v for k, v in unit["Socket"] if k == "ListenStream"]
        if len(listen) != 1:
            raise AssertionError("expected one ListenStream=, got %s" % listen)
        self.where = listen[0]
        if self.where.startswith("/"):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if os.path.exists(self.where):
                os.unlink(self.where)
            self.sock.bind(self.where)
            os.chmod(self.where, int(unit_value(unit, "Socket", "SocketMode", "0666"), 8))
            user = unit_value(unit, "Socket", "SocketUser")
            group = unit_value(unit, "Socket", "SocketGroup")
            if IS_ROOT or group:
                uid = pwd.getpwnam(user).pw_uid if (user and IS_ROOT) else -1
                gid = grp.getgrnam(group).gr_gid if group else -1
                os.chown(self.where, uid, gid)
        else:
            host, _, port = self.where.rpartition(":")
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host or "0.0.0.0", int(port)))
        self.sock.listen(int(unit_value(unit, "Socket", "Backlog", str(socket.SOMAXCONN))))

    def close(self):
        self.sock.close()
        if self.where.startswith("/") and os.path.exists(self.where):
            os.unlink(self.where)


def start_service(box, unit, listener, name):
    """Starts the .service unit's ExecStart= as systemd would for a socket-
    activated service: the socket as descriptor 3, LISTEN_FDS=1 and
    LISTEN_PID the service's own pid; as an unprivileged user when the unit
    says DynamicUser=yes or User= (nobody here, when running as root)."""
    argv = shlex.split(unit_value(unit, "Service", "ExecStart"))
    argv[0] = argv[0].lstrip("-@+!")
    dynamic = unit_value(unit, "Service", "DynamicUser", "no") in ("yes", "true", "1")
    if IS_ROOT and (dynamic or unit_value(unit, "Service", "User")):
        argv = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] + argv
    fd = listener.sock.fileno()
    # bash: LISTEN_PID must be the pid of the final program, which exec keeps.
    script = 'export LISTEN_PID=$$ LISTEN_FDS=1; %sexec "$@"' % ("" if fd == 3 else "exec 3<&%d %d<&-; " % (fd, fd))
    out = box.path(name + ".out")
    p = Process(["bash", "-c", script, "bash"] + argv, name, box.path(name + ".log"), pass_fds=(fd,), stdout_path=out)
    wait_for(lambda: "Listening on" in read_text(out) or not p.alive(), 10, what=name + " to start")
    if not p.alive():
        raise AssertionError("%s exited: %s" % (name, p.log()))
    return p


class SocketActivation(harness.SnippetUser, unittest.TestCase):
    snippets = ("systemd-socket", "systemd-service", "nginx-unix")

    def test_restart_under_load_drops_nothing(self):
        box = Sandbox("systemd")
        self.addCleanup(box.close)
        run = box.mkdir("run")
        # The service's program, installed where its (unprivileged) user can
        # run it, as /opt/app/echo would be.
        program = box.path("opt", "echo")
        os.makedirs(os.path.dirname(program), mode=0o755)
        shutil.copy(harness.ECHO, program)
        os.chmod(program, 0o755)
        values = {"/run/app/app.sock": os.path.join(run, "app.sock"), "/run/app": run, "/opt/app/echo": program}
        socket_unit = parse_unit(self.snippet("systemd-socket", values))
        service_unit = parse_unit(self.snippet("systemd-service", values))
        listener = ActivatedSocket(socket_unit)
        self.addCleanup(listener.close)
        st = os.stat(listener.where)
        self.assertEqual(oct(st.st_mode & 0o777), oct(int(unit_value(socket_unit, "Socket", "SocketMode"), 8)))
        self.assertEqual(grp.getgrgid(st.st_gid).gr_name, harness.web_group_name())

        service = start_service(box, service_unit, listener, "service-1")
        self.addCleanup(lambda: service.stop())
        if IS_ROOT:
            self.assertEqual(pwd.getpwuid(os.stat("/proc/%d" % service.pid).st_uid).pw_name, "nobody")
        fe = Nginx(box, [self.snippet("nginx-unix", values)]).start()
        self.addCleanup(fe.stop)

        total, size, restarts = 6000, 2000, 3
        load = CurlLoad(box, [fe.url("/app/stream?n=%d" % size)] * total, parallel=8)
        self.addCleanup(load.process.stop)
        restarted_at = []
        for i in range(restarts):
            load.wait_done(total * (i + 1) // (restarts + 2))
            # What `systemctl restart app.service` does: SIGTERM (KillSignal=),
            # wait for the exit, start again on the same socket.
            status = service.stop(signal.SIGTERM, timeout=float(unit_value(service_unit, "Service", "TimeoutStopSec", "90")))
            self.assertEqual(status, 0, service.log())
            service = start_service(box, service_unit, listener, "service-%d" % (i + 2))
            restarted_at.append(load.done())
        self.assertLess(restarted_at[-1], total, "the load ended before the last restart: raise `total`")
        results = load.results()
        all_answered(self, results, total, size)
        record("systemd-restart.txt", "%d requests through nginx, restarts of the service after about %s: "
               "all answered\n" % (total, restarted_at))


if __name__ == "__main__":
    harness.main()
