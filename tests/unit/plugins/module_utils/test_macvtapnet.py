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
