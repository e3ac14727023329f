"""A bridge's link-local address, formed from its MAC whatever the host's default (addr_gen_mode), in throwaway
namespaces whose default forms random addresses (as a host with `net.ipv6.conf.default.addr_gen_mode = 3` or a
`stable_secret` does).

The guests' port chains refuse every EUI-64 shaped link-local address but the NIC's own (_nftports): the host's
address on the bridge is covered only when it has that shape. Everything is read back with `ip -j`, never from the
module.
"""

import json
import time

import pytest

from conftest import addrs, link_local, run_playbook, sh, snapshot
from ansible_collections.hostnet.qemu.plugins.module_utils import _validate

BRIDGE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: step
      hostnet.qemu.bridge:
        name: hqllbr0
        netns: {netns}
        addr_gen_mode: {mode}
        ports: [up0]
"""


@pytest.fixture
def random_default(netns, veth):
    """The namespace's default: random link-local addresses (the collection must not depend on the host's)."""
    sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=3")
    return netns


def mode_and_mac(netns, ifname):
    link = json.loads(sh("ip", "-n", netns, "-d", "-j", "link", "show", "dev", ifname).stdout)[0]
    return link.get("inet6_addr_gen_mode"), link["address"]


def step(tmp_path, netns, mode, check=False):
    rc, res, _stats = run_playbook(BRIDGE.format(netns=netns, mode=mode), tmp_path, check=check)
    assert rc == 0, res
    return res["step"]


def test_a_new_bridge_forms_its_address_from_its_mac_and_an_unpinned_one_does_not(tmp_path, random_default):
    netns = random_default
    first = step(tmp_path, netns, "eui64")
    assert first["changed"] and "set bridge 'hqllbr0': addr_gen_mode=eui64, up=True" in first["plan"], first["plan"]
    assert mode_and_mac(netns, "hqllbr0")[0] == "eui64"
    # from the MAC the bridge had when its first port brought carrier (a bridge's MAC follows its ports later)
    formed = link_local(netns, "hqllbr0")
    assert len(formed) == 1 and _validate.eui64_shaped(formed[0][0]) and not formed[0][1], formed
    assert first["interface"]["addr_gen_mode"] == "eui64"
    # the control: a bridge made here without it forms a random address, which no port chain could name
    sh("ip", "-n", netns, "link", "add", "hqllbr1", "type", "bridge")
    sh("ip", "-n", netns, "link", "add", "hqllp1", "type", "veth", "peer", "name", "hqllp1p")
    sh("ip", "-n", netns, "link", "set", "hqllp1", "master", "hqllbr1", "up")
    sh("ip", "-n", netns, "link", "set", "hqllp1p", "up")
    sh("ip", "-n", netns, "link", "set", "hqllbr1", "up")
    other = link_local(netns, "hqllbr1")
    assert len(other) == 1 and other[0][1] and not _validate.eui64_shaped(other[0][0]), other
    again = step(tmp_path, netns, "eui64")
    assert not again["changed"] and again["plan"] == [], again["plan"]


def test_a_bridge_that_formed_a_random_address_gets_the_one_from_its_mac(tmp_path, random_default):
    netns = random_default
    sh("ip", "-n", netns, "link", "add", "hqllbr0", "type", "bridge")
    sh("ip", "-n", netns, "link", "set", "up0", "master", "hqllbr0")
    sh("ip", "-n", netns, "link", "set", "hqllbr0", "up")
    formed = link_local(netns, "hqllbr0")
    assert len(formed) == 1 and formed[0][1], formed  # stable-privacy, as the kernel flags a random one
    sh("ip", "-n", netns, "addr", "add", "fe80::1/64", "dev", "hqllbr0", "nodad")  # the admin's: left alone
    before = snapshot(netns)
    checked = step(tmp_path, netns, "eui64", check=True)
    mode, mac = mode_and_mac(netns, "hqllbr0")
    assert checked["changed"] and snapshot(netns) == before and mode == "random"
    assert checked["plan"] == ["set bridge 'hqllbr0': addr_gen_mode=eui64",
                               "del address %s on bridge 'hqllbr0'" % "/".join((formed[0][0], "64")),
                               "add address %s/64 on bridge 'hqllbr0'" % _validate.eui64(mac)]
    applied = step(tmp_path, netns, "eui64")
    assert applied["changed"] and applied["plan"] == checked["plan"]
    assert mode_and_mac(netns, "hqllbr0")[0] == "eui64"
    assert link_local(netns, "hqllbr0") == sorted([("fe80::1", False), (_validate.eui64(mac), False)])
    assert not step(tmp_path, netns, "eui64")["changed"]
    assert not step(tmp_path, netns, "eui64", check=True)["changed"]
    # and the kernel forms the same address when the bridge comes up again
    sh("ip", "-n", netns, "link", "set", "hqllbr0", "down")
    sh("ip", "-n", netns, "link", "set", "hqllbr0", "up")
    assert link_local(netns, "hqllbr0") == [(_validate.eui64(mac), False)]


def test_a_bridge_with_mode_none_has_no_link_local_address(tmp_path, random_default):
    netns = random_default
    step(tmp_path, netns, "eui64")
    formed = link_local(netns, "hqllbr0")
    assert len(formed) == 1 and _validate.eui64_shaped(formed[0][0]), formed
    applied = step(tmp_path, netns, "none")
    assert applied["plan"] == ["set bridge 'hqllbr0': addr_gen_mode=none",
                               "del address %s/64 on bridge 'hqllbr0'" % formed[0][0]], applied["plan"]
    assert mode_and_mac(netns, "hqllbr0")[0] == "none"
    assert [a for a in addrs(netns, "hqllbr0") if a.startswith("fe80:")] == []
    assert not step(tmp_path, netns, "none")["changed"]
    sh("ip", "-n", netns, "link", "set", "hqllbr0", "down")
    sh("ip", "-n", netns, "link", "set", "hqllbr0", "up")
    time.sleep(1)
    assert [a for a in addrs(netns, "hqllbr0") if a.startswith("fe80:")] == []
