# -*- coding: utf-8 -*-
"""Spanned networks across an inventory (plugins/plugin_utils/_span.py, the network_spans filter) and one host's
part of them (module_utils/_spannet.py, _nftnet, _nftrules, _dhcp): pure, no kernel."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.filter.network import network_spans
from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _nftnet, _nftrules, _spannet
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _span


def lab(**span):
    net = {"name": "lab", "kind": "nat", "uplink": "eth0", "address": "10.42.0.1/24",
           "dhcp": {"ranges": [{"start": "10.42.0.100", "end": "10.42.0.150"}]},
           "span": {"vni": 4242, "gateway_host": "h1"}}
    net["span"].update(span)
    return net


def facts(address, **more):
    out = {"default_ipv4": {"address": address}, "interfaces": ["lo", "eth0"], "eth0": {"ipv4": {"address": address}}}
    out.update(more)
    return out


def hosts(*names, **over):
    out = {}
    for index, name in enumerate(names):
        out[name] = {"networks": [lab()], "vtep_address": None, "vtep_interface": None,
                     "facts": facts("192.0.2.%d" % (index + 1))}
        out[name].update(over.get(name, {}))
    return out


def test_peers_are_the_other_hosts_vteps_whatever_the_order():
    one = _span.plan(hosts("h1", "h2", "h3"))
    assert one["problems"] == []
    spans = dict((h, n[0]["span"]) for h, n in one["networks"].items())
    assert spans["h1"]["local"] == "192.0.2.1" and spans["h1"]["peers"] == ["192.0.2.2", "192.0.2.3"]
    assert spans["h3"]["peers"] == ["192.0.2.1", "192.0.2.2"]
    assert [spans[h]["gateway"] for h in ("h1", "h2", "h3")] == [True, False, False]
    # a fourth host joins: the others' peers grow by one, nothing else about them changes
    four = hosts("h1", "h2", "h3", "h4")
    two = _span.plan(dict(reversed(list(four.items()))))
    assert two["networks"]["h1"][0]["span"]["peers"] == ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
    assert two["networks"]["h2"][0]["span"]["local"] == "192.0.2.2"


def test_hosts_without_the_network_and_absent_members_are_no_peers():
    data = hosts("h1", "h2", "h3")
    data["h3"]["networks"] = [dict(lab(), state="absent")]
    data["db"] = {"networks": [], "facts": facts("192.0.2.99")}
    out = _span.plan(data)
    assert out["problems"] == []
    assert out["networks"]["h1"][0]["span"]["peers"] == ["192.0.2.2"]
    assert out["networks"]["db"] == []
    assert "peers" not in out["networks"]["h3"][0]["span"]


def test_vtep_from_an_interface_and_an_explicit_address():
    data = hosts("h1", "h2")
    data["h1"]["vtep_interface"] = "eth1"
    data["h1"]["facts"] = facts("192.0.2.1", interfaces=["lo", "eth0", "eth1"], eth1={"ipv4": {"address": "198.51.100.1"}})
    data["h2"]["vtep_address"] = "198.51.100.2"
    out = _span.plan(data)
    assert out["problems"] == []
    assert out["networks"]["h1"][0]["span"]["peers"] == ["198.51.100.2"]
    assert out["networks"]["h2"][0]["span"]["peers"] == ["198.51.100.1"]


@pytest.mark.parametrize("change, message", [
    ({"h2": {"networks": [lab(vni=4243)]}},
     "network 'lab': span.vni is 4242 on host 'h1' but 4243 on host 'h2'; declare the network the same on every host"),
    ({"h2": {"networks": [lab(mtu=1400)]}},
     "network 'lab': span.mtu is None on host 'h1' but 1400 on host 'h2'; declare the network the same on every host"),
    ({"h2": {"networks": [dict(lab(), kind="isolated")]}},
     "network 'lab': kind is nat on host 'h1' but isolated on host 'h2'; declare the network the same on every host"),
    ({"h2": {"networks": [dict(lab(), address="10.43.0.1/24")]}},
     "network 'lab': subnet is 10.42.0.0/24 on host 'h1' but 10.43.0.0/24 on host 'h2'; declare the network the"
     " same on every host"),
    ({"h2": {"networks": [lab(), dict(lab(), name="other", address="10.44.0.1/24")]}},
     "network 'lab' (host 'h1') and network 'other' (host 'h2') both use span.vni 4242; give each spanned network its"
     " own VNI"),
    ({"h2": {"vtep_address": "192.0.2.1"}},
     "hosts 'h1' and 'h2' have the same VTEP address 192.0.2.1; give each host its own (hostnet_network_vtep_address)"),
    ({"h2": {"facts": {}}},
     "host 'h2': its VTEP address is unknown (no facts: it is not in this play, or facts were not gathered); set"
     " hostnet_network_vtep_address for it in the inventory, or run the play on it"),
    ({"h2": {"vtep_interface": "eth9"}},
     "host 'h2': hostnet_network_vtep_interface 'eth9' does not exist (found: eth0, lo); name the interface the"
     " tunnels run over"),
    ({"h1": {"networks": [lab(gateway_host="h9")]}, "h2": {"networks": [lab(gateway_host="h9")]}},
     "network 'lab': span.gateway_host 'h9' does not declare the network (declared by: h1, h2); name one of them"),
    ({"h1": {"networks": [lab(gateway_host=None)]}, "h2": {"networks": [lab(gateway_host=None)]}},
     "network 'lab': hosts 'h1' and 'h2' each declare an address or kind nat, so each would be its gateway and"
     " DHCP/DNS server on one segment; name the one with span.gateway_host"),
    ({"h2": {"networks": [lab(peers=["192.0.2.7"])]}},
     "network 'lab' on host 'h2': field 'span.peers' is derived by the role from the inventory; drop it"),
])
def test_inventory_conflicts_name_both_hosts(change, message):
    data = hosts("h1", "h2")
    for host, values in change.items():
        data[host].update(values)
    assert message in _span.plan(data)["problems"]


def test_the_filter_takes_parallel_columns_and_malformed_spans_are_left_to_the_module():
    out = network_spans(["h1", "h2", "db"], [[lab()], [lab(), {"name": "x", "span": "yes"}], None],
                        [None, None], None, [facts("192.0.2.1"), facts("192.0.2.2"), {}])
    assert out["problems"] == []
    assert out["networks"]["h2"][1] == {"name": "x", "span": "yes"}
    assert out["networks"]["h2"][0]["span"]["peers"] == ["192.0.2.1"]


# -- one host's part: _spannet, _nftnet, _nftrules, _dhcp -------------------------------------------------------
def host_part(gateway, **span):
    net = lab(local="192.0.2.%d" % (1 if gateway else 2), peers=["192.0.2.%d" % (2 if gateway else 1), "192.0.2.3"],
              gateway=gateway)
    net["span"].update(span)
    return net


DUMP = {"eth0": {"mtu": 1500, "addresses": ["192.0.2.1/24", "192.0.2.2/24"], "master": None},
        "jumbo0": {"mtu": 9000, "addresses": ["198.51.100.1/24"], "master": None}}


def typed(*nets):
    networks = _nftnet.validate(list(nets), dict((k, None) for k in DUMP))
    assert _spannet.on_host(networks, DUMP) == []
    return networks


def test_gateway_host_gets_the_address_dhcp_with_mtu_and_the_tunnel():
    networks = typed(host_part(True))
    devices = _nftnet.devices(networks)
    assert devices == [
        {"kind": "bridge", "name": "lab", "state": "present", "up": True, "addresses": ["10.42.0.1/24"], "routes": [], "proxy_arp": [],
         "vlan_filtering": False, "addr_gen_mode": "eui64", "mtu": 1450},
        {"kind": "vxlan", "name": "hnvx4242", "state": "present", "vni": 4242, "port": 4789, "local": "192.0.2.1",
         "underlay": "eth0",
         "peers": ["192.0.2.2", "192.0.2.3"], "learning": True, "neigh_suppress": False, "master": "lab", "mtu": 1450, "up": True}]
    conf = _dhcp.instances(_nftnet.normalise(networks))[0]["conf"]
    assert "dhcp-option=option:mtu,1450\n" in conf and "dhcp-option=option:router,10.42.0.1\n" in conf
    assert _nftnet.sysctls(networks) == {"net/ipv4/conf/eth0/forwarding": "1", "net/ipv4/conf/lab/forwarding": "1",
                                         "net/ipv6/conf/lab/accept_ra": "0"}


def test_other_hosts_get_a_bare_bridge_no_dhcp_no_nat():
    networks = typed(host_part(False))
    devices = _nftnet.devices(networks)
    assert devices[0] == {"kind": "bridge", "name": "lab", "state": "present", "up": True, "addresses": [], "routes": [],
                          "addr_gen_mode": "eui64", "proxy_arp": [], "vlan_filtering": False,
                          "mtu": 1450}
    assert devices[1]["local"] == "192.0.2.2"
    assert _dhcp.instances(_nftnet.normalise(networks)) == []
    assert _nftnet.sysctls(networks) == {"net/ipv4/conf/lab/forwarding": "0",  # a bare bridge here: closed
                                         "net/ipv6/conf/lab/accept_ra": "0"}
    rules = json.dumps(json.loads(_nftrules.render(networks)))
    assert "masquerade" not in rules


def test_the_table_admits_vxlan_only_from_the_peers():
    doc = json.loads(_nftrules.render(typed(host_part(True))))["nftables"]
    chains = [c["add"]["chain"] for c in doc if "add" in c and "chain" in c["add"]]
    assert {"name": "input", "hook": "input", "type": "filter"}.items() <= dict(
        [c for c in chains if c["name"] == "input"][0]).items()
    rules = [c["add"]["rule"] for c in doc if "add" in c and "rule" in c["add"] and c["add"]["rule"]["chain"] == "input"]
    assert len(rules) == 2  # IPv4 from anyone but the peers, and IPv6 from anyone (no IPv6 peer)
    v4 = json.dumps(rules[0]["expr"])
    assert '"right": 4789' in v4 and '"op": "!="' in v4 and '"set": ["192.0.2.2", "192.0.2.3"]' in v4
    assert rules[0]["expr"][-1] == {"drop": None} and "ipv6" in json.dumps(rules[1]["expr"])


@pytest.mark.parametrize("span, message", [
    ({"vni": 0}, "network 'lab': field 'span.vni' 0 is out of range (1..16777215)"),
    ({"port": 70000}, "network 'lab': field 'span.port' 70000 is out of range (1..65535)"),
    ({"control_plane": "evpn", "bgp": {"asn": 0}}, "network 'lab': field 'span.bgp.asn' 0 is out of range"
                                                   " (1..4294967295); set hostnet_network_evpn_asn"),
    ({"control_plane": "evpn", "bgp": {"asn": 65000, "neighbors": ["10.0.0"]}},
     "network 'lab': field 'span.bgp.neighbors' '10.0.0' is not an IP address"),
    ({"bgp": {"asn": 65000}}, "network 'lab': field 'span.bgp' applies to control_plane evpn; drop it"),
    ({"peers": ["10.0.0.0/8"]}, "network 'lab': field 'span.peers' '10.0.0.0/8' is not an IP address (IPv4 a.b.c.d"
                                " or IPv6 x::y, without a prefix length)"),
])
def test_bad_span_fields(span, message):
    with pytest.raises(_spannet.HostnetError) as err:
        _nftnet.validate([host_part(True, **span)])
    assert message in str(err.value)


def test_span_on_a_macvtap_network_and_a_vni_twice_on_one_host():
    errors = _nftnet.check([{"name": "mv", "kind": "macvtap", "link": "eth0", "span": {"vni": 7}},
                            {"name": "a", "span": {"vni": 8}}, {"name": "b", "span": {"vni": 8}}])
    assert "network 'mv': field 'span' applies to kinds isolated and nat (a bridge the VXLAN device joins), not to" \
           " macvtap; drop span or change kind" in errors
    assert "network 'b': field 'span.vni' 8 is already the VNI of network 'a'; give each network its own VNI" in errors


@pytest.mark.parametrize("span, message", [
    ({"local": "203.0.113.9"}, "network 'lab': VTEP address 203.0.113.9 is not an address of this host (found:"
                               " 192.0.2.1, 192.0.2.2, 198.51.100.1); set hostnet_network_vtep_address to one of them"),
    ({"mtu": 1451}, "network 'lab': field 'span.mtu' 1451 does not fit the underlay: eth0 has MTU 1500 and VXLAN"
                    " needs 50 bytes of it; give 1450 or less, or raise the underlay's MTU"),
    ({"local": None}, "network 'lab': field 'span.local' (this host's VTEP address) is missing"),
    ({"control_plane": "evpn"}, "network 'lab': field 'span.bgp' (this host's BGP AS and neighbours) is missing; the"
                                " network role derives it from the inventory (hostnet_network_evpn_asn, the other"
                                " hosts' VTEPs)"),
])
def test_what_only_the_host_knows(span, message):
    networks = _nftnet.validate([host_part(True, **span)], dict((k, None) for k in DUMP))
    problems = _spannet.on_host(networks, DUMP)
    assert len(problems) == 1 and problems[0].startswith(message)


def test_a_jumbo_underlay_gives_a_larger_default_mtu():
    networks = typed(host_part(True, local="198.51.100.1"))
    assert _nftnet.devices(networks)[0]["mtu"] == 8950


def test_a_host_whose_role_state_is_absent_is_nobodys_peer():
    out = network_spans(["h1", "h2", "h3"], [[lab()], [lab()], [lab()]], None, None,
                        [facts("192.0.2.1"), facts("192.0.2.2"), facts("192.0.2.3")], ["present", None, "absent"])
    assert out["problems"] == []
    assert out["networks"]["h1"][0]["span"]["peers"] == ["192.0.2.2"]


def test_what_the_role_sees_on_a_play_host_wins_over_the_inventory():
    out = network_spans(["h1", "h2"], [[lab()], [lab()]], None, None, [facts("192.0.2.1"), facts("192.0.2.2")], None,
                        ["", {"networks": [lab(), {"name": "extra"}], "vtep_address": "198.51.100.2", "state": "present"}])
    assert out["problems"] == []
    assert out["networks"]["h2"][1] == {"name": "extra"}
    assert out["networks"]["h1"][0]["span"]["peers"] == ["198.51.100.2"]
    gone = network_spans(["h1", "h2"], [[lab()], [lab()]], None, None, [facts("192.0.2.1"), facts("192.0.2.2")], None,
                         ["", {"networks": [lab()], "state": "absent"}])
    assert gone["networks"]["h1"][0]["span"]["peers"] == []


def test_ipv6_on_a_spanned_network_is_the_gateway_hosts_and_the_other_hosts_hold_their_ports_to_its_prefix():
    from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _nftports
    six = {"address": "fd00:42::1/64"}
    gateway = _nftnet.normalise(typed(dict(host_part(True), ipv6=six)))
    other = _nftnet.normalise(typed(dict(host_part(False), ipv6=six)))
    assert gateway[0]["ipv6"] == {"address": "fd00:42::1/64", "prefix": "fd00:42::/64", "nat": True, "dhcp": None}
    assert other[0]["ipv6"] == {"address": None, "prefix": "fd00:42::/64", "nat": False, "dhcp": None}
    assert _nftnet.devices(typed(dict(host_part(False), ipv6=six)))[0]["addresses"] == []
    assert _dhcp.instances(other) == [] and "enable-ra" in _dhcp.instances(gateway)[0]["conf"]
    ports = _nftports.normalise([{"ifname": "vm1-n0", "mac": "52:54:00:00:00:01", "network": "lab", "addresses": [],
                                  "trust": False}], other)
    assert ports[0]["prefix6"] == "fd00:42::/64"


# -- the guests' static addresses on a spanned network join its gateway's DHCP and DNS ------------------------------
def guest(name, address, mac, bridge="lab"):
    return {"name": name, "kernel": "/boot/vmlinuz", "nics": [{"kind": "tap", "bridge": bridge, "mac": mac, "address": address}]}


def dhcp_hosts(out, host):
    return out["networks"][host][0]["dhcp"].get("hosts")


def test_a_members_static_guest_is_reserved_on_the_gateway_only():
    priv = {"name": "priv", "address": "10.43.0.1/24", "dhcp": {}}  # a private network of the same name on h1 and h2
    columns = (["h1", "h2", "h3"], [[lab(), priv], [lab(), priv], [lab()]],
               None, None, [facts("192.0.2.1"), facts("192.0.2.2"), facts("192.0.2.3")])
    guests = [[], [guest("g2", "10.42.0.12", "52:54:00:42:00:02"), guest("p2", "10.43.0.7", "52:54:00:42:00:07", "priv")],
              None]
    out = network_spans(*columns, guests=guests, mac_prefixes=["52:54:00"] * 3)
    assert out["problems"] == []
    # host 1 serves the segment: g2 (on host 2) gets its reservation and DNS name there, p2's private network is no
    # business of host 1's; host 2 and host 3 run no DHCP for the network and are left as they were
    assert dhcp_hosts(out, "h1") == [{"mac": "52:54:00:42:00:02", "address": "10.42.0.12", "name": "g2"}]
    assert dhcp_hosts(out, "h2") is None and dhcp_hosts(out, "h3") is None
    assert out["networks"]["h1"][1] == priv
    # what the role itself sees on a host of the play (mine) wins over hostvars; an empty mine (a host outside
    # --limit) falls back to hostvars, so a limited run on the gateway keeps the other hosts' reservations
    mine = ["", {"networks": [lab()], "guests": [guest("g9", "10.42.0.19", "52:54:00:42:00:09")]}, ""]
    out = network_spans(*columns, mine=mine, guests=guests)
    assert dhcp_hosts(out, "h1") == [{"mac": "52:54:00:42:00:09", "address": "10.42.0.19", "name": "g9"}]
    # a guest that does not validate adds nothing (the guest role's preflight names it)
    out = network_spans(*columns, guests=[[], [guest("g2", "10.99.0.1", "52:54:00:42:00:02")], None])
    assert out["problems"] == [] and dhcp_hosts(out, "h1") is None


def test_two_guests_of_the_segment_with_one_address_are_refused_naming_both():
    columns = (["h1", "h2"], [[lab()], [lab()]], None, None, [facts("192.0.2.1"), facts("192.0.2.2")])
    out = network_spans(*columns, guests=[[guest("g1", "10.42.0.12", "52:54:00:42:00:01")],
                                          [guest("g2", "10.42.0.12", "52:54:00:42:00:02")]])
    assert out["problems"] == ["network 'lab': guest 'g1' nics[0] on h1 and guest 'g2' nics[0] on h2 both take"
                               " address 10.42.0.12; give one of them another"]
