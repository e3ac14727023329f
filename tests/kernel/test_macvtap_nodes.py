# -*- coding: utf-8 -*-
"""/dev/tapN of macvtaps against the real kernel (defects 3, 10, 11 of the input-boundary issue).

Each test makes its macvtaps in a throwaway namespace on a veth parent; nodes are read back with os.stat.
"""

import os
import stat

from conftest import links, run_tasks, sh
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model

NOBODY = 65534


def converge(netns, devices):
    return _engine.converge(_model.normalise_all(devices), netns=netns)


def node(netns, name):
    index = links(netns)[name]["ifindex"]
    text = sh("cat", "/sys/class/net/%s/macvtap/tap%d/dev" % (name, index), netns=netns).stdout
    major, minor = (int(x) for x in text.strip().split(":"))
    return "/dev/tap%d" % index, os.makedev(major, minor)


def test_yaml_int_mode_is_the_bits(tmp_path, netns, veth):
    """device_mode: 0660 (unquoted YAML, the int 432) must give 0660, never 0432 (world-writable)."""
    args = {"netns": netns, "name": "mvint0", "link": veth, "device_group": "nogroup", "device_mode": 0o660}
    rc, res = run_tasks(tmp_path, "hostnet.qemu.macvtap", [("mv", args)])
    assert rc == 0 and not res["mv"].get("failed"), res
    path, _rdev = node(netns, "mvint0")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
    finally:
        converge(netns, [{"kind": "macvtap", "name": "mvint0", "state": "absent"}])


def test_a_node_others_may_open_is_refused_and_nothing_made(tmp_path, netns, veth):
    """device_mode '0666' would let every local user read and inject the guest's traffic: refused before the
    macvtap exists, in check mode and for real."""
    args = {"netns": netns, "name": "mvopen0", "link": veth, "device_group": "nogroup", "device_mode": "0666"}
    for check in (True, False):
        _rc, res = run_tasks(tmp_path, "hostnet.qemu.macvtap", [("mv", args)], check)
        assert res["mv"]["failed"] is True and res["mv"]["msg"] == (
            "macvtap 'mvopen0': device_mode 0666 lets every local user open its /dev/tapN and read or inject the"
            " guest's traffic; give '0660' with a device_group, or '0600'")
        assert "mvopen0" not in links(netns)


def test_absent_when_the_node_is_already_gone(netns, veth):
    """devtmpfs (this machine's /dev) removes /dev/tapN as soon as the link goes, before the module gets to it:
    absent still succeeds (it failed with ENOENT on every normal host)."""
    converge(netns, [{"kind": "macvtap", "name": "mvgone0", "link": veth}])
    path, _rdev = node(netns, "mvgone0")
    assert os.path.exists(path)
    result = converge(netns, [{"kind": "macvtap", "name": "mvgone0", "state": "absent"}])
    assert result["changed"] and "mvgone0" not in links(netns) and not os.path.exists(path)


def test_a_stale_node_never_opens_a_new_macvtap(netns, veth):
    """A node left behind by a deleted macvtap keeps its owner; the kernel gives its minor to the next macvtap.
    Creating that macvtap removes the old node, so the old owner cannot open the new device."""
    converge(netns, [{"kind": "macvtap", "name": "mvold0", "link": veth, "device_owner": str(NOBODY)}])
    _path, rdev = node(netns, "mvold0")
    stale = "/dev/tap%d" % (4000000 + os.getpid() % 100000)
    os.mknod(stale, stat.S_IFCHR | 0o600, rdev)  # what a /dev without devtmpfs keeps after the delete
    os.chown(stale, NOBODY, NOBODY)
    try:
        sh("ip", "-n", netns, "link", "del", "mvold0")  # deleted behind the collection's back
        converge(netns, [{"kind": "macvtap", "name": "mvnew0", "link": veth}])
        path, new_rdev = node(netns, "mvnew0")
        assert new_rdev == rdev, "precondition: the kernel reuses the lowest free macvtap minor"
        assert not os.path.exists(stale), "the stale node still opens the new macvtap"
        assert os.stat(path).st_uid == 0
        # and the node of a macvtap the module deletes goes, wherever a copy of it is
        os.mknod(stale, stat.S_IFCHR | 0o600, new_rdev)
        converge(netns, [{"kind": "macvtap", "name": "mvnew0", "state": "absent"}])
        assert not os.path.exists(stale) and not os.path.exists(path)
    finally:
        if os.path.lexists(stale):
            os.unlink(stale)
