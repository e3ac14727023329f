# -*- coding: utf-8 -*-
"""Validation, device set and nftables rendering of the network role (pure, no kernel)."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftnet, _nftrules
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

LINKS = frozenset(("lo", "eth0", "wan0"))
ISO = {"name": "isonet", "kind": "isolated", "bridge": "hqiso0", "address": "192.168.60.1/24"}
NAT = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0",
       "filter": {"allow": ["10.0.0.0/24"], "reject": ["10.0.0.5/32"]}}


def errors(*nets, links=LINKS):
    return _nftnet.check(list(nets), links)


def test_valid_networks_have_no_errors():
    assert errors(ISO, NAT) == []


def test_two_networks_one_bridge():
    msgs = errors(ISO, dict(NAT, bridge="hqiso0"))
    assert any("network 'natnet': field 'bridge' 'hqiso0' is already the device of network 'isonet'; give each network its own bridge" == m for m in msgs)


def test_bridge_defaults_to_name_and_collides():
    msgs = errors({"name": "br0"}, {"name": "other", "bridge": "br0"})
    assert any("field 'bridge' 'br0'" in m for m in msgs)


@pytest.mark.parametrize("address", ["192.168.60.200/24", "192.168.60.1/25", "192.168.61.1/23"])
def test_overlapping_subnets(address):
    msgs = errors(ISO, dict(NAT, address=address))
    assert any("network 'natnet': subnet" in m and "overlaps subnet 192.168.60.0/24 of network 'isonet'" in m
               for m in msgs), msgs


def test_absent_network_may_overlap():
    assert errors(ISO, dict(NAT, address="192.168.60.2/24", state="absent")) == []


def test_nat_without_uplink():
    msgs = errors(dict(NAT, uplink=None))
    assert msgs == ["network 'natnet': a nat network needs field 'uplink' (the interface traffic leaves by, e.g. eth0)"]


def test_uplink_missing_on_host():
    msgs = errors(dict(NAT, uplink="eth9"))
    assert len(msgs) == 1 and "field 'uplink' 'eth9' does not exist on this host" in msgs[0]


def test_uplink_existence_not_checked_without_links():
    assert errors(dict(NAT, uplink="eth9"), links=None) == []


def test_address_outside_subnet():
    msgs = errors(dict(NAT, subnet="10.9.0.0/24"))
    assert any("field 'address' 192.168.50.1/24 is not a host address of field 'subnet' 10.9.0.0/24" in m for m in msgs)


def test_address_is_network_address():
    msgs = errors(dict(NAT, address="192.168.50.0/24", subnet="192.168.50.0/24"))
    assert any("network or broadcast" in m for m in msgs)


def test_subnet_with_host_bits():
    msgs = errors(dict(NAT, subnet="192.168.50.1/24"))
    assert any("has host bits set" in m for m in msgs)


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "nonsense", "10.0.0.256/24", ""])
def test_filter_invalid_cidr(bad):
    msgs = errors(dict(NAT, filter={"allow": [bad]}))
    assert any("network 'natnet': field 'filter.allow' entry '%s' is not a CIDR" % bad in m for m in msgs), msgs


def test_filter_unknown_key_and_isolated_filter():
    msgs = errors(dict(NAT, filter={"deny": ["1.2.3.4/32"]}))
    assert msgs == ["network 'natnet': filter: unknown field(s) deny; known fields: allow, reject"]
    msgs = errors(dict(ISO, filter={"reject": ["1.2.3.4/32"]}))
    assert any("network 'isonet': field 'filter' only applies to kind nat" in m for m in msgs)


def test_nat_needs_address_and_ipv4():
    assert any("needs field 'address'" in m for m in errors(dict(NAT, address=None)))
    assert any("IPv4 only" in m for m in errors(dict(NAT, address="fd00::1/64")))


def test_bad_names_and_kind():
    msgs = errors({"name": "x" * 16}, {"name": "ok"}, {"name": "ok"})
    assert any("field 'bridge' (by default the network's name) name is 16 bytes long" in m for m in msgs)
    assert any("field 'name' is used twice" in m for m in msgs)
    assert errors({"name": "ok", "kind": "bridged"}) == [
        "network 'ok': kind: 'bridged' is not one of isolated, nat, routed, macvtap, uplink; use one of them"]


@pytest.mark.parametrize("net, message", [
    ({"name": "lab\n"}, "hostnet_network_networks[0]: name: 'lab\\n' contains the control character"),
    ({"name": 'la"b'}, "hostnet_network_networks[0]: name: 'la\"b' is not a valid name"),
    ({"name": ["lab"]}, "hostnet_network_networks[0]: name: ['lab'] is not a string"),
    ({"name": "lab", "bridge": "lan,eth0"}, "network 'lab': bridge 'lan,eth0': name contains ','"),
    ({"name": "lab", "bridge": ".lan"}, "network 'lab': bridge '.lan': name starts with '.'"),
    ({"name": "lab", "bridge": 'br"0'}, "network 'lab': bridge 'br\"0': name contains '\"'"),
    ({"name": "lab", "kind": "nat", "address": "10.1.0.1/24", "uplink": "eth0;"}, "network 'lab': uplink 'eth0;'"),
    ({"name": "lab", "state": "gone"}, "network 'lab': state: 'gone' is not one of present, absent"),
    ({"name": "lab", "filter": {"allow": "10.0.0.0/8"}}, "network 'lab': filter.allow: the string '10.0.0.0/8' is not"),
    ("lab", "hostnet_network_networks[0]: 'lab' is not a mapping"),
])
def test_hostile_network_input(net, message):
    msgs = errors(net)
    assert len(msgs) == 1 and msgs[0].startswith(message), msgs


def test_networks_must_be_a_list():
    assert _nftnet.check("lab") == ["hostnet_network_networks: 'lab' is not a list; give a YAML list of networks (each "
                                    "a mapping with at least name)"]


def test_validate_raises_all_at_once():
    with pytest.raises(HostnetError) as exc:
        _nftnet.validate([dict(NAT, uplink=None, filter={"reject": ["x"]})], LINKS)
    assert "uplink" in str(exc.value) and "filter.reject" in str(exc.value)


def test_devices_one_bridge_per_network():
    devs = _nftnet.devices([ISO, NAT, {"name": "gone", "state": "absent"}, {"name": "bare"}])
    assert devs == [
        {"kind": "bridge", "name": "hqiso0", "state": "present", "up": True, "addresses": ["192.168.60.1/24"], "routes": [], "proxy_arp": [],
         "vlan_filtering": False, "addr_gen_mode": "eui64"},
        {"kind": "bridge", "name": "hqnat0", "state": "present", "up": True, "addresses": ["192.168.50.1/24"], "routes": [], "proxy_arp": [],
         "vlan_filtering": False, "addr_gen_mode": "eui64"},
        {"kind": "bridge", "name": "gone", "state": "absent"},
        {"kind": "bridge", "name": "bare", "state": "present", "up": True, "addresses": [], "routes": [], "proxy_arp": [],
         "vlan_filtering": False, "addr_gen_mode": "eui64"},
    ]


def commands(networks, table="hostnet_qemu"):
    return json.loads(_nftrules.render(networks, table))["nftables"]


def rules(networks):
    """(chain, [expression kinds and values], comment) of each rule, for reading order and content."""
    out = []
    for cmd in commands(networks):
        rule = cmd.get("add", {}).get("rule")
        if rule:
            assert rule["family"] == "inet" and rule["table"] == "hostnet_qemu"
            out.append((rule["chain"], json.dumps(rule["expr"], sort_keys=True), rule.get("comment")))
    return out


def test_render_owns_only_its_table():
    cmds = commands([ISO, NAT])
    assert cmds[0] == {"metainfo": {"json_schema_version": 1}}
    ref, bridge = {"family": "inet", "name": "hostnet_qemu"}, {"family": "bridge", "name": "hostnet_qemu"}
    assert cmds[1:4] == [{"add": {"table": ref}}, {"delete": {"table": ref}}, {"add": {"table": ref}}]
    assert cmds[-2:] == [{"add": {"table": bridge}}, {"delete": {"table": bridge}}], "no ports: the bridge half goes"
    for cmd in cmds[1:]:
        (verb, obj), = cmd.items()
        (kind, body), = obj.items()
        assert verb in ("add", "delete") and kind in ("table", "chain", "rule")
        assert body.get("family") in ("inet", "bridge") and body.get("table", body.get("name")) == "hostnet_qemu"
    text = _nftrules.render([ISO, NAT])
    forward = [r for r in rules([ISO, NAT]) if r[0] == "forward"]
    iso_drop = [r for r in forward if '"hqiso0"' in r[1] and '"drop"' in r[1]]
    assert len(iso_drop) == 2
    reject = text.index('"addr": "10.0.0.5"')
    allow = text.index('"addr": "10.0.0.0"')
    assert reject < allow
    nat = [r for r in rules([ISO, NAT]) if r[0] == "postrouting"]
    assert len(nat) == 1 and '"masquerade"' in nat[0][1] and '"192.168.50.0"' in nat[0][1] and '"wan0"' in nat[0][1]


def test_render_without_networks_only_deletes():
    cmds = commands([dict(NAT, state="absent")])
    assert [list(c) for c in cmds] == [["metainfo"], ["add"], ["delete"], ["add"], ["delete"]]
    assert not _nftrules.wants_table(_nftrules.render([dict(NAT, state="absent")]))
    assert _nftrules.wants_table(_nftrules.render([NAT]))


@pytest.mark.parametrize("table", ["bad name;", "a\nb", "x" * 65, "", "1abc"])
def test_render_refuses_bad_table_name(table):
    with pytest.raises(HostnetError):
        _nftrules.render([ISO], table)


def test_a_comment_stays_within_nft_limit():
    net = dict(ISO, name="n" * 200, bridge="hqiso0")
    assert all(len(c.encode("utf-8")) <= 128 for _chain, _expr, c in rules([net]))


def test_forwarding_on_for_nat_bridge_and_uplink_only_and_off_for_isolated_bridges():
    no_ra = {"net/ipv6/conf/hqiso0/accept_ra": "0", "net/ipv6/conf/hqnat0/accept_ra": "0"}  # guests' bridges
    assert _nftnet.sysctls([ISO]) == {"net/ipv4/conf/hqiso0/forwarding": "0", "net/ipv6/conf/hqiso0/accept_ra": "0"}
    assert _nftnet.sysctls([ISO, NAT]) == dict(no_ra, **{
        "net/ipv4/conf/hqiso0/forwarding": "0", "net/ipv4/conf/hqnat0/forwarding": "1", "net/ipv4/conf/wan0/forwarding": "1"})
    assert _nftnet.sysctls([dict(NAT, state="absent")]) == {}


def test_traffic_within_a_network_is_accepted_before_any_drop():
    """With br_netfilter on, bridged frames between two guests reach the forward hook: never drop them."""
    for net in ({"name": "iso", "kind": "isolated", "bridge": "hqiso0", "address": "10.5.0.1/24"},
                {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "10.6.0.1/24", "uplink": "wan0"}):
        found = rules([net])
        within = [i for i, r in enumerate(found) if r[2].endswith("within the network")]
        first_block = min(i for i, r in enumerate(found) if '"drop"' in r[1] or '"reject"' in r[1])
        assert within == [0] < [first_block]
        assert found[0][1].count('"%s"' % net["bridge"]) == 2 and '"accept"' in found[0][1]


MVT = {"name": "lanmv", "kind": "macvtap", "link": "eth0", "address": "192.168.70.1/24", "host_interface": "mvhost0"}


def test_macvtap_network_host_interface_is_a_macvlan():
    assert errors(ISO, NAT, MVT) == []
    assert _nftnet.devices([MVT]) == [{"kind": "macvlan", "name": "mvhost0", "state": "present", "link": "eth0",
                                       "mode": "bridge", "up": True, "addresses": ["192.168.70.1/24"]}]
    assert _nftnet.devices([dict(MVT, state="absent")]) == [{"kind": "macvlan", "name": "mvhost0", "state": "absent"}]
    # without an address the host has no interface on it: guests only (they reach each other, not the host)
    assert _nftnet.devices([{"name": "lanmv", "kind": "macvtap", "link": "eth0"}]) == []
    assert "lanmv" not in _nftrules.render([MVT]) and _nftnet.sysctls([MVT]) == {}


@pytest.mark.parametrize("net, want", [
    ({"name": "m", "kind": "macvtap"}, "network 'm': a macvtap network needs field 'link' (the parent interface"),
    (dict(MVT, link="eth9"), "network 'lanmv': field 'link' 'eth9' does not exist on this host; give an existing interface"),
    (dict(MVT, link="mvhost0"), "network 'lanmv': field 'link' is the network's own host interface"),
    (dict(MVT, bridge="br9"), "network 'lanmv': field 'bridge' does not apply to kind macvtap"),
    (dict(MVT, address=None), "network 'lanmv': field 'host_interface' needs field 'address'"),
    (dict(MVT, filter={"allow": ["10.0.0.0/8"]}), "network 'lanmv': field 'filter' only applies to kind nat (macvtap"),
    (dict(ISO, link="eth0"), "network 'isonet': field 'link' only applies to kind macvtap"),
    (dict(ISO, host_interface="x"), "network 'isonet': field 'host_interface' only applies to kind macvtap"),
])
def test_macvtap_network_bad_input(net, want):
    msgs = errors(net)
    assert any(want in m for m in msgs), msgs
