#!/usr/bin/env python3
"""Every configuration snippet in docs/ is one that a test runs.

A fenced block in a configuration language (nginx, apache, lighttpd, ini,
systemd) must be directly preceded by `<!-- config: NAME -->`, and every NAME
must be used by a test class of this directory (its `snippets_used()`); a
test class may only use names that exist. Needs no front end and no echo."""

import inspect
import os
import unittest

import harness

TEST_MODULES = ("test_nginx", "test_apache", "test_lighttpd", "test_scaleout")


def snippet_users():
    """{snippet name: [test classes using it]} over every test module."""
    users = {}
    for module_name in TEST_MODULES:
        module = __import__(module_name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, harness.SnippetUser) and issubclass(cls, unittest.TestCase)
                    and cls.__module__ == module_name):
                for name in cls.snippets_used():
                    users.setdefault(name, []).append("%s.%s" % (module_name, cls.__name__))
    return users


class DocsSnippets(unittest.TestCase):
    def test_every_config_block_has_a_marker(self):
        missing = []
        for path in harness.doc_files():
            for language, _, marker, line in harness.read_fences(path):
                if language in harness.CONFIG_LANGUAGES and marker is None:
                    missing.append("%s:%d (%s)" % (os.path.relpath(path, harness.SOURCE_DIR), line, language))
        self.assertEqual(missing, [], "configuration blocks without <!-- config: NAME --> (so no test runs them)")

    def test_every_marker_is_used_by_a_test(self):
        snippets = harness.all_snippets()  # also fails on a name used twice
        self.assertTrue(snippets, "no snippets found in docs/")
        users = snippet_users()
        unused = sorted(n for n in snippets if n not in users)
        self.assertEqual(unused, [], "snippets in docs/ that no test runs")

    def test_every_snippet_a_test_uses_exists(self):
        snippets = harness.all_snippets()
        missing = sorted("%s (%s)" % (n, ", ".join(c)) for n, c in snippet_users().items() if n not in snippets)
        self.assertEqual(missing, [], "snippets the tests take from docs/ but docs/ lacks")

    def test_placeholders_are_known(self):
        # A snippet may only hold the documented placeholders: a value that
        # looks like one but is not (another port, another /run path) would
        # not be replaced and the test would run something else.
        import re
        allowed = set(harness.WORD_PLACEHOLDERS) | {"60"}
        for name, (language, text, path) in harness.all_snippets().items():
            for number in re.findall(r"(?<![0-9.])[0-9]{4}(?![0-9])", text):
                if number not in allowed and not re.fullmatch(r"0[0-7]{3}", number):
                    self.fail("snippet %s (%s) holds %s, not a documented placeholder" % (name, path, number))
            for match in re.findall(r"/(?:run|srv|opt)/[A-Za-z0-9_./-]*", text):
                if not any(match.startswith(p) for p in harness.PATH_PLACEHOLDERS):
                    self.fail("snippet %s (%s) holds the path %s, not a documented placeholder" % (name, path, match))


if __name__ == "__main__":
    harness.main(needs_echo=False)
