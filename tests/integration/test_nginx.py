#!/usr/bin/env python3
"""nginx 1.22 (Debian) in front of `echo`: `scgi_pass` over TCP and a Unix
socket with `include scgi_params;`, X-Accel-Redirect, timeouts, a backend
that is down, buffering both ways, `scgi_request_buffering off`, and the
lines users leave out (`include scgi_params;`, `client_max_body_size`)."""

import os
import pwd
import unittest

import harness
from checks import DeploymentChecks, FrontEndChecks, env_dict, MiB
from frontends import Nginx
from harness import parse_env, parse_scgi, read_text, record, sha256


class NginxChecks(FrontEndChecks):
    frontend = Nginx
    # CONTENT_LENGTH (nginx's own), then Debian's scgi_params in order (HTTPS
    # only `if_not_empty`; HTTP_HOST is `$host`: no port), then each request
    # header as HTTP_*.
    env_get = ("CONTENT_LENGTH", "REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "CONTENT_TYPE",
               "DOCUMENT_URI", "DOCUMENT_ROOT", "SCGI", "SERVER_PROTOCOL", "REQUEST_SCHEME",
               "REMOTE_ADDR", "REMOTE_PORT", "SERVER_PORT", "SERVER_NAME", "HTTP_HOST",
               "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_X_FOO")
    path_vars = ("DOCUMENT_URI",)
    chunked = "dechunked"

    def test_env_get_values(self):
        env = env_dict(self.env("/app/env?a=1"))
        self.assertEqual(env["CONTENT_TYPE"], b"")  # sent even when empty
        self.assertEqual(env["DOCUMENT_URI"], b"/app/env")
        self.assertEqual(env["HTTP_HOST"], b"127.0.0.1")
        self.assertEqual(env["SERVER_NAME"], b"localhost")

    def post_extras(self, env):
        # The request's own Content-Length and Content-Type headers are
        # forwarded too (equal to CONTENT_LENGTH when buffering).
        self.assertEqual(env["HTTP_CONTENT_LENGTH"], b"3")
        self.assertEqual(env["HTTP_CONTENT_TYPE"], b"text/x-test")

    def check_encoded_slash(self, r):
        # Decoded like any other byte: the application cannot tell %2F from /.
        self.assertEqual(r.status, 200, repr(r))
        env = env_dict(parse_env(r.body))
        self.assertEqual(env["REQUEST_URI"], b"/app/a%2Fb/env")
        self.assertEqual(env["DOCUMENT_URI"], b"/app/a/b/env")


class NginxTcp(NginxChecks, unittest.TestCase):
    transport = "tcp"


class NginxUnix(NginxChecks, unittest.TestCase):
    transport = "unix"


