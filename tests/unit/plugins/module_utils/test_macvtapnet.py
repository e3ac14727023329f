# -*- coding: utf-8 -*-
"""Kind macvtap against the host: a parent that keeps an address in the network's subnet would take the host's
traffic to the guests (scenario macvtap asserts the message on a real parent)."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _macvtapnet, _nftnet

MV = {"name": "lanmv", "kind": "macvtap", "link": "eth1", "address": "10.78.0.1/24", "host_interface": "mvhost0"}


@pytest.mark.parametrize("parent, refused", [
    (["10.78.0.200/24"], True),            # the same prefix: the parent's route competes with the macvlan's
    (["10.78.0.130/25"], True),            # a longer one wins for half the guests
    (["10.0.0.5/8"], False),               # a wider one loses to the network's own /24
    (["10.78.0.200/32"], False),           # no prefix route
    (["192.0.2.1/24", "fd00::1/64"], False),
    ([], False),
])
def test_a_parent_address_in_the_subnet_is_refused(parent, refused):
    networks = _nftnet.normalise(_nftnet.validate([MV], {"eth1": None}))
    errors = _macvtapnet.on_host(networks, {"eth1": {"addresses": parent}})
    if refused:
        assert len(errors) == 1 and errors[0].startswith(
            "network 'lanmv': the parent 'eth1' keeps address %s in the network's subnet 10.78.0.0/24, so the host's"
            " traffic to the guests would leave by 'eth1'" % parent[0]), errors
    else:
        assert errors == []
    assert _macvtapnet.on_host(_nftnet.normalise(_nftnet.validate([dict(MV, address=None, host_interface=None)],
                                                                  {"eth1": None})), {"eth1": {"addresses": parent}}) == []


def test_the_fix_offered_is_the_takeover():
    networks = _nftnet.normalise(_nftnet.validate([MV], {"eth1": None}))
    assert _macvtapnet.on_host(networks, {"eth1": {"addresses": ["10.78.0.1/24"]}})[0].endswith(
        "Either use a subnet 'eth1' does not have, or let the network take the parent's addresses and routes over:"
        " address: 10.78.0.1/24 and takeover: true")


@pytest.mark.parametrize("parent, host_if, error", [
    (["10.78.0.1/24", "192.0.2.7/24"], [], None),      # to be moved
    ([], ["10.78.0.1/24"], None),                      # moved already
    (["10.78.0.7/24"], [], "network 'lanmv': field 'takeover' moves the parent's addresses to 'mvhost0', but the"
                           " parent 'eth1' does not have the network's address 10.78.0.1/24 (it has: 10.78.0.7/24);"
                           " give as address the one the parent has"),
    ([], [], "network 'lanmv': field 'takeover' moves the parent's addresses to 'mvhost0', but the parent 'eth1' does"
             " not have the network's address 10.78.0.1/24 (it has: none); give as address the one the parent has"),
])
def test_a_takeover_needs_the_address_on_the_parent(parent, host_if, error):
    networks = _nftnet.normalise(_nftnet.validate([dict(MV, takeover=True)], {"eth1": None}))
    errors = _macvtapnet.on_host(networks, {"eth1": {"addresses": parent}, "mvhost0": {"addresses": host_if}})
    assert errors == ([error] if error else [])


def test_a_takeover_is_an_uplink_via_the_macvlan_whose_addresses_the_engine_leaves_alone():
    networks = [dict(MV, takeover=True)]
    assert _nftnet.uplinks(networks) == [
        {"name": "lanmv", "bridge": "mvhost0", "nic": "eth1", "state": "present", "via": "macvlan",
         "dhcp": False, "route_metric": 0, "vlans": []}]
    assert _nftnet.devices(networks) == [
        {"kind": "macvlan", "name": "mvhost0", "state": "present", "link": "eth1", "mode": "bridge", "up": True}]
    assert _nftnet.devices([MV])[0]["addresses"] == ["10.78.0.1/24"]
    assert _nftnet.uplinks([MV]) == []


@pytest.mark.parametrize("net, message", [
    ({"name": "n", "kind": "isolated", "address": "10.9.0.1/24", "takeover": True},
     "network 'n': field 'takeover' only applies to kind macvtap; drop it or set kind: macvtap"),
    (dict(MV, address=None, host_interface=None, takeover=True),
     "network 'lanmv': field 'takeover' needs field 'address' (the host's address on the guests' LAN); add it, or"
     " drop takeover"),
    (dict(MV, takeover="maybe"), "network 'lanmv': takeover: 'maybe' is not a boolean; use true or false"),
])
def test_bad_takeovers_are_named(net, message):
    with pytest.raises(Exception) as caught:
        _nftnet.validate([net], {"eth1": None})
    assert message in str(caught.value)
