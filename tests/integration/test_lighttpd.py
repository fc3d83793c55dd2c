#!/usr/bin/env python3
"""lighttpd 1.4 (Debian) with mod_scgi in front of `echo`: `scgi.server`
over TCP and a Unix socket, X-Sendfile, timeouts, a backend that is down."""

import unittest

import harness
from checks import DeploymentChecks, FrontEndChecks, env_dict
from frontends import Lighttpd
from harness import parse_env


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
    extra_snippets = ("lighttpd-mount",)

    def test_mount_without_trailing_slash(self):
        """"/app" (no slash) splits the path at the mount point: SCRIPT_NAME
        is the mount, PATH_INFO the rest (with "/app/" the split falls after
        the first segment below it; see LighttpdChecks)."""
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend(["lighttpd-mount"])
        for path, expected in (("/app/env", (b"/app", b"/env")), ("/app/x/y/env", (b"/app", b"/x/y/env"))):
            r = self.get(fe, path)
            self.assertEqual(r.status, 200, repr(r))
            env = env_dict(parse_env(r.body))
            self.assertEqual((env["SCRIPT_NAME"], env["PATH_INFO"]), expected)


if __name__ == "__main__":
    harness.main()
