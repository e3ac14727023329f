# -*- coding: utf-8 -*-
"""The engine's managed routes through a bridge (a routed network's subnets behind guests), in a throwaway
namespace. Read back with `ip -j route`, never through the engine; someone else's route on the same bridge stays."""

import json

import pytest

from conftest import sh
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

BRIDGE = {"kind": "bridge", "name": "hqrtb0", "addresses": ["10.66.0.1/24"]}


def converge(netns, routes, **kw):
    return _engine.converge(_model.normalise_all([dict(BRIDGE, routes=routes)]), netns=netns, **kw)


def kernel_routes(netns):
    """(dst, gateway, protocol) of every route on the bridge, as ip reads them."""
    out = json.loads(sh("ip", "-n", netns, "-j", "route", "show", "dev", "hqrtb0").stdout)
    return sorted((r["dst"], r.get("gateway"), str(r.get("protocol"))) for r in out)


def test_routes_are_added_kept_changed_and_only_ours_removed(netns):
    first = converge(netns, ["10.67.0.0/24 via 10.66.0.254", "10.68.0.0/24"])
    assert first["changed"] and "add route 10.67.0.0/24 via 10.66.0.254 on bridge 'hqrtb0'" in first["plan"]
    assert kernel_routes(netns) == [("10.66.0.0/24", None, "kernel"), ("10.67.0.0/24", "10.66.0.254", "74"),
                                    ("10.68.0.0/24", None, "74")]
    assert first["devices"]["hqrtb0"]["routes"] == ["10.67.0.0/24 via 10.66.0.254", "10.68.0.0/24"]
    assert not converge(netns, ["10.68.0.0/24", "10.67.0.0/24 via 10.66.0.254"])["changed"]
    sh("ip", "-n", netns, "route", "add", "10.69.0.0/24", "via", "10.66.0.9", "proto", "static")  # someone else's
    checked = converge(netns, ["10.67.0.0/24 via 10.66.0.253"], check_mode=True)
    assert checked["plan"] == ["del route 10.67.0.0/24 via 10.66.0.254 on bridge 'hqrtb0'",
                               "del route 10.68.0.0/24 on bridge 'hqrtb0'",
                               "add route 10.67.0.0/24 via 10.66.0.253 on bridge 'hqrtb0'"]
    assert ("10.68.0.0/24", None, "74") in kernel_routes(netns)  # check mode wrote nothing
    converge(netns, ["10.67.0.0/24 via 10.66.0.253"])
    assert kernel_routes(netns) == [("10.66.0.0/24", None, "kernel"), ("10.67.0.0/24", "10.66.0.253", "74"),
                                    ("10.69.0.0/24", "10.66.0.9", "static")]
    assert converge(netns, [])["changed"]
    assert kernel_routes(netns) == [("10.66.0.0/24", None, "kernel"), ("10.69.0.0/24", "10.66.0.9", "static")]
    assert not converge(netns, None)["changed"]  # routes left alone


@pytest.mark.parametrize("routes, message", [
    (["10.67.0.5/24 via 10.66.0.254"], "bridge 'hqrtb0': route '10.67.0.5/24 via 10.66.0.254': 10.67.0.5/24 has host"
                                       " bits set; give the network, 10.67.0.0/24"),
    (["10.67.0.0 via 10.66.0.254"], "bridge 'hqrtb0': route '10.67.0.0 via 10.66.0.254': the destination is not a"
                                    " network with its prefix length"),
    (["10.67.0.0/24 via fe80::1"], "the gateway is not of the destination's family"),
    (["10.67.0.0/24", "10.67.0.0/24 via 10.66.0.2"], "bridge 'hqrtb0': route to 10.67.0.0/24 is given twice"),
])
def test_bad_routes_are_refused_before_anything_changes(netns, routes, message):
    with pytest.raises(HostnetError) as err:
        converge(netns, routes)
    assert message in str(err.value)
    assert "hqrtb0" not in sh("ip", "-n", netns, "-br", "link").stdout


def test_a_route_the_kernel_refuses_is_named(netns):
    with pytest.raises(HostnetError) as err:
        converge(netns, ["10.67.0.0/24 via 192.0.2.1"])  # the gateway is not on the bridge's subnet
    assert "hqrtb0" in str(err.value) and "add route 10.67.0.0/24 via 192.0.2.1" in str(err.value)


def test_the_kernel_sends_only_the_managed_routes(netns):
    """A host with a large routing table: the engine's route dump is filtered by the kernel (protocol 74, main
    table), not read whole and filtered here. Counted in raw netlink replies."""
    from ansible_collections.hostnet.qemu.plugins.module_utils import _netlink, _nlwire
    converge(netns, ["10.67.0.0/24 via 10.66.0.254"])
    batch = "".join("route add 10.%d.%d.0/24 via 10.66.0.9 proto static\n" % (100 + i // 250, i % 250) for i in range(500))
    sh("ip", "-n", netns, "-batch", "-", input=batch)
    with _netlink.Kernel(netns) as kernel:
        assert [r["dst"] for r in kernel.managed_route_list()] == ["10.67.0.0/24"]
        assert len(kernel._dump(_nlwire.RTM_GETROUTE)) > 500  # what an unfiltered dump sends
        kernel._sock.setsockopt(_nlwire.SOL_NETLINK, _nlwire.NETLINK_GET_STRICT_CHK, 1)
        raw = kernel._dump(_nlwire.RTM_GETROUTE, request=lambda seq: _nlwire.route_dump_request(
            seq, _nlwire.AF_INET, 74, 254))
    assert len(raw) == 1  # one reply message: the kernel left the 500 static routes out
    assert not converge(netns, ["10.67.0.0/24 via 10.66.0.254"])["changed"]
