#!/usr/bin/env python3
"""Apache httpd 2.4 (Debian) with mod_proxy_scgi in front of `echo`:
`ProxyPass` to TCP and to a Unix socket (`unix:/path|scgi://localhost/`),
X-Sendfile with mod_xsendfile, timeouts, a backend that is down, buffering,
internal redirects, and a missing mod_proxy_scgi."""

import os
import unittest

import harness
from checks import DeploymentChecks, FrontEndChecks, env_dict
from frontends import Apache
from harness import parse_scgi, record


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


class ApacheWithoutProxyScgi(Apache):
    """Apache with mod_proxy but without mod_proxy_scgi (`a2enmod proxy`
    alone)."""
    modules = tuple(m for m in Apache.modules if m != "proxy_scgi")


class ApacheDeployment(DeploymentChecks, unittest.TestCase):
    frontend = Apache
    down_status = 503
    timeout_status = 504
    handoff = "path"
    handoff_snippets = ("apache-tcp", "apache-file-handoff")
    handoff_denied_status = 404  # "xsendfile: unable to find file" in the error log
    # mod_proxy_scgi connects at once and sends the body as it arrives, but
    # reads nothing of the response before the whole body is sent; it passes
    # the response on as it reads it.
    streams_request_body = True
    streams_response = True
    full_duplex = False

    def test_location_with_status_200_is_an_internal_redirect(self):
        """A response with status 200 and a Location path: mod_proxy_scgi
        (ProxySCGIInternalRedirect, on by default) serves that path instead,
        as an internal redirect; the client never sees the response."""
        self.box.write(os.path.join("www", "moved.txt"), b"served by Apache\n")
        recorder = harness.Recorder(reply=b"Status: 200 OK\r\nLocation: /moved.txt\r\n"
                                          b"Content-Type: text/plain\r\n\r\nfrom the application\n", idle=0.5)
        self.addCleanup(recorder.close)
        fe = self.start_frontend(["apache-tcp"], dict(self.values, **{"4000": recorder.port}))
        r = self.get(fe, "/app/x")
        self.assertEqual((r.status, r.body), (200, b"served by Apache\n"), repr(r))
        self.assertEqual(len(recorder.connections), 1)
        fe.stop()
        # Back into the application: the redirected request keeps the
        # client's REQUEST_URI (only SCRIPT_NAME changes), so it loops until
        # Apache gives up.
        looping = harness.Recorder(reply=b"Status: 200 OK\r\nLocation: /app/again\r\n\r\n", idle=0.2)
        self.addCleanup(looping.close)
        fe = self.start_frontend(["apache-tcp"], dict(self.values, **{"4000": looping.port}))
        r = self.get(fe, "/app/x")
        self.assertEqual(r.status, 500, repr(r))
        self.assertGreater(len(looping.connections), 2)
        env = dict(parse_scgi(looping.connections[1])[0])
        self.assertEqual((env["REQUEST_URI"], env["SCRIPT_NAME"]), (b"/app/x", b"/app/again"))
        record("apache-internal-redirect.txt", "a 200 with Location: /app/again: HTTP %d after %d requests to "
               "the application\n" % (r.status, len(looping.connections)))

    def test_mount_without_trailing_slash(self):
        """`ProxyPass "/app/"` does not match `/app`: Apache answers it from
        its document root (404), without contacting the application."""
        recorder = harness.Recorder(idle=0.5)
        self.addCleanup(recorder.close)
        fe = self.start_frontend(["apache-tcp"], dict(self.values, **{"4000": recorder.port}))
        r = self.get(fe, "/app")
        self.assertEqual(r.status, 404, repr(r))
        self.assertEqual(recorder.connections, [])

    def test_without_mod_proxy_scgi(self):
        """ProxyPass to scgi:// without mod_proxy_scgi loaded: Apache starts,
        and answers 500 with AH01144 in its error log."""
        self.start_echo(("tcp", self.backend_port))
        fe = self.start_frontend_text([self.snippet("apache-tcp", self.values)], frontend=ApacheWithoutProxyScgi)
        r = self.get(fe, "/app/env")
        self.assertEqual(r.status, 500, repr(r))
        self.assertIn("AH01144: No protocol handler was valid", fe.log())


if __name__ == "__main__":
    harness.main()
