"""The README's whole client program (examples/call.cpp) against `echo`:
its output and exit status, over a Unix socket and TCP on 127.0.0.1.

    test_call_example.py --call PATH --echo PATH [unittest args]
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402  (the integration tests' process machinery)

CALL = ""


class CallExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = harness.Sandbox("call")

    @classmethod
    def tearDownClass(cls):
        cls.sandbox.close()

    def echo(self, transport):
        name = "echo-%s" % transport
        where = ("unix", self.sandbox.path(name + ".sock")) if transport == "unix" else ("tcp", harness.free_port())
        e = harness.Echo(self.sandbox, where, name=name, group=None, mode=None)
        self.addCleanup(e.stop)
        return "unix:" + where[1] if transport == "unix" else "127.0.0.1:%d" % where[1]

    def call(self, *args):
        p = subprocess.run([CALL, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_a_get_and_its_body(self):
        for transport in ("unix", "tcp"):
            with self.subTest(transport=transport):
                endpoint = self.echo(transport)
                code, out, err = self.call(endpoint, "/env?a=1")
                self.assertEqual(code, 0, err)
                self.assertIn("REQUEST_METHOD=GET\n", out)
                self.assertIn("REQUEST_URI=/env?a=1\n", out)
                code, out, err = self.call(endpoint, "/nope")
                self.assertEqual((code, out), (1, "no such path: /nope\n"), err)

    def test_failures(self):
        code, _, err = self.call("unix:" + self.sandbox.path("nobody.sock"))
        self.assertEqual(code, 1)
        self.assertIn("call: ", err)
        self.assertEqual(self.call()[0], 2)


if __name__ == "__main__":
    CALL = harness.take_program_argument("--call", CALL, "the built call example")
    harness.main()
