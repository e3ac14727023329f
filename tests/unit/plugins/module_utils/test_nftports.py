# -*- coding: utf-8 -*-
"""_nftports: which ports are held and to what; the rules' shape. tests/kernel/test_guest_ports_kernel.py loads
them into the real kernel and sends spoofed frames."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftnet, _nftports, _nftrules, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

ISO = {"name": "isonet", "kind": "isolated", "bridge": "hqiso0", "address": "192.168.60.1/24"}
NAT = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0"}
BARE = {"name": "bare", "kind": "isolated", "bridge": "hqbare0"}
UPL = {"name": "lan", "kind": "uplink", "bridge": "hqlan0", "uplink": "eth1",
       "filter": {"reject": ["157.88.10.20/32"], "allow": ["157.88.0.0/16", "2001:db8::/32"]}}
MVT = {"name": "mv", "kind": "macvtap", "link": "eth2"}


def port(**kw):
    base = {"ifname": "vm1-n0", "mac": "52:54:00:00:00:01", "network": "isonet", "addresses": [], "trust": False,
            "label": "guest 'vm1' nics[0]"}
    base.update(kw)
    return base


def norm(ports, networks=(ISO, NAT, BARE, UPL, MVT)):
    return _nftports.normalise(ports, _nftnet.normalise(list(networks)))


def test_a_declared_address_holds_the_port_to_it_otherwise_the_subnet_or_nothing():
    out = norm([port(addresses=["192.168.60.11"]), port(ifname="vm2-n0", mac="52:54:00:00:00:02", network="natnet"),
                port(ifname="vm3-n0", mac="52:54:00:00:00:03", network="bare")])
    assert [(p["ifname"], p["bridge"], p["allowed"]) for p in out] == [
        ("vm1-n0", "hqiso0", ["192.168.60.11"]), ("vm2-n0", "hqnat0", ["192.168.50.0/24"]), ("vm3-n0", "hqbare0", None)]


@pytest.mark.parametrize("ports, want", [
    ([port(network="mv")], "guest 'vm1' nics[0]: network 'mv' is not a present bridge network of this host;"
                           " its ports are not filtered here"),
    ([port(network="nowhere")], "guest 'vm1' nics[0]: network 'nowhere' is not a present bridge network"),
    ([port(addresses=["192.168.61.5"])], "guest 'vm1' nics[0]: address 192.168.61.5 is outside network 'isonet'"
                                         " (192.168.60.0/24)"),
    ([port(addresses=["fe80::1"])], "guest 'vm1' nics[0]: address 'fe80::1' is not an IPv4 address"),
    ([port(), port(mac="52:54:00:00:00:09", label="guest 'vm2' nics[0]")],
     "guest 'vm2' nics[0]: interface 'vm1-n0' is also the tap of guest 'vm1' nics[0]; give each NIC its own tap"),
    ([port(mac="01:00:5e:00:00:01")], "guest 'vm1' nics[0]: field 'mac'"),
    ([port(), port(ifname="vm2-n0", label="guest 'vm2' nics[0]")],
     "invalid ports: guest 'vm2' nics[0]: MAC 52:54:00:00:00:01 is also guest 'vm1' nics[0]'s on network 'isonet';"
     " give each NIC its own MAC"),
    ([port(addresses=["192.168.60.9"]),
      port(ifname="vm2-n0", mac="52:54:00:00:00:02", addresses=["192.168.60.9"], label="guest 'vm2' nics[0]", trust=True)],
     "invalid ports: guest 'vm2' nics[0]: address 192.168.60.9 is also guest 'vm1' nics[0]'s on network 'isonet';"
     " give each NIC its own address"),
    ([port(addresses=["192.168.60.1"])],
     "invalid ports: guest 'vm1' nics[0]: address 192.168.60.1 is the host's own on network 'isonet' (the guests'"
     " gateway); give the NIC another"),
    ([port(ifname="bad,name")], "guest 'vm1' nics[0]: field 'ifname'"),
])
def test_bad_ports_are_named(ports, want):
    with pytest.raises(HostnetError) as err:
        norm(ports)
    assert want in str(err.value)


def rules_of(ports):
    doc = json.loads(_nftrules.render([ISO, NAT], ports=norm(ports)))["nftables"]
    bridge = [c for c in doc if c.get("add", {}).get("rule", c.get("add", {}).get("chain", {})).get("family") == "bridge"]
    return [c["add"].get("rule") or c["add"].get("chain") for c in bridge]


def test_each_held_port_gets_its_own_chain_reached_through_one_verdict_map():
    objs = rules_of([port(addresses=["192.168.60.11"]), port(ifname="r1-n0", mac="52:54:00:00:00:05", trust=True),
                     port(ifname="vm2-n0", mac="52:54:00:00:00:02", network="natnet")])
    chains = [o for o in objs if "expr" not in o]
    assert chains[0] == {"family": "bridge", "table": "hostnet_qemu", "name": "guests", "type": "filter",
                         "hook": "prerouting", "prio": -200, "policy": "accept"}
    assert [c["name"] for c in chains[1:]] == ["port0", "port1"]  # the trusted r1-n0 has none
    vmap = [o for o in objs if o.get("chain") == "guests"]
    assert vmap[0]["expr"] == [{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": {"set": [
        ["vm1-n0", {"jump": {"target": "port0"}}], ["vm2-n0", {"jump": {"target": "port1"}}]]}}}]
    port0 = [o["comment"] for o in objs if o.get("chain") == "port0"]
    assert port0 == ["guest 'vm1' nics[0] (vm1-n0): frames only from 52:54:00:00:00:01",
                     "guest 'vm1' nics[0] (vm1-n0): ARP only for its MAC",
                     "guest 'vm1' nics[0] (vm1-n0): DHCP only as its MAC (chaddr)",
                     "guest 'vm1' nics[0] (vm1-n0): ARP not for the host's 192.168.60.1",
                     "guest 'vm1' nics[0] (vm1-n0): not from the host's 192.168.60.1",
                     "guest 'vm1' nics[0] (vm1-n0): ARP only for its addresses",
                     "guest 'vm1' nics[0] (vm1-n0): DHCP requests",
                     "guest 'vm1' nics[0] (vm1-n0): IPv4 only from its addresses",
                     "guest 'vm1' nics[0] (vm1-n0): no EUI-64 link-local source but its own"
                     " (fe80::5054:ff:fe00:1)",
                     "guest 'vm1' nics[0] (vm1-n0): no neighbour advertisement for an EUI-64 link-local address"
                     " but its own",
                     "guest 'vm1' nics[0] (vm1-n0): no router advertisements",
                     "guest 'vm1' nics[0] (vm1-n0): no DHCP server (nor relay)",
                     "guest 'vm1' nics[0] (vm1-n0): no DHCPv6 server",
                     "guest 'vm1' nics[0] (vm1-n0): IPv6 only link-local (the network has no IPv6 prefix)",
                     "guest 'vm1' nics[0] (vm1-n0): no other EtherType (no VLAN tags)"]
    ipv4 = [o["expr"][0] for o in objs if o.get("chain") == "port1" and "IPv4 only" in o["comment"]][0]
    assert ipv4["match"]["right"] == {"set": [{"prefix": {"addr": "192.168.50.0", "len": 24}}]}


def test_only_trusted_ports_mean_no_bridge_table():
    assert rules_of([port(trust=True)]) == []
    assert "bridge" not in _nftrules.families(_nftrules.render([ISO], ports=norm([port(trust=True)])))
    assert _nftrules.families(_nftrules.render([ISO], ports=norm([port()]))) == ["bridge", "inet"]


def test_a_port_on_an_uplink_network_keeps_its_mac_and_the_networks_destination_filter():
    doc = json.loads(_nftrules.render([UPL], ports=norm([port(network="lan")])))["nftables"]
    rules = [(c["add"]["rule"]["comment"], c["add"]["rule"]["expr"]) for c in doc if "rule" in c.get("add", {})
             and c["add"]["rule"]["chain"] == "port0"]
    comments = [c for c, _e in rules]
    who = "guest 'vm1' nics[0] (vm1-n0)"
    assert comments == [who + ": frames only from 52:54:00:00:00:01", who + ": ARP only for its MAC",
                        who + ": DHCP only as its MAC (chaddr)",
                        who + ": no EUI-64 link-local source but its own (fe80::5054:ff:fe00:1)",
                        who + ": no neighbour advertisement for an EUI-64 link-local address but its own",
                        who + ": no router advertisements", who + ": no DHCP server (nor relay)",
                        who + ": no DHCPv6 server",
                        who + ": reject 157.88.10.20/32", who + ": DHCP requests",
                        who + ": IPv4 only to the allowed destinations",
                        who + ": IPv6 only to the allowed destinations (and link-local)",
                        who + ": no other EtherType (no VLAN tags)"]
    exprs = dict(rules)
    assert exprs[who + ": reject 157.88.10.20/32"][0]["match"]["right"] == {"prefix": {"addr": "157.88.10.20", "len": 32}}
    assert exprs[who + ": IPv4 only to the allowed destinations"][0]["match"]["right"] == {
        "set": [{"prefix": {"addr": "157.88.0.0", "len": 16}}]}


def test_no_port_sends_from_or_claims_the_hosts_own_addresses():
    net6 = dict(ISO, ipv6={"address": "fd00:60::1/64"})
    ports = _nftports.normalise([dict(port(), addresses=[], trust=False, label=None)],
                                _nftnet.normalise([net6]))
    assert (ports[0]["host"], ports[0]["host6"]) == ("192.168.60.1", "fd00:60::1")
    doc = json.loads(_nftrules.render([net6], ports=ports))["nftables"]
    rules = dict((c["add"]["rule"]["comment"].split(": ", 1)[1], c["add"]["rule"]["expr"]) for c in doc
                 if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "port0")
    assert rules["ARP not for the host's 192.168.60.1"][0]["match"]["right"] == "192.168.60.1"
    assert rules["not from the host's fd00:60::1"][0]["match"]["right"] == "fd00:60::1"
    assert rules["no neighbour advertisement for the host's fd00:60::1"][:2] == [
        {"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": "nd-neighbor-advert"}},
        {"match": {"op": "==", "left": {"payload": {"base": "th", "offset": 64, "len": 128}},
                   "right": "0xfd000060000000000000000000000001"}}]
    # a network without an address of the host's (an uplink network) has none of these rules
    assert _nftports.normalise([dict(port(network="lan"), addresses=[], trust=False, label=None)],
                               _nftnet.normalise([UPL]))[0]["host"] is None


def test_no_port_sends_from_or_claims_a_link_local_address_formed_from_another_mac():
    """The kernel forms the host's link-local address on the bridge from the bridge's MAC: every EUI-64 address but
    the NIC's own is refused, as a source and as an advertisement's target (tests/kernel reads the kernel's)."""
    assert _validate.eui64("52:54:00:12:34:56") == "fe80::5054:ff:fe12:3456"
    assert _validate.eui64("02:00:00:00:00:01") == "fe80::ff:fe00:1"  # the universal/local bit flips
    doc = json.loads(_nftrules.render([ISO], ports=norm([port(mac="52:54:00:12:34:56")])))["nftables"]
    rules = dict((c["add"]["rule"]["comment"].split(": ", 1)[1], c["add"]["rule"]["expr"]) for c in doc
                 if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "port0")

    def raw(base, offset, length, right, op="=="):
        return {"match": {"op": op, "left": {"payload": {"base": base, "offset": offset, "len": length}}, "right": right}}
    assert rules["no EUI-64 link-local source but its own (fe80::5054:ff:fe12:3456)"] == [
        {"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
                   "right": "fe80::5054:ff:fe12:3456"}},
        raw("nh", 64, 64, "0xfe80000000000000"), raw("nh", 152, 16, "0xfffe"), {"counter": None}, {"drop": None}]
    assert rules["no neighbour advertisement for an EUI-64 link-local address but its own"][1:4] == [
        raw("th", 64, 128, "0xfe80000000000000505400fffe123456", op="!="),
        raw("th", 64, 64, "0xfe80000000000000"), raw("th", 152, 16, "0xfffe")]


