"""The engine against the real kernel, each test in its own namespace; results read back with `ip -d -j link`,
/sys and /dev, never through the collection's own code."""

import errno
import os
import stat
import sys

import pytest

from conftest import addrs, as_user, links, sh, snapshot
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model


def converge(netns, devices, **kw):
    return _engine.converge(_model.normalise_all(devices), netns=netns, **kw)


# /dev/net/tun itself is 0600 root on this machine (the host role fixes that); what is proven here is the
# kernel's owner check at TUNSETIFF, so the client opens the file as root, then drops to the uid/gid.
ATTACH = r"""
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
uid, gid = int(sys.argv[2]), int(sys.argv[3])
os.setgroups([])
os.setresgid(gid, gid, gid)
os.setresuid(uid, uid, uid)
assert os.geteuid() == uid and os.getegid() == gid
try:
    fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH22x", sys.argv[1].encode(), 0x0002 | 0x1000))
    print("attached")
except OSError as exc:
    print("errno", exc.errno)
"""


def attach_as(netns, uid, gid, name):
    """A real client: a process running as uid/gid attaches to the device with TUNSETIFF."""
    return sh(sys.executable, "-c", ATTACH, name, str(uid), str(gid), netns=netns).stdout.strip()


def test_bridge_taps_and_enslaving_read_back(netns):
    result = converge(netns, [
        {"kind": "bridge", "name": "br0", "stp": False, "forward_delay": 4, "addresses": ["10.20.0.1/24", "fd20::1/64"]},
        {"kind": "tap", "name": "vm1-net0", "owner": "nobody", "group": "nogroup", "master": "br0", "mtu": 1400},
        {"kind": "tun", "name": "vpn0"},
    ])
    assert result["changed"]
    kernel = links(netns)
    br, tap, tun = kernel["br0"], kernel["vm1-net0"], kernel["vpn0"]
    assert br["linkinfo"]["info_kind"] == "bridge"
    assert br["linkinfo"]["info_data"]["stp_state"] == 0
    assert br["linkinfo"]["info_data"]["forward_delay"] == 400
    assert "UP" in br["flags"]
    assert addrs(netns, "br0") == ["10.20.0.1/24", "fd20::1/64"] or \
        sorted(a for a in addrs(netns, "br0") if not a.startswith("fe80")) == ["10.20.0.1/24", "fd20::1/64"]
    assert tap["linkinfo"]["info_kind"] == "tun"
    assert tap["linkinfo"]["info_data"]["type"] == "tap"
    assert tap["linkinfo"]["info_data"]["user"] in ("nobody", "65534")
    assert tap["linkinfo"]["info_data"]["group"] in ("nogroup", "65534")
    assert tap["linkinfo"]["info_data"]["persist"] is True
    assert tap["master"] == "br0" and tap["mtu"] == 1400 and "UP" in tap["flags"]
    assert tun["linkinfo"]["info_data"]["type"] == "tun"
    # the module's own report agrees with the kernel
    assert result["devices"]["vm1-net0"]["owner"] == 65534
    assert result["devices"]["br0"]["ports"] == ["vm1-net0"]


def test_new_taps_join_their_bridge_without_carrier(netns):
    """A new tap has no carrier (no guest holds it): the bridge must see that when it takes the tap, not enable the
    port and disable it again when the kernel's link watch catches up (a second later, 100 links at a time)."""
    taps = ["t%d" % i for i in range(24)]
    converge(netns, [{"kind": "bridge", "name": "br0"}] + [{"kind": "tap", "name": n, "master": "br0"} for n in taps])
    kernel = links(netns)  # read at once, by a dump (which does not settle pending link state)
    assert dict((n, (kernel[n]["operstate"], kernel[n]["linkinfo"]["info_slave_data"]["state"])) for n in taps) == \
        dict((n, ("DOWN", "disabled")) for n in taps)


def test_second_run_changes_nothing_and_check_mode_writes_nothing(netns):
    devices = [{"kind": "bridge", "name": "br0", "addresses": ["10.21.0.1/24"]},
               {"kind": "tap", "name": "t0", "owner": "nobody", "master": "br0"}]
    check = converge(netns, devices, check_mode=True)
    assert check["changed"] and "create bridge 'br0'" in check["plan"]
    assert set(links(netns)) == {"lo"}
    assert converge(netns, devices)["changed"]
    before = snapshot(netns)
    again = converge(netns, devices)
    assert not again["changed"] and again["plan"] == []
    assert not converge(netns, devices, check_mode=True)["changed"]
    assert snapshot(netns) == before


def test_owner_enforced_by_kernel(netns):
    converge(netns, [{"kind": "tap", "name": "vm1-net0", "owner": "nobody"}])
    assert attach_as(netns, 65534, 65534, "vm1-net0") == "attached"
    assert attach_as(netns, 4242, 4242, "vm1-net0") == "errno %d" % errno.EPERM


