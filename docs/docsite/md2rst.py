# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's docsite pages, made from docs/*.md: the guides stay one Markdown source (what the repository
shows), and antsibull-docs, which publishes RST only, gets docs/docsite/rst/*.rst written from them.

    python3 docs/docsite/md2rst.py          write docs/docsite/rst/ and extra-docs.yml
    python3 docs/docsite/md2rst.py --check  exit 1 when they differ from what the Markdown gives (a test runs it)

It converts the Markdown these guides use, not Markdown at large: headings, paragraphs, bullet and numbered lists
(nested by indentation), fenced code blocks (also inside list items), pipe tables, inline code, bold, emphasis
and links. Anything else is passed through as text, escaped.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.dirname(HERE)
RST_DIR = os.path.join(HERE, "rst")
INDEX = os.path.join(HERE, "extra-docs.yml")
PREFIX = "ansible_collections.hostnet.qemu.docsite."
UNDERLINE = {1: "=", 2: "-", 3: "~", 4: "^"}
HEADER = ".. Made by docs/docsite/md2rst.py from docs/%s: edit that file, then run the script.\n\n"

_INLINE = re.compile(r"(`+)(.+?)\1|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_SPECIAL = re.compile(r"([\\*`|])|(?<=\w)_(?=\W|$)")


def label(name):
    return PREFIX + name[:-3].replace("-", "_")


def _escape(text):
    return _SPECIAL.sub(lambda m: "\\" + (m.group(1) or "_"), text)


def _wrap(markup, before, after):
    """Inline markup must stand apart from word characters around it; a backslash-space joins it to them."""
    if before and (before[-1].isalnum() or before[-1] in "_"):
        markup = "\\ " + markup
    if after and (after[0].isalnum() or after[0] in "_("):
        markup += "\\ "
    return markup


def inline(text):
    out, pos = [], 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[pos:match.start()]))
        code, bold, link_text, url, emphasis = match.group(2), match.group(3), match.group(4), match.group(5), match.group(6)
        if code is not None:
            markup = "``%s``" % code.strip() if code.strip() else _escape(match.group(0))
        elif bold is not None:
            markup = "**%s**" % _plain(bold)
        elif link_text is not None:
            if url.endswith(".md") and "/" not in url:
                markup = ":ref:`%s <%s>`" % (_plain(link_text).replace("<", "\\<"), label(url))
            elif "://" in url:
                markup = "`%s <%s>`__" % (_plain(link_text).replace("<", "\\<"), url)
            else:
                markup = "%s (``%s``)" % (inline(link_text), url)
        else:
            markup = "*%s*" % _plain(emphasis)
        out.append(_wrap(markup, text[:match.start()], text[match.end():]))
        pos = match.end()
    out.append(_escape(text[pos:]))
    return "".join(out)


def _plain(text):
    """Text inside bold, emphasis or a link: no nested markup in RST, so code marks are dropped."""
    return _escape(re.sub(r"`+([^`]+)`+", r"\1", text))


def _cells(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _table(rows, indent):
    pad = " " * indent
    out = [pad + ".. list-table::", pad + "   :header-rows: 1", ""]
    width = len(rows[0])
    for row in rows:
        row = (row + [""] * width)[:width]
        for i, cell in enumerate(row):
            out.append(pad + ("   * - " if i == 0 else "     - ") + (inline(cell) or "\\ "))
    return out + [""]


def convert(text):
    """One guide's Markdown as RST (without its label)."""
    lines, out, stack, i = text.split("\n"), [], [], 0  # stack: (md marker indent, md text indent, rst text indent)
    lazy = False  # the line before was list text: an unindented line goes on with it (as in Markdown)
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        indent = len(line) - len(line.lstrip(" "))
        heading = re.match(r"^(#{1,4}) (.*)$", line)
        item = re.match(r"^( *)([-*]|\d+\.) (.*)$", line)
        if not stripped:
            out.append("")
            lazy = False
            i += 1
            continue
        if item:
            while stack and stack[-1][0] >= len(item.group(1)):
                stack.pop()
        depth = len(stack)
        if not item and not (lazy and indent == 0):
            while stack and stack[-1][1] > indent:
                stack.pop()
        pad = " " * (stack[-1][2] if stack else 0)
        if out and out[-1] != "" and (heading or item or stripped.startswith(("```", "|")) or len(stack) < depth):
            out.append("")  # RST wants a blank line before each of these, and where a list ends
        lazy = False
        if heading:
            title = inline(heading.group(2).strip())
            out += [title, UNDERLINE[len(heading.group(1))] * max(len(title), 4), ""]
            stack = []
        elif stripped.startswith("```"):
            lang, block = stripped[3:].strip() or "text", []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i][indent:] if not lines[i][:indent].strip() else lines[i].lstrip())
                i += 1
            out += [pad + ".. code-block:: " + lang, ""] + [(pad + "   " + b).rstrip() for b in block] + [""]
        elif stripped.startswith("|") and i + 1 < len(lines) and re.match(r"^\s*\|[\s:|-]+\|\s*$", lines[i + 1]):
            rows, i = [_cells(line)], i + 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out += _table(rows, len(pad))
            continue
        elif item:
            marker = "-" if item.group(2) in ("-", "*") else "#."
            out.append(pad + marker + " " + inline(item.group(3)))
            stack.append((len(item.group(1)), len(item.group(1)) + len(item.group(2)) + 1, len(pad) + len(marker) + 1))
            lazy = True
        else:
            out.append(pad + inline(stripped))
            lazy = bool(stack)
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"


def pages():
    """{markdown file name: rst text} for every guide in docs/."""
    found = {}
    for name in sorted(os.listdir(DOCS)):
        if name.endswith(".md"):
            with open(os.path.join(DOCS, name), encoding="utf-8") as handle:
                body = convert(handle.read())
            found[name] = HEADER % name + ".. _%s:\n\n" % label(name) + body
    return found


def index(names):
    lines = ["---", "# Made by docs/docsite/md2rst.py from docs/*.md.", "sections:", "  - title: Guides", "    toctree:"]
    return "\n".join(lines + ["      - " + name[:-3] for name in names]) + "\n"


def main(argv):
    want = dict(("rst/%s.rst" % name[:-3], text) for name, text in pages().items())
    want["extra-docs.yml"] = index(sorted(name for name in pages()))
    have = {}
    for rel in want:
        path = os.path.join(HERE, rel)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                have[rel] = handle.read()
    stale = sorted(rel for rel in want if have.get(rel) != want[rel])
    extra = sorted("rst/" + f for f in (os.listdir(RST_DIR) if os.path.isdir(RST_DIR) else []) if "rst/" + f not in want)
    if "--check" in argv:
        for rel in stale + extra:
            sys.stdout.write("docs/docsite/%s is not what docs/*.md give: run python3 docs/docsite/md2rst.py\n" % rel)
        return 1 if stale or extra else 0
    os.makedirs(RST_DIR, exist_ok=True)
    for rel in stale:
        with open(os.path.join(HERE, rel), "w", encoding="utf-8") as handle:
            handle.write(want[rel])
    for rel in extra:
        os.unlink(os.path.join(HERE, rel))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
