# -*- coding: utf-8 -*-
"""bridge.conf: managed block, foreign lines, helper-equivalent parsing, effective ACL, validation."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _bridgeconf as bc
from ansible_collections.hostnet.qemu.plugins.module_utils import _bridgehelper
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

FOREIGN = "# distribution default\nallow virbr0\n"


def test_block_appended_and_foreign_lines_kept():
    text = bc.render(FOREIGN, bc.render_block(["br0"], [], [], False), exclusive=False)
    assert text.startswith(FOREIGN)
    assert text.endswith("%s\nallow br0\n%s\n" % (bc.BEGIN, bc.END))
    # Idempotent: rendering the result again gives the same text.
    assert bc.render(text, bc.render_block(["br0"], [], [], False), exclusive=False) == text


def test_block_replaced_in_place():
    text = "a\n%s\nallow old\n%s\nz\n" % (bc.BEGIN, bc.END)
    new = bc.render(text, ["allow br0"], exclusive=False)
    assert new == "a\n%s\nallow br0\n%s\nz\n" % (bc.BEGIN, bc.END)


def test_empty_block_removed():
    text = "allow x\n%s\nallow old\n%s\n" % (bc.BEGIN, bc.END)
    assert bc.render(text, [], exclusive=False) == "allow x\n"


def test_exclusive_drops_foreign_lines():
    assert bc.render(FOREIGN, ["allow br0"], exclusive=True) == "%s\nallow br0\n%s\n" % (bc.BEGIN, bc.END)


def test_broken_markers_refused():
    with pytest.raises(HostnetError):
        bc.split("%s\nallow a\n" % bc.BEGIN)


def test_render_block_sorted_by_kind():
    assert bc.render_block(["b", "a"], ["c"], ["/x"], True) == ["include /x", "allow all", "allow b", "allow a", "deny c"]


def test_validate_sorts_and_dedupes():
    assert bc.validate(["b", "a", "b"], ["all"], ["/x"], False) == (["a", "b"], ["all"], ["/x"])


def test_validate_allow_all_word():
    with pytest.raises(HostnetError) as err:
        bc.validate(["all"], [], [], False)
    assert str(err.value) == ("bridge_helper: 'all' in allow would let every user of the helper attach to every bridge;"
                              " set allow_all: true to mean that, or list the bridges by name")


@pytest.mark.parametrize("name,msg", [
    ("0123456789abcdef", "bridge_helper: allowed bridge '0123456789abcdef': name is 16 bytes long; Linux allows at most"
                         " 15, pick a shorter name"),
    ("br/0", "bridge_helper: allowed bridge 'br/0': name contains '/'; interface names may contain only letters,"
             " digits, '_', '.' and '-'"),
])
def test_validate_bad_names(name, msg):
    with pytest.raises(HostnetError) as err:
        bc.validate([name], [], [], False)
    assert str(err.value) == msg


def test_validate_relative_include():
    with pytest.raises(HostnetError):
        bc.validate([], [], ["rel.conf"], False)


def test_parse_rules_like_the_helper():
    rules, problems = bc.parse_rules(["  # c", "", "allow\tbr0 ", "deny  br1", "include /x", "bogus", "frob x"])
    assert rules == [("allow", "br0"), ("deny", "br1"), ("include", "/x")]
    assert len(problems) == 2


def test_effective_acl_deny_wins_and_includes():
    files = {"/inc": "deny br1\nallow br2\ninclude /inc\n"}
    acl = bc.effective_acl([("allow", "br0"), ("allow", "br1"), ("include", "/inc")], files.get)
    assert acl["allowed_bridges"] == ["br0", "br2"]
    assert acl["deny"] == ["br1"]
    acl = bc.effective_acl([("allow", "all"), ("deny", "br1")])
    assert acl["all_bridges_allowed"] and acl["allowed_bridges"] == []
    acl = bc.effective_acl([("allow", "br0"), ("deny", "all")])
    assert acl["allowed_bridges"] == [] and not acl["all_bridges_allowed"]


def test_parse_mode():
    assert _bridgehelper.parse_mode("0750") == 0o750
    assert _bridgehelper.parse_mode(None) is None
    assert _bridgehelper.parse_mode(0o640, "config_mode") == 0o640  # a YAML int is the bits
    for bad in ("4755", "abc", "0999", 0o4755, True, "0640\n"):
        with pytest.raises(HostnetError):
            _bridgehelper.parse_mode(bad)


def test_locate_not_found_message():
    with pytest.raises(HostnetError) as err:
        _bridgehelper.locate(candidates=("/nonexistent/a", "/nonexistent/b"))
    assert str(err.value) == ("bridge_helper: qemu-bridge-helper not found (tried /nonexistent/a, /nonexistent/b);"
                              " install it (Debian/Ubuntu: qemu-system-common, Fedora/RHEL: qemu-kvm or"
                              " qemu-system-x86-core) or give its location in path")