def test_owner_and_group_converge_in_place(netns):
    converge(netns, [{"kind": "tap", "name": "t0", "owner": "nobody"}])
    index = links(netns)["t0"]["ifindex"]
    result = converge(netns, [{"kind": "tap", "name": "t0", "owner": "4242", "group": "4343"}])
    assert result["changed"] and result["plan"] == ["set ownership/flags of tap 't0'"]
    after = links(netns)["t0"]
    assert after["ifindex"] == index  # not recreated
    assert str(after["linkinfo"]["info_data"]["user"]) == "4242"  # ip prints a number when no name exists
    assert str(after["linkinfo"]["info_data"]["group"]) == "4343"
    assert attach_as(netns, 65534, 65534, "t0") == "errno %d" % errno.EPERM
    assert attach_as(netns, 4242, 4343, "t0") == "attached"


def test_multi_queue_tap(netns):
    converge(netns, [{"kind": "tap", "name": "mq0", "multi_queue": True}])
    assert links(netns)["mq0"]["linkinfo"]["info_data"]["multi_queue"] is True


def test_mode_change_refused_then_recreated(netns):
    converge(netns, [{"kind": "tap", "name": "t0"}])
    before = snapshot(netns)
    with pytest.raises(HostnetError, match="tap 't0': changing mode from tap to tun needs the device deleted"):
        converge(netns, [{"kind": "tun", "name": "t0"}])
    assert snapshot(netns) == before
    converge(netns, [{"kind": "tun", "name": "t0", "recreate": True}])
    assert links(netns)["t0"]["linkinfo"]["info_data"]["type"] == "tun"


def test_kind_clash_leaves_host_untouched(netns):
    converge(netns, [{"kind": "tap", "name": "br0"}])
    before = snapshot(netns)
    with pytest.raises(HostnetError) as err:
        converge(netns, [{"kind": "bridge", "name": "br0"}])
    assert str(err.value) == ("bridge 'br0': a tap named 'br0' already exists in namespace '%s'; "
                              "remove it or choose another name" % netns)
    assert snapshot(netns) == before


def test_port_owned_by_other_bridge(netns, veth):
    converge(netns, [{"kind": "bridge", "name": "br1", "ports": [veth]}, {"kind": "bridge", "name": "br0"}])
    before = snapshot(netns)
    with pytest.raises(HostnetError) as err:
        converge(netns, [{"kind": "bridge", "name": "br0", "ports": [veth]}])
    assert str(err.value) == "bridge 'br0': port 'up0' is already enslaved to 'br1'; set force: true to move it"
    assert snapshot(netns) == before
    converge(netns, [{"kind": "bridge", "name": "br0", "ports": [veth], "force": True}])
    assert links(netns)[veth]["master"] == "br0"


def test_missing_port_parent_and_netns(netns):
    before = snapshot(netns)
    with pytest.raises(HostnetError, match="bridge 'br0': port 'eth9' not found in namespace"):
        converge(netns, [{"kind": "bridge", "name": "br0", "ports": ["eth9"]}])
    with pytest.raises(HostnetError, match="macvtap 'mv0': parent link 'eth9' not found in namespace"):
        converge(netns, [{"kind": "macvtap", "name": "mv0", "link": "eth9"}])
    assert snapshot(netns) == before
    with pytest.raises(HostnetError) as err:
        converge("hnt-does-not-exist", [{"kind": "bridge", "name": "br0"}])
    assert str(err.value) == ("netns 'hnt-does-not-exist': network namespace does not exist (no /run/netns/hnt-does-not-exist); "
                              "create it first, e.g. 'ip netns add hnt-does-not-exist'")
    assert not os.path.exists("/run/netns/hnt-does-not-exist")


def test_macvtap_device_node(netns, veth):
    result = converge(netns, [{"kind": "macvtap", "name": "mv0", "link": veth, "mode": "bridge",
                               "mac": "52:54:00:aa:00:01", "device_owner": "nobody", "device_group": "nogroup"}])
    kernel = links(netns)["mv0"]
    assert kernel["linkinfo"]["info_kind"] == "macvtap"
    assert kernel["linkinfo"]["info_data"]["mode"] == "bridge"
    assert kernel["address"] == "52:54:00:aa:00:01"
    node = "/dev/tap%d" % kernel["ifindex"]
    assert result["devices"]["mv0"]["device"] == node
    st = os.stat(node)
    assert stat.S_ISCHR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    # major:minor agree with the kernel's sysfs, read from inside the namespace
    dev = sh("sh", "-c", "cat /sys/class/net/mv0/macvtap/tap*/dev", netns=netns).stdout.strip()
    assert "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)) == dev
    # a real client: nobody can open the node (reading needs the device to be up; open is the check)
    opener = "import os; os.close(os.open(%r, os.O_RDWR)); print('opened')" % node
    assert as_user(65534, 65534, opener).stdout.strip() == "opened"
    stranger = as_user(4242, 4242, opener)
    assert stranger.returncode != 0 and "PermissionError" in stranger.stderr
    assert not converge(netns, [{"kind": "macvtap", "name": "mv0", "link": veth, "device_owner": "nobody",
                                 "device_group": "nogroup", "mac": "52:54:00:aa:00:01"}])["changed"]
    # a node removed behind our back is put back
    os.unlink(node)
    assert converge(netns, [{"kind": "macvtap", "name": "mv0", "link": veth, "device_owner": "nobody",
                             "device_group": "nogroup"}])["changed"]
    assert stat.S_ISCHR(os.stat(node).st_mode)
    converge(netns, [{"kind": "macvtap", "name": "mv0", "state": "absent"}])
    assert "mv0" not in links(netns) and not os.path.exists(node)


