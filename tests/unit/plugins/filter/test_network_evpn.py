# -*- coding: utf-8 -*-
"""Spanned networks with control_plane evpn: the BGP the controller derives from the inventory (plugin_utils/_span.py),
one host's checks of it (module_utils/_spannet.py), the table's BGP rule (_nftrules) and the collection's section of
FRR's configuration (module_utils/_frr.py). Pure, no kernel and no FRR: the scenario multihost runs the real one."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.filter.network import network_spans
from ansible_collections.hostnet.qemu.plugins.module_utils import _frr, _nftnet, _nftrules
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _span


def evnet(**span):
    net = {"name": "ev", "kind": "isolated", "span": {"vni": 4343, "control_plane": "evpn"}}
    net["span"].update(span)
    return net


def inventory(*names, **networks):
    return dict((name, {"networks": networks.get(name, [evnet()]), "vtep_address": "192.0.2.%d" % (index + 1),
                        "vtep_interface": None, "facts": {}}) for index, name in enumerate(names))


def bgp_of(result):
    return dict((host, nets[0]["span"].get("bgp")) for host, nets in result["networks"].items() if nets)


def test_a_full_mesh_of_the_evpn_hosts_in_one_as():
    out = _span.plan(inventory("h1", "h2", "h3"))
    assert out["problems"] == []
    assert bgp_of(out) == {
        "h1": {"asn": 64512, "reflector": False, "neighbors": ["192.0.2.2", "192.0.2.3"]},
        "h2": {"asn": 64512, "reflector": False, "neighbors": ["192.0.2.1", "192.0.2.3"]},
        "h3": {"asn": 64512, "reflector": False, "neighbors": ["192.0.2.1", "192.0.2.2"]}}
    # the flood list is FRR's under EVPN, but the table still admits VXLAN from the members only
    assert out["networks"]["h1"][0]["span"]["peers"] == ["192.0.2.2", "192.0.2.3"]


def test_with_a_route_reflector_a_host_that_joins_changes_only_the_reflector():
    before = bgp_of(_span.plan(inventory("h1", "h2", "h3"), {"asn": 65010, "route_reflectors": ["h1"]}))
    assert before["h1"] == {"asn": 65010, "reflector": True, "neighbors": ["192.0.2.2", "192.0.2.3"]}
    assert before["h2"] == before["h3"] == {"asn": 65010, "reflector": False, "neighbors": ["192.0.2.1"]}
    after = bgp_of(_span.plan(inventory("h1", "h2", "h3", "h4"), {"asn": 65010, "route_reflectors": ["h1"]}))
    assert after["h1"]["neighbors"] == ["192.0.2.2", "192.0.2.3", "192.0.2.4"]
    assert (after["h2"], after["h3"]) == (before["h2"], before["h3"])
    assert after["h4"]["neighbors"] == ["192.0.2.1"]


def test_static_networks_get_no_bgp_and_hosts_without_evpn_are_no_neighbours():
    static = {"name": "st", "span": {"vni": 42}}
    out = _span.plan(inventory("h1", "h2", "db", db=[static], h2=[evnet(), ]))
    assert out["problems"] == []
    assert out["networks"]["h1"][0]["span"]["bgp"]["neighbors"] == ["192.0.2.2"]
    assert "bgp" not in out["networks"]["db"][0]["span"]


@pytest.mark.parametrize("evpn, message", [
    ({"route_reflectors": ["rr9"]}, "hostnet_network_evpn_route_reflectors: host 'rr9' is not in the inventory; name"
                                    " hosts that declare a network with control_plane evpn"),
    ({"route_reflectors": ["db"]}, "hostnet_network_evpn_route_reflectors: host 'db' declares no network with"
                                   " control_plane evpn, so it runs no BGP; name hosts that do (h1, h2)"),
    ({"route_reflectors": "h1"}, "hostnet_network_evpn_route_reflectors 'h1' is not a list of inventory hosts"),
    ({"asn": 0}, "hostnet_network_evpn_asn 0 is not an AS number (1..4294967295)"),
    ({"asn": "65000"}, "hostnet_network_evpn_asn '65000' is not an AS number (1..4294967295)"),
])
def test_bad_evpn_settings_are_named(evpn, message):
    out = _span.plan(inventory("h1", "h2", "db", db=[]), evpn)
    assert out["problems"] == [message]
    assert all("bgp" not in n["span"] for nets in out["networks"].values() for n in nets)


def test_the_filter_passes_the_as_and_the_reflectors_and_bgp_written_by_hand_is_refused():
    out = network_spans(["h1", "h2"], [[evnet()], [evnet(bgp={"asn": 1})]], ["192.0.2.1", "192.0.2.2"],
                        evpn_asn=65001, route_reflectors=["h1"])
    assert out["problems"] == ["network 'ev' on host 'h2': field 'span.bgp' is derived by the role from the inventory;"
                               " drop it"]
    assert out["networks"]["h1"][0]["span"]["bgp"] == {"asn": 65001, "reflector": True, "neighbors": ["192.0.2.2"]}


def host_net(name="ev", vni=4343, **span):
    net = {"name": name, "span": {"vni": vni, "control_plane": "evpn", "local": "192.0.2.1", "peers": ["192.0.2.2"],
                                  "gateway": False, "bgp": {"asn": 65000, "neighbors": ["192.0.2.2"]}}}
    net["span"].update(span)
    return net


def test_one_control_plane_and_one_bgp_speaker_per_host():
    errors = _nftnet.check([host_net(), {"name": "st", "span": {"vni": 42}}])
    assert errors == ["networks 'st' (control_plane static) and 'ev' (evpn) on one host: FRR's EVPN takes every VXLAN"
                      " device of the host (advertise-all-vni), so a host uses one control plane; give them the same"
                      " one"]
    errors = _nftnet.check([host_net(), host_net("ev2", 4344, bgp={"asn": 65001, "neighbors": ["192.0.2.2"]})])
    assert errors == ["networks 'ev' and 'ev2': field 'span.bgp' and 'span.local' differ; this host has one BGP"
                      " speaker (one AS, router ID and neighbour list) for all its EVPN networks"]
    assert _nftnet.check([host_net(), host_net("ev2", 4344)]) == []


def test_evpn_devices_leave_the_flood_list_to_frr_and_the_table_admits_bgp_from_the_neighbours_only():
    networks = _nftnet.validate([host_net()])
    networks[0]["span"].update(mtu=1450, underlay="eth0")  # what the module reads from the host
    vxlan = [d for d in _nftnet.devices(networks) if d["kind"] == "vxlan"][0]
    assert (vxlan["peers"], vxlan["learning"], vxlan["neigh_suppress"]) == (None, False, True)
    doc = json.loads(_nftrules.render(networks, "hostnet_qemu"))["nftables"]
    rules = [c["add"]["rule"] for c in doc if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "input"]
    assert [r["comment"] for r in rules] == ["VXLAN port 4789: only from the peers of the spanned networks"] * 2 + [
        "BGP port 179: only from this host's BGP neighbours"] * 2
    bgp4 = json.dumps(rules[2]["expr"])
    assert '"protocol": "tcp"' in bgp4 and '"right": 179' in bgp4 and '"set": ["192.0.2.2"]' in bgp4
    assert rules[2]["expr"][-1] == {"drop": None}


SECTION = _frr.render(65000, "192.0.2.1", ["192.0.2.2", "192.0.2.3"], False)


def test_the_section_is_ibgp_evpn_only_with_every_neighbour_in_the_peer_group():
    assert SECTION.splitlines() == [
        "router bgp 65000", " bgp router-id 192.0.2.1", " no bgp default ipv4-unicast",
        " neighbor hostnet-qemu peer-group", " neighbor hostnet-qemu remote-as internal",
        " neighbor 192.0.2.2 peer-group hostnet-qemu", " neighbor 192.0.2.3 peer-group hostnet-qemu", " !",
        " address-family l2vpn evpn", "  neighbor hostnet-qemu activate", "  advertise-all-vni",
        " exit-address-family", "exit"]
    assert "  neighbor hostnet-qemu route-reflector-client\n" in _frr.render(65000, "192.0.2.1", [], True)


USER = "frr version 8.4.4\nlog syslog informational\n!\ninterface eth0\n description uplink\nexit\n!\n"


def test_the_users_lines_stay_and_the_section_is_found_again_after_write_memory():
    first = _frr.conf_text(USER, SECTION)
    assert first == USER + SECTION
    assert _frr.conf_text(first, SECTION) == first  # idempotent
    # `write memory` drops blank lines and rewrites the file in FRR's own order: the peer group still marks it
    rewritten = USER.replace("!\ninterface", "!\n" + SECTION + "!\ninterface")
    changed = _frr.render(65000, "192.0.2.1", ["192.0.2.2"], False)
    assert _frr.conf_text(rewritten, changed) == USER.replace("!\ninterface", "!\n" + changed + "!\ninterface")
    assert _frr.conf_text(first, "") == USER  # removed, the user's lines as they were


def test_a_users_own_bgp_instance_is_not_taken_over():
    theirs = USER + "router bgp 65100\n neighbor 198.51.100.1 remote-as 65200\nexit\n"
    with pytest.raises(_frr.HostnetError) as err:
        _frr._foreign(theirs, "networks 'ev' (control_plane evpn)")
    assert str(err.value) == ("networks 'ev' (control_plane evpn): FRR already has a BGP instance of its own here"
                              " (router bgp 65100 in frr.conf, without the peer group hostnet-qemu), and FRR runs one"
                              " default BGP instance; remove it, or move its configuration into a VRF, before EVPN"
                              " can be set up")
    _frr._foreign(theirs.replace("router bgp 65100", "router bgp 65100 vrf blue"), "x")  # a VRF's instance is fine
    assert _frr.conf_text(theirs, "") == theirs  # nothing of the collection's to remove: untouched
