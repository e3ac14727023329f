# -*- coding: utf-8 -*-
"""Proxy ARP for a routed network (issue 13, section 6): a guest behind a bridge holds an address of the uplink's
LAN, and a host on that LAN reaches it with no route of its own, because the engine's proxy entry has the host
answer ARP for the address on the uplink. Throwaway namespaces: H (the host), LAN (a host on the uplink's subnet,
on-link only), G (the guest, on the bridge). Read back with `ip -j neigh show proxy` and the LAN's own neighbour
table, never through the engine."""

import json
from contextlib import ExitStack

import pytest

from conftest import sh, throwaway_netns
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

GUEST_LAN_ADDRESS = "198.51.100.50"
ROUTE = "%s/32 via 10.66.0.2" % GUEST_LAN_ADDRESS
PROXY = "%s dev hqpxup0" % GUEST_LAN_ADDRESS
BRIDGE = {"kind": "bridge", "name": "hqpxb0", "addresses": ["10.66.0.1/24"], "ports": ["hqpxg0"]}


@pytest.fixture
def lab(netns):
    """H with an uplink hqpxup0 to LAN (198.51.100.0/24) and a port hqpxg0 for G (10.66.0.2, plus the LAN address
    on its loopback); H forwards on the uplink and the bridge only (ip_forward stays 0)."""
    with ExitStack() as stack:
        names = {"H": netns, "LAN": stack.enter_context(throwaway_netns()), "G": stack.enter_context(throwaway_netns())}
        for host_if, role, addr in (("hqpxup0", "LAN", "198.51.100.2/24"), ("hqpxg0", "G", "10.66.0.2/24")):
            sh("ip", "-n", netns, "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", names[role])
            sh("ip", "-n", netns, "link", "set", host_if, "up")
            sh("ip", "-n", names[role], "addr", "add", addr, "dev", "eth0")
            sh("ip", "-n", names[role], "link", "set", "eth0", "up")
        sh("ip", "-n", netns, "addr", "add", "198.51.100.1/24", "dev", "hqpxup0")
        sh("ip", "-n", names["G"], "addr", "add", GUEST_LAN_ADDRESS + "/32", "dev", "lo")
        sh("ip", "-n", names["G"], "route", "add", "default", "via", "10.66.0.1")
        converge(netns, [], [])
        for name in ("hqpxup0", "hqpxb0"):
            sh("sysctl", "-qw", "net.ipv4.conf.%s.forwarding=1" % name, netns=netns)
        yield names


def converge(netns, routes, proxies, **kw):
    return _engine.converge(_model.normalise_all([dict(BRIDGE, routes=routes, proxy_arp=proxies)]), netns=netns, **kw)


def proxy_entries(netns):
    """(address, device, protocol) of every proxy entry, as ip reads them."""
    out = json.loads(sh("ip", "-n", netns, "-j", "neigh", "show", "proxy").stdout)
    return sorted((e["dst"], e["dev"], str(e.get("protocol"))) for e in out)


def lan_reaches_guest(names):
    sh("ip", "-n", names["LAN"], "neigh", "flush", "dev", "eth0")
    return sh("ping", "-c1", "-W2", "-n", GUEST_LAN_ADDRESS, netns=names["LAN"], check=False).returncode == 0


def mac(netns, name):
    return json.loads(sh("ip", "-n", netns, "-j", "link", "show", "dev", name).stdout)[0]["address"]


def test_the_lan_reaches_a_guest_address_through_the_host_proxy_and_only_ours_is_removed(lab):
    host = lab["H"]
    converge(host, [ROUTE], [])
    assert not lan_reaches_guest(lab)  # routed, but nobody on the LAN answers ARP for it
    checked = converge(host, [ROUTE], [PROXY], check_mode=True)
    assert checked["plan"] == ["add proxy ARP %s for bridge 'hqpxb0'" % PROXY]
    assert proxy_entries(host) == []  # check mode wrote nothing
    first = converge(host, [ROUTE], [PROXY])
    assert first["changed"] and first["devices"]["hqpxb0"]["proxy_arp"] == [PROXY]
    assert proxy_entries(host) == [(GUEST_LAN_ADDRESS, "hqpxup0", "74")]
    assert lan_reaches_guest(lab)
    answered = json.loads(sh("ip", "-n", lab["LAN"], "-j", "neigh", "show", GUEST_LAN_ADDRESS).stdout)
    assert answered[0]["lladdr"] == mac(host, "hqpxup0")  # the host answered, on the guest's behalf
    assert not converge(host, [ROUTE], [PROXY])["changed"]
    sh("ip", "-n", host, "neigh", "add", "proxy", "198.51.100.60", "dev", "hqpxup0")  # someone else's
    assert converge(host, [ROUTE], [])["plan"] == ["del proxy ARP %s for bridge 'hqpxb0'" % PROXY]
    assert proxy_entries(host) == [("198.51.100.60", "hqpxup0", "None")]
    assert not lan_reaches_guest(lab)
    converge(host, [ROUTE], [PROXY])
    gone = _engine.converge(_model.normalise_all([{"kind": "bridge", "name": "hqpxb0", "state": "absent"}]), netns=host)
    assert gone["plan"] == ["delete bridge 'hqpxb0'", "del proxy ARP %s for bridge 'hqpxb0'" % PROXY]
    assert proxy_entries(host) == [("198.51.100.60", "hqpxup0", "None")]


@pytest.mark.parametrize("routes, proxies, message", [
    ([ROUTE], ["198.51.100.50 dev hqnosuch0"], "bridge 'hqpxb0': proxy_arp '198.51.100.50 dev hqnosuch0': interface"
                                               " 'hqnosuch0' not found in"),
    ([], [PROXY], "bridge 'hqpxb0': proxy_arp '%s': no route of the bridge leads to that address; add a route to it"
                  " in 'routes'" % PROXY),
    ([ROUTE], ["198.51.100.50 on hqpxup0"], "bridge 'hqpxb0': proxy_arp entry '198.51.100.50 on hqpxup0' is not"
                                            " 'ADDRESS dev IFNAME'"),
    ([ROUTE], ["198.51.100.050 dev hqpxup0"], "bridge 'hqpxb0': proxy_arp '198.51.100.050' is not an IP address"),
    ([ROUTE], ["198.51.100.50 dev hqpxb0"], "bridge 'hqpxb0': proxy_arp entry '198.51.100.50 dev hqpxb0' is on the"
                                            " bridge itself"),
    ([ROUTE], [PROXY, PROXY], "bridge 'hqpxb0': a proxy_arp entry is given twice"),
])
def test_bad_proxy_entries_are_refused_before_anything_changes(lab, routes, proxies, message):
    host = lab["H"]
    before = (proxy_entries(host), sh("ip", "-n", host, "-j", "route").stdout)
    with pytest.raises(HostnetError) as err:
        converge(host, routes, proxies)
    assert message in str(err.value)
    assert (proxy_entries(host), sh("ip", "-n", host, "-j", "route").stdout) == before