def test_purge_and_absent(netns, veth):
    converge(netns, [{"kind": "bridge", "name": "vm-br"}, {"kind": "tap", "name": "vm-a", "master": "vm-br"},
                     {"kind": "tap", "name": "vm-b"}, {"kind": "tap", "name": "keep"}])
    result = converge(netns, [{"kind": "bridge", "name": "vm-br"}, {"kind": "tap", "name": "vm-a", "master": "vm-br"}],
                      purge_prefix="vm-")
    assert result["plan"] == ["delete tap 'vm-b'"]
    assert set(links(netns)) == {"lo", "up0", "up0p", "vm-br", "vm-a", "keep"}
    converge(netns, [{"kind": "bridge", "name": "vm-br", "state": "absent"}, {"kind": "tap", "name": "vm-a", "state": "absent"}])
    assert set(links(netns)) == {"lo", "up0", "up0p", "keep"}


def test_exclusive_ports_and_addresses_converge(netns):
    converge(netns, [{"kind": "bridge", "name": "br0", "addresses": ["10.22.0.1/24", "10.22.0.9/24"]},
                     {"kind": "tap", "name": "a", "master": "br0"}, {"kind": "tap", "name": "b", "master": "br0"}])
    converge(netns, [{"kind": "bridge", "name": "br0", "addresses": ["10.22.0.1/24"], "ports": ["a"], "exclusive_ports": True}])
    kernel = links(netns)
    assert kernel["a"].get("master") == "br0" and "master" not in kernel["b"]
    assert [a for a in addrs(netns, "br0") if not a.startswith("fe80")] == ["10.22.0.1/24"]


def test_facts_report_every_kind(netns, veth):
    converge(netns, [{"kind": "bridge", "name": "br0", "ports": [veth]}, {"kind": "tap", "name": "t0", "owner": "nobody"},
                     {"kind": "macvtap", "name": "mv0", "link": "up0p"}])
    facts = _engine.facts(netns)
    assert facts["br0"]["ports"] == [veth]
    assert facts["t0"]["owner"] == 65534 and facts["t0"]["persist"] is True
    assert facts["mv0"]["link"] == "up0p" and facts["mv0"]["device"] == "/dev/tap%d" % facts["mv0"]["ifindex"]
    assert facts[veth]["kind"] == "veth" and facts["lo"]["kind"] == "loopback"
    with pytest.raises(HostnetError, match="interface\\(s\\) nope not found in namespace"):
        _engine.facts(netns, names=["nope"])


def test_macvlan_host_interface(netns, veth):
    """A macvlan (the host's own interface next to macvtap guests) with its addresses, mode changed in place."""
    want = [{"kind": "macvlan", "name": "host0", "link": veth, "addresses": ["10.23.0.1/24"], "mac": "52:54:00:aa:00:02"}]
    assert converge(netns, want)["changed"]
    kernel = links(netns)["host0"]
    assert kernel["linkinfo"]["info_kind"] == "macvlan" and kernel["linkinfo"]["info_data"]["mode"] == "bridge"
    assert kernel["link"] == veth and kernel["address"] == "52:54:00:aa:00:02" and "UP" in kernel["flags"]
    assert [a for a in addrs(netns, "host0") if not a.startswith("fe80")] == ["10.23.0.1/24"]
    assert not os.path.exists("/sys/class/net/host0")  # it lives in the test's namespace only
    assert not converge(netns, want)["changed"]
    result = converge(netns, [dict(want[0], mode="private", addresses=["10.23.0.2/24"])])
    assert result["plan"] == ["set macvlan 'host0': mode=private", "del address 10.23.0.1/24 on macvlan 'host0'",
                              "add address 10.23.0.2/24 on macvlan 'host0'"]
    assert links(netns)["host0"]["linkinfo"]["info_data"]["mode"] == "private"
    assert [a for a in addrs(netns, "host0") if not a.startswith("fe80")] == ["10.23.0.2/24"]
    with pytest.raises(HostnetError, match="macvlan 'host0': moving it from link 'up0' to 'up0p' needs the device deleted"):
        converge(netns, [dict(want[0], link="up0p")])
    converge(netns, [{"kind": "macvlan", "name": "host0", "state": "absent"}])
    assert "host0" not in links(netns)
