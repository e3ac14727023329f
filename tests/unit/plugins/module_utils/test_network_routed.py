# -*- coding: utf-8 -*-
"""Kind routed (issue 13, section 6): the host routes the network's subnet through the uplink, without NAT. The rules
and checks here; scenario network routes a LAN stand-in to a guest and back and reads the source address."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _forwarding, _nftnet, _nftrules, _routednet

RT = {"name": "rtnet", "kind": "routed", "bridge": "hqrt0", "address": "10.66.0.1/24", "uplink": "wan0"}
LINKS = {"wan0": None, "eth0": None}


def forward_rules(networks):
    doc = json.loads(_nftrules.render(networks))["nftables"]
    return [(r["comment"], r["expr"]) for r in (c.get("add", {}).get("rule") for c in doc) if r and r["family"] == "inet"]


def test_the_lan_reaches_the_guests_and_nothing_is_masqueraded():
    found = forward_rules([RT])
    comments = [c for c, _e in found]
    assert comments == ["network rtnet: within the network", "network rtnet: replies", "network rtnet: routed, in from the uplink",
                        "network rtnet: only replies enter", "network rtnet: out", "network rtnet: nowhere else"]
    assert "masquerade" not in json.dumps(found)
    inbound = dict(found)["network rtnet: routed, in from the uplink"]
    assert inbound[:2] == [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wan0"}},
                           {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "hqrt0"}}]


def test_forwarding_and_the_guard_cover_routed_networks():
    normalised = _nftnet.normalise([RT])
    assert _forwarding.sysctls(normalised) == {"net/ipv4/conf/hqrt0/forwarding": "1", "net/ipv4/conf/wan0/forwarding": "1",
                                               "net/ipv6/conf/hqrt0/accept_ra": "0"}
    doc = json.loads(_nftrules.render([RT], guarded=["wan0"]))["nftables"]
    first = [c["add"]["rule"] for c in doc if "rule" in c.get("add", {})][0]
    assert first["comment"] == "uplink wan0: forwarding is on for the networks behind it only"
    assert first["expr"][1]["match"]["right"] == {"set": ["hqrt0"]}


def test_dhcp_gives_the_host_as_router_and_dns_forwards():
    dhcp = _dhcp.normalise(dict(RT, dhcp={}), "routed", *(_net_host(RT)))
    assert dhcp["dhcp"]["router"] == "10.66.0.1" and dhcp["dns"]["forward"] is True


def _net_host(net):
    import netaddr
    host = netaddr.IPNetwork(net["address"])
    return host, host.cidr


@pytest.mark.parametrize("net, want", [
    (dict(RT, address=None), "network 'rtnet': a routed network needs field 'address'"),
    (dict(RT, uplink=None), "network 'rtnet': a routed network needs field 'uplink'"),
    (dict(RT, span={"vni": 7}), "network 'rtnet': field 'span' applies to kinds isolated and nat"),
    (dict(RT, forwards=[{"host_port": 80, "guest": "10.66.0.5"}]), "network 'rtnet': field 'forwards' applies to kind nat"),
])
def test_bad_routed_networks(net, want):
    msgs = _nftnet.check([dict((k, v) for k, v in net.items() if v is not None)], LINKS)
    assert any(m.startswith(want) for m in msgs), msgs


@pytest.mark.parametrize("uplink_addresses, problem", [
    (["10.66.0.200/24"], "network 'rtnet': subnet 10.66.0.0/24 overlaps subnet 10.66.0.0/24 of its uplink 'wan0'"
                         " (address 10.66.0.200/24); a routed network needs a subnet of its own that the LAN routes to"
                         " the host"),
    (["10.0.0.9/8"], "network 'rtnet': subnet 10.66.0.0/24 overlaps subnet 10.0.0.0/8 of its uplink 'wan0'"),
    (["198.51.100.1/24", "2001:db8::1/64", "10.66.0.7/32"], None),
])
def test_a_routed_subnet_must_not_overlap_the_uplinks(uplink_addresses, problem):
    dump = {"wan0": {"addresses": uplink_addresses}, "eth0": {"addresses": ["10.66.0.9/24"]}}
    errors = _routednet.on_host(_nftnet.normalise(_nftnet.validate([RT], LINKS)), dump)
    if problem is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(problem), errors


ROUTED_BEHIND = dict(RT, routes=[{"to": "10.67.0.0/24", "via": "10.66.0.11"}])


def test_routes_go_onto_the_bridge_and_their_gateway_guest_may_send_from_them():
    from ansible_collections.hostnet.qemu.plugins.module_utils import _nftports
    devices = _nftnet.devices([ROUTED_BEHIND])
    assert devices[0]["routes"] == ["10.67.0.0/24 via 10.66.0.11"]
    ports = _nftports.normalise([
        {"ifname": "r1-n0", "mac": "52:54:00:00:00:11", "network": "rtnet", "addresses": ["10.66.0.11"], "trust": False},
        {"ifname": "g2-n0", "mac": "52:54:00:00:00:12", "network": "rtnet", "addresses": ["10.66.0.12"], "trust": False},
    ], _nftnet.normalise([ROUTED_BEHIND]))
    assert [p["allowed"] for p in ports] == [["10.66.0.11", "10.67.0.0/24"], ["10.66.0.12"]]


@pytest.mark.parametrize("routes, want", [
    ([{"to": "10.67.0.5/24", "via": "10.66.0.11"}], "network 'rtnet': field 'routes[0]' '10.67.0.5/24 via 10.66.0.11':"
                                                    " 10.67.0.5/24 has host bits set; give the network, 10.67.0.0/24"),
    ([{"to": "10.67.0.0/24", "via": "10.9.0.1"}], "network 'rtnet': field 'routes[0]': gateway 10.9.0.1 is not a guest"
                                                  " address of the network (10.66.0.0/24, the host's 10.66.0.1)"),
    ([{"to": "10.67.0.0/24", "via": "10.66.0.1"}], "network 'rtnet': field 'routes[0]': gateway 10.66.0.1 is not a guest"),
    ([{"to": "10.66.0.128/25", "via": "10.66.0.11"}], "network 'rtnet': field 'routes[0]': 10.66.0.128/25 overlaps the"
                                                      " network's own subnet 10.66.0.0/24; give a subnet behind a guest"),
    ([{"to": "192.168.60.0/24", "via": "10.66.0.11"}], "network 'rtnet': field 'routes[0]' 192.168.60.0/24 overlaps"
                                                       " subnet 192.168.60.0/24 of network 'isonet'"),
])
def test_bad_routes(routes, want):
    iso = {"name": "isonet", "kind": "isolated", "bridge": "hqiso0", "address": "192.168.60.1/24"}
    msgs = _nftnet.check([iso, dict(RT, routes=routes)], LINKS)
    assert any(m.startswith(want) for m in msgs), msgs


def test_routes_belong_to_routed_networks():
    nat = {"name": "n", "kind": "nat", "bridge": "hqn0", "address": "10.5.0.1/24", "uplink": "wan0",
           "routes": [{"to": "10.6.0.0/24", "via": "10.5.0.9"}]}
    assert "network 'n': field 'routes' applies to kind routed (subnets the host routes to guests); drop it or set" \
           " kind: routed" in _nftnet.check([nat], LINKS)


PROXIED = dict(RT, routes=[{"to": "198.51.100.50/32", "via": "10.66.0.11", "proxy_arp": True},
                           {"to": "10.67.0.0/24", "via": "10.66.0.11"}])


def test_a_route_with_proxy_arp_gets_a_proxy_entry_on_the_uplink():
    devices = _nftnet.devices([PROXIED])
    assert devices[0]["routes"] == ["10.67.0.0/24 via 10.66.0.11", "198.51.100.50/32 via 10.66.0.11"]
    assert devices[0]["proxy_arp"] == ["198.51.100.50 dev wan0"]
    assert _nftnet.devices([ROUTED_BEHIND])[0]["proxy_arp"] == []
    dump = {"wan0": {"addresses": ["198.51.100.1/24"]}}
    assert _routednet.on_host(_nftnet.normalise(_nftnet.validate([PROXIED], LINKS)), dump) == []


@pytest.mark.parametrize("to, uplink_addresses, want", [
    ("198.51.100.1/32", ["198.51.100.1/24"], "network 'rtnet': route to 198.51.100.1/32 with proxy_arp: that is the"
                                             " uplink 'wan0''s own address; give an unused address of its LAN"),
    ("203.0.113.5/32", ["198.51.100.1/24"], "network 'rtnet': route to 203.0.113.5/32 with proxy_arp: the address is in"
                                            " no subnet of the uplink 'wan0' (198.51.100.0/24), so no host there would"
                                            " ask for it; drop proxy_arp or give an address of its LAN"),
    ("198.51.100.50/32", [], "network 'rtnet': route to 198.51.100.50/32 with proxy_arp: the address is in no subnet of"
                             " the uplink 'wan0' (no IPv4 address)"),
])
def test_a_proxied_address_must_be_an_unused_one_of_the_uplinks_lan(to, uplink_addresses, want):
    net = dict(RT, routes=[{"to": to, "via": "10.66.0.11", "proxy_arp": True}])
    errors = _routednet.on_host(_nftnet.normalise(_nftnet.validate([net], LINKS)), {"wan0": {"addresses": uplink_addresses}})
    assert len(errors) == 1 and errors[0].startswith(want), errors


@pytest.mark.parametrize("route, want", [
    ({"to": "198.51.100.48/29", "via": "10.66.0.11", "proxy_arp": True},
     "network 'rtnet': field 'routes[0]': proxy_arp answers for one address of the uplink's LAN; give 'to' as"
     " ADDRESS/32 (IPv4) or ADDRESS/128 (IPv6, proxy NDP) (198.51.100.48/29 is a subnet)"),
    ({"to": "2001:db8:ff::/120", "via": "fd00:66::11", "proxy_arp": True},
     "network 'rtnet': field 'routes[0]': proxy_arp answers for one address of the uplink's LAN; give 'to' as"
     " ADDRESS/32 (IPv4) or ADDRESS/128 (IPv6, proxy NDP) (2001:db8:ff::/120 is a subnet)"),
    ({"to": "2001:db8::5/128", "via": "10.66.0.11", "proxy_arp": True},
     "network 'rtnet': field 'routes[0]' '2001:db8::5/128 via 10.66.0.11': the gateway is not of the destination's"
     " family"),
    ({"to": "198.51.100.50/32", "via": "10.66.0.11", "proxy_arp": "maybe"},
     "network 'rtnet': routes[0].proxy_arp: 'maybe' is not a boolean; use true or false"),
])
def test_bad_proxy_routes(route, want):
    msgs = _nftnet.check([dict(RT, ipv6={"address": "fd00:66::1/64"}, routes=[route])], LINKS)
    assert any(m.startswith(want) for m in msgs), msgs


RT6 = dict(RT, ipv6={"address": "fd00:66::1/64"})
PROXIED6 = dict(RT6, routes=[{"to": "2001:db8:ff::66/128", "via": "FD00:66::0011", "proxy_arp": True},
                             {"to": "fd00:67::/64", "via": "fd00:66::11"}, {"to": "198.51.100.50/32", "via": "10.66.0.11"}])


def test_ipv6_routes_go_through_a_guest_of_the_prefix_and_a_proxied_one_gets_a_proxy_ndp_entry():
    assert _nftnet.check([PROXIED6], LINKS) == []
    device = _nftnet.devices([PROXIED6])[0]
    assert device["routes"] == ["198.51.100.50/32 via 10.66.0.11", "2001:db8:ff::66/128 via fd00:66::11",
                                "fd00:67::/64 via fd00:66::11"]
    assert device["proxy_arp"] == ["2001:db8:ff::66 dev wan0"]
    dump = {"wan0": {"addresses": ["198.51.100.1/24", "2001:db8:ff::1/64", "fe80::1/64"]}}
    assert _routednet.on_host(_nftnet.normalise(_nftnet.validate([PROXIED6], LINKS)), dump) == []


@pytest.mark.parametrize("net, want", [
    (dict(RT, routes=[{"to": "fd00:67::/64", "via": "fd00:66::11"}]),
     "network 'rtnet': field 'routes[0]': an IPv6 route goes through a guest's address of the network's IPv6 prefix,"
     " and the network has no field 'ipv6'; give it ipv6 (e.g. address: fd00:66::1/64)"),
    (dict(RT6, routes=[{"to": "fd00:67::/64", "via": "fd00:99::11"}]),
     "network 'rtnet': field 'routes[0]': gateway fd00:99::11 is not a guest address of the network (fd00:66::/64,"
     " the host's fd00:66::1); give the address of the guest that routes fd00:67::/64"),
    (dict(RT6, routes=[{"to": "fd00:67::/64", "via": "fd00:66::1"}]),
     "network 'rtnet': field 'routes[0]': gateway fd00:66::1 is not a guest address of the network"),
    (dict(RT6, routes=[{"to": "fd00:66::80/121", "via": "fd00:66::11"}]),
     "network 'rtnet': field 'routes[0]': fd00:66::80/121 overlaps the network's own IPv6 prefix fd00:66::/64; give"
     " a subnet behind a guest"),
])
def test_bad_ipv6_routes(net, want):
    msgs = _nftnet.check([net], LINKS)
    assert any(m.startswith(want) for m in msgs), msgs


def test_an_ipv6_route_must_not_claim_another_networks_prefix():
    iso = {"name": "isonet", "kind": "isolated", "bridge": "hqiso0", "address": "192.168.60.1/24",
           "ipv6": {"address": "fd00:60::1/64"}}
    msgs = _nftnet.check([iso, dict(RT6, routes=[{"to": "fd00:60::/64", "via": "fd00:66::11"}])], LINKS)
    assert "network 'rtnet': field 'routes[0]' fd00:60::/64 overlaps subnet fd00:60::/64 of network 'isonet'; give a" \
           " subnet no network has" in msgs, msgs


@pytest.mark.parametrize("to, uplink_addresses, want", [
    ("2001:db8:ff::1/128", ["198.51.100.1/24", "2001:db8:ff::1/64"], "network 'rtnet': route to 2001:db8:ff::1/128"
     " with proxy_arp: that is the uplink 'wan0''s own address; give an unused address of its LAN"),
    ("2001:db8:ee::5/128", ["2001:db8:ff::1/64", "fe80::1/64"], "network 'rtnet': route to 2001:db8:ee::5/128 with"
     " proxy_arp: the address is in no subnet of the uplink 'wan0' (2001:db8:ff::/64), so no host there would ask for"
     " it; drop proxy_arp or give an address of its LAN"),
    ("2001:db8:ff::5/128", ["198.51.100.1/24", "fe80::1/64"], "network 'rtnet': route to 2001:db8:ff::5/128 with"
     " proxy_arp: the address is in no subnet of the uplink 'wan0' (no IPv6 address)"),
])
def test_a_proxy_ndp_address_must_be_an_unused_one_of_the_uplinks_ipv6_lan(to, uplink_addresses, want):
    net = dict(RT6, routes=[{"to": to, "via": "fd00:66::11", "proxy_arp": True}])
    errors = _routednet.on_host(_nftnet.normalise(_nftnet.validate([net], LINKS)), {"wan0": {"addresses": uplink_addresses}})
    assert len(errors) == 1 and errors[0].startswith(want), errors
