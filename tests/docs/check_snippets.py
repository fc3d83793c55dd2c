#!/usr/bin/env python3
"""Code in the documentation that is a file of the project, kept identical.

A block in README.md or docs/*.md preceded by the comment
`<!-- file: PATH -->` (PATH relative to the repository) must hold exactly
PATH's text. The file itself is compiled (and, for the examples, run) by the
build and the tests, so the block cannot drift into code that does not
compile.

    check_snippets.py REPOSITORY
"""

import difflib
import glob
import os
import re
import sys

MARKER = re.compile(r"<!-- file: (\S+) -->\n(?:[ \t]*\n)*```[a-z+]*\n(.*?)```", re.S)


def check(root):
    documents = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    problems = []
    checked = 0
    for document in documents:
        text = open(document, encoding="utf-8").read()
        markers = text.count("<!-- file: ")
        blocks = MARKER.findall(text)
        if len(blocks) != markers:
            problems.append("%s: %d file markers, %d followed by a code block" % (document, markers, len(blocks)))
        for path, block in blocks:
            source = os.path.join(root, path)
            if not os.path.isfile(source):
                problems.append("%s: the block names %s, which does not exist" % (document, path))
                continue
            wanted = open(source, encoding="utf-8").read()
            checked += 1
            if block != wanted:
                diff = "".join(difflib.unified_diff(wanted.splitlines(True), block.splitlines(True), path,
                                                    document + " (block)"))
                problems.append("%s: the block differs from %s:\n%s" % (document, path, diff))
    return checked, problems


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    checked, problems = check(sys.argv[1])
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    if checked == 0:
        sys.exit("check_snippets: no <!-- file: PATH --> block found")
    print("check_snippets: %d blocks identical to their files" % checked)


if __name__ == "__main__":
    main()