def test_no_port_sends_from_or_claims_a_slaac_address_formed_from_another_mac():
    """In the network's prefix the kernel forms a guest's SLAAC address from its MAC as in fe80::/64: a neighbour's
    is refused as a source and as an advertisement's target, the NIC's own passes."""
    assert _validate.eui64("52:54:00:12:34:56", "fd00:60::/64") == "fd00:60::5054:ff:fe12:3456"
    net6 = dict(ISO, ipv6={"address": "fd00:60::1/64"})
    ports = _nftports.normalise([dict(port(mac="52:54:00:12:34:56"), addresses=[], trust=False, label=None)],
                                _nftnet.normalise([net6]))
    doc = json.loads(_nftrules.render([net6], ports=ports))["nftables"]
    rules = [(c["add"]["rule"]["comment"].split(": ", 1)[1], c["add"]["rule"]["expr"]) for c in doc
             if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "port0"]
    names = [name for name, _expr in rules]
    eui = names.index("no EUI-64 link-local source but its own (fe80::5054:ff:fe12:3456)")
    assert names[eui:eui + 4] == [
        "no EUI-64 link-local source but its own (fe80::5054:ff:fe12:3456)",
        "no neighbour advertisement for an EUI-64 link-local address but its own",
        "no EUI-64 fd00:60::/64 source but its own (fd00:60::5054:ff:fe12:3456)",
        "no neighbour advertisement for an EUI-64 address of fd00:60::/64 but its own"]

    def raw(base, offset, length, right, op="=="):
        return {"match": {"op": op, "left": {"payload": {"base": base, "offset": offset, "len": length}}, "right": right}}
    exprs = dict(rules)
    assert exprs[names[eui + 2]][:3] == [
        {"match": {"op": "!=", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
                   "right": "fd00:60::5054:ff:fe12:3456"}},
        raw("nh", 64, 64, "0xfd00006000000000"), raw("nh", 152, 16, "0xfffe")]
    assert exprs[names[eui + 3]][1:4] == [
        raw("th", 64, 128, "0xfd000060000000005054" + "00fffe123456", op="!="),
        raw("th", 64, 64, "0xfd00006000000000"), raw("th", 152, 16, "0xfffe")]


