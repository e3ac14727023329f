"""Addresses on taps and tuns, and a tun's point-to-point peer (the seed's `ifconfig tun0 A pointopoint B`), through
the engine against the real kernel; read back with `ip -j addr`, proven with a route through the peer."""

import json

import pytest

from conftest import sh, snapshot
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def converge(netns, devices, **kw):
    return _engine.converge(_model.normalise_all(devices), netns=netns, **kw)


def addr_info(netns, dev):
    """{local: peer or None} of the device's global addresses, as iproute2 reads them."""
    out = json.loads(sh("ip", "-n", netns, "-j", "addr", "show", "dev", dev).stdout)[0]["addr_info"]
    return dict(("%s/%s" % (a["local"], a["prefixlen"]), a.get("address")) for a in out if a.get("scope") != "link")


def test_a_tun_gets_its_point_to_point_pair_and_a_tap_its_address(netns):
    result = converge(netns, [{"kind": "tun", "name": "tun0", "addresses": ["10.0.0.1/32", "fd00:7::1/128"],
                               "peer": "10.0.0.2"},
                              {"kind": "tap", "name": "tap0", "addresses": ["192.168.77.1/24"]}])
    assert "add address 10.0.0.1/32 peer 10.0.0.2 on tap 'tun0'" in result["plan"]
    assert addr_info(netns, "tun0") == {"10.0.0.1/32": "10.0.0.2", "fd00:7::1/128": None}
    assert addr_info(netns, "tap0") == {"192.168.77.1/24": None}
    # the kernel routes the peer through the tun (what the point-to-point address is for)
    route = json.loads(sh("ip", "-n", netns, "-j", "route", "get", "10.0.0.2").stdout)[0]
    assert route["dev"] == "tun0" and route["prefsrc"] == "10.0.0.1"
    again = converge(netns, [{"kind": "tun", "name": "tun0", "addresses": ["10.0.0.1/32", "fd00:7::1/128"],
                              "peer": "10.0.0.2"},
                             {"kind": "tap", "name": "tap0", "addresses": ["192.168.77.1/24"]}])
    assert not again["changed"]


def test_a_new_peer_replaces_the_address_and_check_mode_writes_nothing(netns):
    converge(netns, [{"kind": "tun", "name": "tun0", "addresses": ["10.0.0.1/32"], "peer": "10.0.0.2"}])
    before = snapshot(netns)
    check = converge(netns, [{"kind": "tun", "name": "tun0", "addresses": ["10.0.0.1/32"], "peer": "10.0.0.3"}],
                     check_mode=True)
    assert check["plan"] == ["del address 10.0.0.1/32 peer 10.0.0.2 on tap 'tun0'",
                             "add address 10.0.0.1/32 peer 10.0.0.3 on tap 'tun0'"]
    assert check["diff"]["after"]["tun0"]["addresses"] == ["10.0.0.1/32 peer 10.0.0.3"]
    assert snapshot(netns) == before
    converge(netns, [{"kind": "tun", "name": "tun0", "addresses": ["10.0.0.1/32"], "peer": "10.0.0.3"}])
    assert addr_info(netns, "tun0") == {"10.0.0.1/32": "10.0.0.3"}


@pytest.mark.parametrize("device, message", [
    ({"kind": "tap", "addresses": ["10.0.0.1/32"], "peer": "10.0.0.2"},
     "tap 'p2p0': 'peer' applies to a tun (a point-to-point layer-3 device), not to a tap; drop it or use mode tun"),
    ({"kind": "tun", "peer": "10.0.0.2"},
     "tap 'p2p0': 'peer' 10.0.0.2 needs exactly one address of its family in 'addresses' (this end), found 0; give"
     " e.g. addresses: [10.0.0.1/32]"),
    ({"kind": "tun", "addresses": ["10.0.0.1/32", "10.0.0.5/32"], "peer": "10.0.0.2"},
     "tap 'p2p0': 'peer' 10.0.0.2 needs exactly one address of its family in 'addresses' (this end), found 2; give"
     " e.g. addresses: [10.0.0.1/32]"),
    ({"kind": "tun", "addresses": ["10.0.0.1/32"], "peer": "10.0.0.1"},
     "tap 'p2p0': 'peer' 10.0.0.1 is this end's own address; give the other end's"),
    ({"kind": "tun", "addresses": ["10.0.0.1/32"], "peer": "10.0.0.0/24"},
     "tap 'p2p0': peer '10.0.0.0/24' is not an IP address (IPv4 a.b.c.d or IPv6 x::y, without a prefix length)"),
])
def test_bad_peer_is_refused_and_nothing_changes(netns, device, message):
    before = snapshot(netns)
    with pytest.raises(HostnetError) as err:
        converge(netns, [dict(device, name="p2p0")])
    assert str(err.value) == message
    assert snapshot(netns) == before
