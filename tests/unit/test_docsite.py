# -*- coding: utf-8 -*-
"""The docsite pages (docs/docsite/rst) are what docs/*.md give, and the converter writes the RST that the guides'
Markdown means. antsibull-docs lint-collection-docs (make lint) checks the pages' RST itself."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SPEC = importlib.util.spec_from_file_location("md2rst", os.path.join(ROOT, "docs", "docsite", "md2rst.py"))
md2rst = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(md2rst)


def test_the_docsite_is_made_from_the_guides_as_they_are(capsys):
    assert md2rst.main(["--check"]) == 0, capsys.readouterr().out


def test_every_guide_is_a_page_with_its_label():
    names = sorted(n for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md"))
    assert sorted(md2rst.pages()) == names
    assert md2rst.pages()["network-role.md"].split("\n")[2] == ".. _ansible_collections.hostnet.qemu.docsite.network_role:"


def test_headings_lists_code_and_tables():
    md = ("# The `x` role\n\nSome *words*, **bold** and `code`s; a_b and c_ stay text, 2*3 and a|b too.\n"
          "- one\n  goes on\n  - nested `n`\n- two, see [the guide](guest-role.md) and [a site](https://example.org/x)\n"
          "  ```yaml\n  - {a: 1}\n  ```\n\n| field | meaning |\n| --- | --- |\n| `a\\|b` | either |\n")
    assert md2rst.convert(md) == (
        "The ``x`` role\n==============\n\n"
        "Some *words*, **bold** and ``code``\\ s; a_b and c\\_ stay text, 2\\*3 and a\\|b too.\n\n"
        "- one\n  goes on\n\n  - nested ``n``\n\n"
        "- two, see :ref:`the guide <ansible_collections.hostnet.qemu.docsite.guest_role>` and"
        " `a site <https://example.org/x>`__\n\n"
        "  .. code-block:: yaml\n\n     - {a: 1}\n\n"
        ".. list-table::\n   :header-rows: 1\n\n   * - field\n     - meaning\n   * - ``a|b``\n     - either\n")


def test_a_line_after_a_nested_list_goes_back_to_its_item():
    assert md2rst.convert("- a\n  - b\n  back in a\n- c\n") == "- a\n\n  - b\n\n  back in a\n\n- c\n"