def test_on_stateful_dhcpv6_a_port_sends_from_and_claims_only_its_pinned_ipv6_address():
    net6 = dict(ISO, ipv6={"address": "fd00:60::1/64", "dhcp": {"start": "fd00:60::100", "end": "fd00:60::1ff"}})
    ports = [dict(p, pinned6="fd00:60::105") for p in _nftports.normalise(
        [dict(port(), addresses=[], trust=False, label=None)], _nftnet.normalise([net6]))]
    doc = json.loads(_nftrules.render([net6], ports=ports))["nftables"]
    rules = dict((c["add"]["rule"]["comment"].split(": ", 1)[1], c["add"]["rule"]["expr"]) for c in doc
                 if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "port0")
    assert rules["no neighbour advertisement for an address of fd00:60::/64 but its own (fd00:60::105)"][1:3] == [
        {"match": {"op": "!=", "left": {"payload": {"base": "th", "offset": 64, "len": 128}},
                   "right": "0xfd000060000000000000000000000105"}},
        {"match": {"op": "==", "left": {"payload": {"base": "th", "offset": 64, "len": 64}},
                   "right": "0xfd00006000000000"}}]
    assert rules["IPv6 only link-local and from fd00:60::105"][0]["match"]["right"] == {
        "set": ["::", {"prefix": {"addr": "fe80::", "len": 10}}, "fd00:60::105"]}


def test_the_same_mac_and_address_on_two_networks_are_two_nics():
    out = norm([port(addresses=["192.168.60.9"]), port(ifname="vm1-n1", network="natnet", addresses=["192.168.50.9"])])
    assert [p["allowed"] for p in out] == [["192.168.60.9"], ["192.168.50.9"]]
