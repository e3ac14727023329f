# -*- coding: utf-8 -*-
"""Pure parts of _sysctl: parsing, validation, range planning, newly admitted groups, file text."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _sysctl
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def test_parse_tab_separated_proc_text():
    assert _sysctl.parse("1\t0\n") == (1, 0)
    assert _sysctl.parse("100 200") == (100, 200)


@pytest.mark.parametrize("text", ["", "1", "1 2 3", "a b", "-1 5"])
def test_parse_rejects_garbage(text):
    with pytest.raises(HostnetError):
        _sysctl.parse(text)


def test_check_gid_limits():
    assert _sysctl.check_gid(0) == 0
    assert _sysctl.check_gid("4294967294") == 4294967294
    with pytest.raises(HostnetError) as err:
        _sysctl.check_gid(4294967295)
    assert str(err.value) == ("ping_group_range: gid 4294967295 is out of range; the kernel accepts 0..4294967294"
                              " (0..2147483647 before Linux 6.5)")
    with pytest.raises(HostnetError):
        _sysctl.check_gid(True)


def test_check_range_rejects_empty():
    with pytest.raises(HostnetError) as err:
        _sysctl.check_range([5, 3])
    assert "range [5, 3] is empty (lo > hi)" in str(err.value)
    assert _sysctl.check_range([3, 3]) == (3, 3)


@pytest.mark.parametrize("current,wanted,policy,expected", [
    ((1, 0), (1000, 1000), "extend", (1000, 1000)),          # empty current: just the wanted hull
    ((100, 200), (150, 160), "extend", (100, 200)),           # already covered: unchanged
    ((100, 200), (300, 300), "extend", (100, 300)),           # union hull
    ((100, 200), (50, 60), "extend", (50, 200)),
    ((100, 200), (150, 160), "exact", (150, 160)),            # exact narrows
    ((0, 2147483647), (1000, 1000), "extend", (0, 2147483647)),
])
def test_target_range(current, wanted, policy, expected):
    assert _sysctl.target_range(current, wanted, policy) == expected


def test_contains_is_semantic():
    assert _sysctl.contains((0, 2147483647), [0, 65534])
    assert not _sysctl.contains((1, 0), [1])
    assert not _sysctl.contains((100, 200), [99, 150])


def test_newly_admitted_groups_only_reports_new_unwanted_gids():
    db = [("a", 100), ("b", 150), ("c", 250), ("d", 50), ("e", 120)]
    extra = _sysctl.newly_admitted_groups((110, 130), (100, 250), [100, 250], group_db=db)
    assert extra == [{"name": "b", "gid": 150}]  # 120 was admitted before, 100/250 were asked for, 50 is outside


def test_resolve_groups_names_and_numbers():
    assert _sysctl.resolve_groups(["root", "65534", 7, "0"]) == [0, 7, 65534]


def test_resolve_groups_unknown_name():
    with pytest.raises(HostnetError) as err:
        _sysctl.resolve_groups(["no-such-group-hnt"])
    assert str(err.value) == ("ping_group_range: group 'no-such-group-hnt' does not exist;"
                              " create the group first or give a numeric gid")


def test_render_file():
    text = _sysctl.render_file((1000, 1001))
    assert text.endswith("\nnet.ipv4.ping_group_range = 1000 1001\n")
    assert all(line.startswith("#") for line in text.splitlines()[:-1])


def test_plan_refuses_persist_with_netns():
    with pytest.raises(HostnetError) as err:
        _sysctl.plan(groups=["0"], netns="x", persist=True)
    assert "persist=true cannot be combined with netns 'x'" in str(err.value)


def test_plan_needs_exactly_one_input():
    with pytest.raises(HostnetError):
        _sysctl.plan()
    with pytest.raises(HostnetError):
        _sysctl.plan(groups=["0"], rng=[0, 1])


def test_shadowing_files(tmp_path):
    etc, lib = tmp_path / "etc", tmp_path / "lib"
    etc.mkdir()
    lib.mkdir()
    (etc / "10-early.conf").write_text("net.ipv4.ping_group_range = 0 0\n")
    (etc / "99-late.conf").write_text("# comment\n-net/ipv4/ping_group_range=1 0\n")
    (lib / "70-other.conf").write_text("# net.ipv4.ping_group_range = 5 5\nkernel.pid_max = 1\n")
    (lib / "99-late.conf").write_text("net.ipv4.ping_group_range = 9 9\n")  # hidden by /etc's file of the same name
    ours = str(etc / "60-hostnet-qemu-ping-group-range.conf")
    assert _sysctl.shadowing_files(ours, dirs=(str(etc), str(lib))) == [str(etc / "99-late.conf")]


@pytest.mark.parametrize("before, after, wanted, expected", [
    ([1, 0], [0, 2], [0, 2], "ping_group_range: the wanted gids [0, 2] are not contiguous; range 0-2 also admits the"
                             " groups daemon(1)"),
    ([0, 0], [0, 2], [2], "ping_group_range: extending the live range 0-0 to the wanted gids [2] gives 0-2, which also"
                          " admits the groups daemon(1); set policy: exact to set the range to 2-2"),
], ids=["not-contiguous", "extended"])
def test_the_extra_groups_warning_names_its_cause(before, after, wanted, expected):
    result = {"before": before, "after": after, "wanted_gids": wanted,
              "admitted_extra_groups": [{"name": "daemon", "gid": 1}]}
    assert _sysctl.extra_groups_warning(result) == expected
