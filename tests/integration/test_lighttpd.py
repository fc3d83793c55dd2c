#!/usr/bin/env python3
"""lighttpd 1.4 (Debian) with mod_scgi in front of `echo`: `scgi.server`
over TCP and a Unix socket, X-Sendfile, timeouts, a backend that is down,
buffering and streaming both ways, and the lines users leave out."""

import os
import unittest

import harness
from checks import DeploymentChecks, FrontEndChecks, env_dict, MiB
from frontends import Lighttpd
from harness import parse_env, sha256


class LighttpdChecks(FrontEndChecks):
    frontend = Lighttpd
    # CONTENT_LENGTH first and SCGI last.
    env_get = ("CONTENT_LENGTH", "QUERY_STRING", "REQUEST_URI", "REDIRECT_STATUS", "SCRIPT_NAME",
               "SCRIPT_FILENAME", "DOCUMENT_ROOT", "REQUEST_METHOD", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
               "GATEWAY_INTERFACE", "REQUEST_SCHEME", "SERVER_PORT", "SERVER_ADDR", "SERVER_NAME",
               "REMOTE_ADDR", "REMOTE_PORT", "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_X_FOO",
               "SCGI")
    path_vars = ("SCRIPT_NAME", "PATH_INFO")
    chunked = "dechunked"
    forwards_transfer_encoding = False

    def test_env_get_values(self):
        env = env_dict(self.env("/app/env?a=1"))
        self.assertEqual(env["SCRIPT_NAME"], b"/app/env")
        self.assertNotIn("PATH_INFO", env)
        # With "/app/" as the prefix, lighttpd splits a deeper path after the
        # first segment below it.
        env = env_dict(self.env("/app/x/y/env"))
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), (b"/app/x", b"/y/env"))

    def post_extras(self, env):
        self.assertEqual(env["HTTP_CONTENT_LENGTH"], b"3")
        self.assertNotIn("HTTP_CONTENT_TYPE", env)

    def check_not_utf8_path(self, r):
        # lighttpd refuses a path that decodes to bytes that are not UTF-8.
        self.assertEqual(r.status, 400, repr(r))

    def check_encoded_slash(self, r):
        # %2F is decoded (url-path-2f-decode) and then splits the path.
        self.assertEqual(r.status, 200, repr(r))
        env = env_dict(parse_env(r.body))
        self.assertEqual(env["REQUEST_URI"], b"/app/a%2Fb/env")
        self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), (b"/app/a", b"/b/env"))


class LighttpdTcp(LighttpdChecks, unittest.TestCase):
    transport = "tcp"


class LighttpdUnix(LighttpdChecks, unittest.TestCase):
    transport = "unix"


class LighttpdDeployment(DeploymentChecks, unittest.TestCase):
    frontend = Lighttpd
    down_status = 503
    timeout_status = 504
    handoff = "path"
    handoff_snippets = ("lighttpd-file-handoff",)
    handoff_denied_status = 403  # "not under configured x-sendfile-docroot(s)" in the error log
    # A backend that failed a connect is disabled for "disable-time" (1 s),
    # checked on lighttpd's one-second tick.
    recovery_seconds = 3
    # lighttpd reads the whole body before it connects and holds the
    # response (server.stream-request-body and server.stream-response-body
    # 0), and reads the response while it sends the body.
    streams_request_body = False
    streams_response = False
    full_duplex = True
    extra_snippets = ("lighttpd-mount", "lighttpd-streaming")

    def test_streaming_both_ways(self):
        """server.stream-request-body = 2 and server.stream-response-body = 2:
        the backend gets the body as it arrives and the client each response
        piece at once; with echo --full-duplex a body streams both ways at
        once. A chunked upload too large to arrive with the head is refused
        with 411 (lighttpd cannot give CONTENT_LENGTH without buffering it)."""
        self.check_buffering("streaming", ["lighttpd-streaming"], True, True)
        self.start_echo(("tcp", self.backend_port), extra=["--full-duplex"])
        fe = self.start_frontend(["lighttpd-streaming"])
        body = os.urandom(16 * MiB)
        r = self.get(fe, "/app/echo", data=body, max_time=30)
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(sha256(r.body), sha256(body))
        r = self.get(fe, "/app/echo", data=os.urandom(1 * MiB), chunked=True, max_time=30)
        self.assertEqual(r.status, 411, repr(r))

    def test_mount_itself_not_matched(self):
        """The prefix "/app/" does not match /app: 404 from lighttpd."""
        recorder = harness.Recorder(idle=0.5)
        self.addCleanup(recorder.close)
        fe = self.start_frontend(["lighttpd-tcp"], dict(self.values, **{"4000": recorder.port}))
        r = self.get(fe, "/app")
        self.assertEqual(r.status, 404, repr(r))
        self.assertEqual(recorder.connections, [])

    def test_x_sendfile_without_docroot(self):
        """Without "x-sendfile-docroot", lighttpd sends any file it may read."""
        secret = self.box.write("secret.txt", b"not for the web\n")
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend_text([self.snippet_without("lighttpd-file-handoff", "x-sendfile-docroot")])
        r = self.get(fe, "/app/file?path=" + secret)
        self.assertEqual((r.status, r.body), (200, b"not for the web\n"), repr(r))

    def test_check_local_default(self):
        """Without "check-local" => "disable", lighttpd looks for the path as
        a file under its document root and answers 404 itself."""
        recorder = harness.Recorder(idle=1.0)
        self.addCleanup(recorder.close)
        values = dict(self.values, **{"4000": recorder.port})
        fe = self.start_frontend_text([self.snippet_without("lighttpd-tcp", "check-local", values)])
        r = self.get(fe, "/app/env")
        self.assertEqual(r.status, 404, repr(r))
        self.assertEqual(recorder.connections, [])

    def test_mount_without_trailing_slash(self):
        """"/app" (no slash) splits the path at the mount point: SCRIPT_NAME
        is the mount, PATH_INFO the rest (with "/app/" the split falls after
        the first segment below it; see LighttpdChecks). It is a plain
        prefix: /application matches too."""
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend(["lighttpd-mount"])
        for path, expected in (("/app/env", (b"/app", b"/env")), ("/app/x/y/env", (b"/app", b"/x/y/env")),
                               # A plain prefix: it matches /application too.
                               ("/application/env", (b"/application", b"/env"))):
            r = self.get(fe, path)
            self.assertEqual(r.status, 200, repr(r))
            env = env_dict(parse_env(r.body))
            self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), expected)


if __name__ == "__main__":
    harness.main()
