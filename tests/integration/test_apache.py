#!/usr/bin/env python3
"""Apache httpd 2.4 (Debian) with mod_proxy_scgi in front of `echo`:
`ProxyPass` to TCP and to a Unix socket (`unix:/path|scgi://localhost/`),
X-Sendfile with mod_xsendfile, timeouts, a backend that is down."""

import unittest

import harness
from checks import DeploymentChecks, FrontEndChecks, env_dict
from frontends import Apache


class ApacheChecks(FrontEndChecks):
    frontend = Apache
    # CONTENT_LENGTH and SCGI first, the request headers, then the CGI set
    # (ap_add_common_vars + ap_add_cgi_vars), including PATH from Apache's
    # own environment.
    env_get = ("CONTENT_LENGTH", "SCGI", "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_X_FOO",
               "PATH", "SERVER_SIGNATURE", "SERVER_SOFTWARE", "SERVER_NAME", "SERVER_ADDR", "SERVER_PORT",
               "REMOTE_ADDR", "DOCUMENT_ROOT", "REQUEST_SCHEME", "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT",
               "SERVER_ADMIN", "SCRIPT_FILENAME", "REMOTE_PORT", "SERVER_PROTOCOL", "REQUEST_METHOD",
               "QUERY_STRING", "REQUEST_URI", "SCRIPT_NAME")
    path_vars = ("SCRIPT_NAME",)
    chunked = 411

    def test_env_get_values(self):
        env = env_dict(self.env("/app/env?a=1"))
        self.assertEqual(env["SCRIPT_NAME"], b"/app/env")  # no PATH_INFO: the whole path
        self.assertEqual(env["HTTP_HOST"], ("127.0.0.1:%d" % self.fe.port).encode())
        self.assertTrue(env["SCRIPT_FILENAME"].startswith(b"proxy:scgi://"))
        self.assertEqual(env["SERVER_ADDR"], b"127.0.0.1")

    def post_extras(self, env):
        # Content-Length and Content-Type are not repeated as HTTP_*.
        self.assertNotIn("HTTP_CONTENT_LENGTH", env)
        self.assertNotIn("HTTP_CONTENT_TYPE", env)

    def check_encoded_slash(self, r):
        # AllowEncodedSlashes Off (the default): 404 before the backend.
        self.assertEqual(r.status, 404, repr(r))
        self.assertNotIn(b"no such path", r.body)


class ApacheTcp(ApacheChecks, unittest.TestCase):
    transport = "tcp"


class ApacheUnix(ApacheChecks, unittest.TestCase):
    transport = "unix"


class ApacheDeployment(DeploymentChecks, unittest.TestCase):
    frontend = Apache
    down_status = 503
    timeout_status = 504
    handoff = "path"
    handoff_snippets = ("apache-tcp", "apache-file-handoff")
    handoff_denied_status = 404  # "xsendfile: unable to find file" in the error log


if __name__ == "__main__":
    harness.main()
