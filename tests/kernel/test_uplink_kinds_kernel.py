# -*- coding: utf-8 -*-
"""Uplink NICs as hosts often have them (issue 13, section 8): a bond and a VLAN device, moved onto a bridge with
their addresses and routes, reached from the LAN, and given back by the rollback.

The move reads and writes any NIC alike; these tests prove it with the real kinds where the kernel has them. This
kernel may lack the bonding driver or 8021q: then `ip link add ... type bond|vlan` answers "Unknown device type" and
the test is skipped with that reason (the plain NIC's move is proven in test_uplink_kernel.py either way).
"""

import uuid

import pytest

from conftest import links, ping, sh, throwaway_netns
from test_uplink_kernel import addrs, job, routes
from ansible_collections.hostnet.qemu.plugins.module_utils import _uplinkhost, _uplinkplan, _uplinkstate
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel


def kernel_has(kind):
    """Whether this kernel makes a device of `kind` ('bond' or 'vlan'), tried in a throwaway namespace."""
    with throwaway_netns() as ns:
        sh("ip", "-n", ns, "link", "add", "hqprobe0", "type", "dummy", check=False)
        extra = ["link", "hqprobe0", "type", "vlan", "id", "10"] if kind == "vlan" else ["type", "bond"]
        return sh("ip", "-n", ns, "link", "add", "hqprobe1", *extra, check=False).returncode == 0


KINDS = [
    pytest.param("bond", marks=pytest.mark.skipif(not kernel_has("bond"), reason=(
        "this kernel has no bonding driver (ip link add type bond: Unknown device type), so a bond uplink cannot be"
        " built here"))),
    pytest.param("vlan", marks=pytest.mark.skipif(not kernel_has("vlan"), reason=(
        "this kernel has no 8021q module (ip link add type vlan: Unknown device type), so a VLAN uplink such as"
        " eth1.10 cannot be built here"))),
]


@pytest.fixture
def uplink_of(netns, request):
    """(host namespace, the uplink NIC's name, LAN namespace): the NIC is a bond over a veth, or a VLAN device
    (id 10) on a veth, with 10.77.0.2/24, 2001:db8:77::2/64 and a default route; the LAN answers on VLAN 10 too."""
    kind = request.param
    peer = "hnt-" + uuid.uuid4().hex[:8]
    sh("ip", "netns", "add", peer)
    try:
        sh("ip", "-n", netns, "link", "add", "hqlow0", "type", "veth", "peer", "name", "peer0", "netns", peer)
        sh("ip", "-n", peer, "link", "set", "peer0", "up")
        lan_if = "peer0"
        if kind == "bond":
            nic = "bond0"
            sh("ip", "-n", netns, "link", "add", nic, "type", "bond", "mode", "active-backup", "miimon", "100")
            sh("ip", "-n", netns, "link", "set", "hqlow0", "master", nic)
        else:
            nic = "hqlow0.10"
            sh("ip", "-n", netns, "link", "add", "link", "hqlow0", "name", nic, "type", "vlan", "id", "10")
            sh("ip", "-n", peer, "link", "add", "link", "peer0", "name", "peer0.10", "type", "vlan", "id", "10")
            sh("ip", "-n", peer, "link", "set", "peer0.10", "up")
            lan_if = "peer0.10"
        sh("ip", "-n", netns, "link", "set", "hqlow0", "up")
        sh("ip", "-n", netns, "addr", "add", "10.77.0.2/24", "dev", nic)
        sh("ip", "-n", netns, "addr", "add", "2001:db8:77::2/64", "dev", nic, "nodad")
        sh("ip", "-n", netns, "link", "set", nic, "up")
        sh("ip", "-n", peer, "addr", "add", "10.77.0.1/24", "dev", lan_if)
        sh("ip", "-n", peer, "addr", "add", "2001:db8:77::1/64", "dev", lan_if, "nodad")
        sh("ip", "-n", netns, "route", "add", "default", "via", "10.77.0.1", "dev", nic)
        assert ping(netns, "10.77.0.1")
        yield netns, nic, peer
    finally:
        sh("ip", "netns", "del", peer, check=False)


@pytest.mark.parametrize("uplink_of", KINDS, indirect=True)
def test_a_bond_or_vlan_uplink_moves_onto_the_bridge_and_back(cli, uplink_of, tmp_path):
    host, nic, _peer = uplink_of
    before = {"addrs": addrs(host, nic), "v4": routes(host)}
    with Kernel(host) as kernel:
        live = _uplinkhost.read(kernel)
    entry = {"bridge": "br0", "nic": nic, "mac": live["links"][nic]["mac"],
             "addresses": _uplinkplan.movable_addresses(live, nic), "routes": _uplinkplan.movable_routes(live, nic)}
    state_dir = str(tmp_path / "uplinks.d")
    _uplinkstate.save(state_dir, dict(entry, committed="original", pending="moved", bridge_existed=False))
    rc, result = job(cli, host, "uplink-apply", state_dir, tmp_path)
    assert rc == 0 and result["ok"], result
    link = links(host)
    assert link[nic]["master"] == "br0" and link["br0"]["address"] == link[nic]["address"]
    assert addrs(host, "br0") == before["addrs"] and addrs(host, nic) == []
    assert ("default", "10.77.0.1", "br0", None) in routes(host)
    assert ping(host, "10.77.0.1") and ping(host, "2001:db8:77::1")
    assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host) == []  # a second run changes nothing
    rc, result = job(cli, host, "uplink-rollback", state_dir, tmp_path)  # not confirmed: given back
    assert rc == 0 and result["ok"], result
    assert "br0" not in links(host) and links(host)[nic].get("master") is None
    assert {"addrs": addrs(host, nic), "v4": routes(host)} == before
    assert ping(host, "10.77.0.1")