class NginxDeployment(DeploymentChecks, unittest.TestCase):
    frontend = Nginx
    down_status = 502
    timeout_status = 504
    handoff = "uri"
    handoff_snippets = ("nginx-tcp", "nginx-file-handoff")
    handoff_denied_status = 404  # "unsafe URI ... was detected" in the error log
    # nginx reads the whole body before it connects (scgi_request_buffering
    # on), holds small response pieces (scgi_buffering on), and stops sending
    # the body once it has passed the response head on.
    streams_request_body = False
    streams_response = False
    full_duplex = False
    extra_snippets = ("nginx-request-buffering-off", "nginx-response-streaming")

    def test_response_streaming(self):
        """`scgi_buffering off` passes each response piece on as it arrives
        (the request body is still buffered first)."""
        self.check_buffering("scgi-buffering-off", ["nginx-response-streaming"], False, True,
                             path="/app/events/progress")

    def test_response_streaming_by_header(self):
        """A response with `X-Accel-Buffering: no` is passed on unbuffered,
        whatever scgi_buffering says."""
        self.check_buffering("x-accel-buffering-no", ["nginx-tcp"], False, True,
                             extra_head=b"X-Accel-Buffering: no\r\n")

    def check_peer_filter(self, transport, admitting, refusing, refused_line):
        """One nginx in front of echo: first an echo whose peer filter
        (`admitting`) lets nginx in (served), then, on the same socket, one
        whose filter (`refusing`) does not: the connection is closed without
        an answer, nginx answers 502 twice, and echo logs one line for both."""
        where = ("tcp", self.backend_port) if transport == "tcp" else ("unix", self.socket_path)
        fe = self.start_frontend(["nginx-%s" % transport])
        admitted = self.start_echo(where, name="echo-admits", extra=admitting)
        r = self.get(fe, "/app/echo", data=b"hello")
        self.assertEqual((r.status, r.body), (200, b"hello"), repr(r))
        admitted.stop()
        self.start_echo(where, name="echo-refuses", extra=refusing)
        statuses = [self.get(fe, "/app/echo", data=b"hello").status for _ in range(2)]
        self.assertEqual(statuses, [502, 502])
        log = read_text(self.box.path("echo-refuses.log"))
        refusals = [l for l in log.splitlines() if "refused a connection" in l]
        record("nginx-peer-filter-%s.txt" % transport, "nginx statuses %r\necho's log:\n%s" % (statuses, log))
        self.assertEqual(len(refusals), 1, log)
        self.assertIn(refused_line, refusals[0])
        self.assertNotIn("refused", read_text(self.box.path("echo-admits.log")))

    def test_peer_filter_tcp(self):
        """`echo --allow-peer`: nginx at 127.0.0.1 is served when listed,
        refused (502, one log line) when only 10.0.0.0/8 is."""
        self.check_peer_filter("tcp", ["--allow-peer", "10.0.0.0/8", "--allow-peer", "127.0.0.1"],
                               ["--allow-peer", "10.0.0.0/8"], "refused a connection from 127.0.0.1 on")

    def test_peer_filter_unix_uid(self):
        """`echo --allow-uid`: nginx's workers (www-data as root, else this
        user) are served when their uid is listed, refused when another is."""
        workers = pwd.getpwnam(harness.WEB_USER).pw_uid if harness.IS_ROOT else os.geteuid()
        self.check_peer_filter("unix", ["--allow-uid", str(workers)], ["--allow-uid", str(workers + 4242)],
                               "refused a connection from uid %d " % workers)

    def test_without_include_scgi_params(self):
        """Without `include scgi_params;` nginx sends CONTENT_LENGTH and the
        HTTP_* headers only, no SCGI header: the server refuses the request
        with 400, and the body names the missing line."""
        echo = self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend_text([self.snippet_without("nginx-tcp", "include scgi_params;")])
        r = self.get(fe, "/app/env")
        record("nginx-without-scgi-params.txt", "%r\n%s" % (r, r.body.decode("utf-8", "replace")))
        self.assertEqual(r.status, 400, repr(r))
        self.assertIn(b"include scgi_params;", r.body)
        self.assertIn("SCGI header is missing", read_text(self.box.path("echo.log")))
        echo.stop()

    def test_scgi_param_twice_is_refused(self):
        """A second `scgi_param` for a name scgi_params already sets (here
        HTTP_HOST, to keep the port) does not replace it: nginx sends the
        name twice, and the server refuses the request with 400."""
        self.start_echo(("tcp", self.backend_port))
        text = self.snippet("nginx-tcp", self.values)
        self.assertIn("include scgi_params;\n", text)
        text = text.replace("include scgi_params;\n", "include scgi_params;\n    scgi_param HTTP_HOST $http_host;\n")
        fe = self.start_frontend_text([text])
        r = self.get(fe, "/app/env")
        self.assertEqual(r.status, 400, repr(r))
        self.assertIn(b"header name appears more than once", r.body)

    def test_default_client_max_body_size(self):
        """Without client_max_body_size, nginx refuses a body over 1 MiB
        with 413 itself: the backend never sees the request."""
        recorder = harness.Recorder(idle=1.0)
        self.addCleanup(recorder.close)
        values = dict(self.values, **{"4000": recorder.port})
        fe = self.start_frontend_text([self.snippet_without("nginx-tcp", "client_max_body_size", values)])
        r = self.get(fe, "/app/echo", data=os.urandom(1 * MiB + 1))
        self.assertEqual(r.status, 413, repr(r))
        self.assertIn(b"413 Request Entity Too Large", r.body)
        self.assertEqual(recorder.connections, [])
        r = self.get(fe, "/app/echo", data=os.urandom(1 * MiB))
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(len(recorder.connections), 1)

    def test_mount_without_trailing_slash(self):
        """`location /app/` with scgi_pass answers /app with a 301 to /app/."""
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend(["nginx-tcp"])
        r = self.get(fe, "/app")
        self.assertEqual(r.status, 301, repr(r))
        self.assertEqual(r.headers.get("location"), fe.url("/app/"))

    def test_request_buffering_off_what_nginx_sends(self):
        """Records the bytes nginx sends with `scgi_request_buffering off`.

        nginx 1.22's SCGI module writes CONTENT_LENGTH as the number of body
        bytes it has *already read* when it connects (0 if curl waits for
        100 Continue, a few KiB otherwise), forwards the real length as
        HTTP_CONTENT_LENGTH, then streams the whole body anyway. A chunked
        upload is not streamed: nginx buffers it and sends the real length."""
        recorder = harness.Recorder(idle=1.0)
        self.addCleanup(recorder.close)
        fe = self.start_frontend(["nginx-request-buffering-off"], dict(self.values, **{"4000": recorder.port}))
        body = os.urandom(1 * MiB)
        report = []
        for label, kw in (("Content-Length, Expect: 100-continue", {}),
                          ("Content-Length, no Expect", {"headers": ["Expect:"]}),
                          ("chunked", {"chunked": True})):
            before = len(recorder.connections)
            r = self.get(fe, "/app/upload/echo", data=body, max_time=30, **kw)
            self.assertEqual(r.status, 200, repr(r))
            self.assertEqual(len(recorder.connections), before + 1)
            headers, after = parse_scgi(recorder.connections[before])
            env = dict(headers)
            self.assertEqual(headers[0][0], "CONTENT_LENGTH")
            declared = int(env["CONTENT_LENGTH"])
            # The whole body always follows the header block.
            self.assertEqual(after, body)
            if label == "chunked":
                self.assertEqual(declared, len(body))
                self.assertEqual(env.get("HTTP_TRANSFER_ENCODING"), b"chunked")
            else:
                # The declared length is only what nginx had read; the real
                # one is in HTTP_CONTENT_LENGTH.
                self.assertLess(declared, len(body))
                self.assertEqual(env["HTTP_CONTENT_LENGTH"], str(len(body)).encode())
            report.append("%s: CONTENT_LENGTH=%d HTTP_CONTENT_LENGTH=%s HTTP_TRANSFER_ENCODING=%s, "
                          "%d bytes after the header block (body %d)" % (
                              label, declared, env.get("HTTP_CONTENT_LENGTH", b"-").decode(),
                              env.get("HTTP_TRANSFER_ENCODING", b"-").decode(), len(after), len(body)))
            head = recorder.connections[before][:recorder.connections[before].index(b",") + 1]
            report.append("  header block: %r" % head[:600])
        record("nginx-request-buffering-off.txt", "\n".join(report) + "\n")

    def test_request_buffering_off_chunked_is_buffered(self):
        """A chunked upload through `scgi_request_buffering off` reaches echo
        whole (nginx buffers it, with the real CONTENT_LENGTH)."""
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend(["nginx-request-buffering-off"])
        body = os.urandom(8 * MiB)
        r = self.get(fe, "/app/upload/echo", data=body, chunked=True, max_time=30)
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(len(r.body), len(body))
        self.assertEqual(sha256(r.body), sha256(body))

    def test_request_buffering_off_content_length_is_refused_not_silently_wrong(self):
        """With `scgi_request_buffering off`, a Content-Length upload reaches
        the application with a CONTENT_LENGTH that is only what nginx had read
        (see above). The library compares it with HTTP_CONTENT_LENGTH and
        refuses the request (error::content_length_disagrees, 400, a log line
        naming the cause): an error, never a 2xx with a truncated body."""
        echo = self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend(["nginx-request-buffering-off"])
        body = os.urandom(1 * MiB)
        outcomes = []
        for label, headers in (("Expect: 100-continue", []), ("no Expect", ["Expect:"])):
            r = self.get(fe, "/app/upload/echo", data=body, headers=headers, max_time=30)
            outcomes.append("%s: %r, body intact: %s" % (label, r, r.body == body))
            self.assertEqual(r.status, 400, "%s: %r" % (label, r))
            self.assertIn(b"scgi_request_buffering off", r.body, label)
        log = read_text(self.box.path("echo.log"))
        record("nginx-request-buffering-off-echo.txt", "\n".join(outcomes) + "\necho's log:\n" + log)
        self.assertIn("CONTENT_LENGTH differs from the forwarded HTTP Content-Length", log)
        echo.stop()

    def test_request_buffering_off_streams_with_the_lenient_switch(self):
        """With parser_options::body_length_from_http_content_length (echo
        --nginx-unbuffered), the body length comes from HTTP_CONTENT_LENGTH:
        uploads stream through nginx unbuffered and come back whole."""
        self.start_echo(("tcp", self.backend_port), extra=["--nginx-unbuffered"])
        fe = self.start_frontend(["nginx-request-buffering-off"])
        body = os.urandom(8 * MiB)
        for label, headers in (("Expect: 100-continue", []), ("no Expect", ["Expect:"])):
            r = self.get(fe, "/app/upload/echo", data=body, headers=headers, max_time=30)
            self.assertEqual(r.status, 200, "%s: %r" % (label, r))
            self.assertEqual(len(r.body), len(body), label)
            self.assertEqual(sha256(r.body), sha256(body), label)


if __name__ == "__main__":
    harness.main()
