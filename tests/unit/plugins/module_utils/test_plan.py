"""The planner on plain dicts: ordering, conflicts, idempotence. No kernel involved."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _model, _plan


def link(name, kind, index, **kw):
    base = {"name": name, "kind": kind, "index": index, "up": True, "mtu": 1500, "mac": "02:00:00:00:00:%02x" % index,
            "master": None, "addresses": []}
    if kind in ("tap", "tun"):
        base.update(owner=None, group=None, pi=False, vnet_hdr=False, persist=True, multi_queue=False)
    if kind == "bridge":
        base.update(stp=False, forward_delay=15.0, vlan_filtering=False)
    base.update(kw)
    return base


def specs(*devices):
    return _model.normalise_all(list(devices))


def ops(plan):
    return [(o["op"], o["name"]) for o in plan.ops]


def test_create_order_parents_first_and_enslave_after():
    desired = specs({"kind": "macvtap", "name": "m0", "link": "br0"},
                    {"kind": "tap", "name": "t0", "master": "br0"},
                    {"kind": "bridge", "name": "br0", "addresses": ["10.0.0.1/24"]})
    plan = _plan.build(desired, {"lo": link("lo", "loopback", 1)})
    assert ops(plan) == [("create", "br0"), ("create", "t0"), ("create", "m0"),
                         ("set", "br0"), ("set", "m0"), ("set", "t0"),
                         ("address", "br0"), ("node", "m0")]
    assert plan.ops[5]["fields"] == {"master": "br0", "up": True}
    assert plan.before == {"br0": None, "t0": None, "m0": None}
    assert plan.after["br0"]["addresses"] == ["10.0.0.1/24"]
    assert plan.after["br0"]["ports"] == ["t0"]


def test_delete_children_before_parents():
    current = {"br0": link("br0", "bridge", 2), "t0": link("t0", "tap", 3, master="br0"),
               "m0": link("m0", "macvtap", 4, link="br0", mode="bridge")}
    desired = specs({"kind": "bridge", "name": "br0", "state": "absent"},
                    {"kind": "tap", "name": "t0", "state": "absent"},
                    {"kind": "macvtap", "name": "m0", "state": "absent"})
    plan = _plan.build(desired, current)
    assert ops(plan) == [("delete", "m0"), ("delete", "t0"), ("delete", "br0")]
    assert plan.after == {"br0": None, "t0": None, "m0": None}


def test_converged_state_is_an_empty_plan():
    current = {"br0": link("br0", "bridge", 2, addresses=["10.0.0.1/24"]),
               "t0": link("t0", "tap", 3, master="br0", owner=1000)}
    desired = specs({"kind": "bridge", "name": "br0", "addresses": ["10.0.0.1/24"], "stp": False},
                    {"kind": "tap", "name": "t0", "master": "br0", "owner": "1000"})
    plan = _plan.build(desired, current)
    assert plan.ops == [] and not plan.changed
    assert plan.before == {} and plan.after == {}


def test_owner_change_is_in_place_and_keeps_unmanaged_group():
    current = {"t0": link("t0", "tap", 3, owner=1000, group=2000)}
    plan = _plan.build(specs({"kind": "tap", "name": "t0", "owner": "1001"}), current)
    assert ops(plan) == [("tun", "t0")]
    tun = plan.ops[0]["spec"]
    assert (tun["owner"], tun["group"]) == (1001, 2000)
    assert plan.before["t0"]["owner"] == 1000 and plan.after["t0"]["owner"] == 1001


def test_mode_change_needs_recreate():
    current = {"t0": link("t0", "tun", 3)}
    with pytest.raises(HostnetError) as err:
        _plan.build(specs({"kind": "tap", "name": "t0"}), current)
    assert str(err.value).startswith("tap 't0': changing mode from tun to tap needs the device deleted and created again; "
                                     "set recreate: true")
    plan = _plan.build(specs({"kind": "tap", "name": "t0", "recreate": True}), current)
    assert ops(plan)[:2] == [("delete", "t0"), ("create", "t0")]


def test_multi_queue_change_needs_recreate():
    current = {"t0": link("t0", "tap", 3)}
    with pytest.raises(HostnetError, match="changing multi_queue from False to True needs the device deleted"):
        _plan.build(specs({"kind": "tap", "name": "t0", "multi_queue": True}), current)


def test_kind_mismatch_is_refused_even_for_absent():
    current = {"br0": link("br0", "tap", 3)}
    with pytest.raises(HostnetError) as err:
        _plan.build(specs({"kind": "bridge", "name": "br0"}), current)
    assert str(err.value) == ("bridge 'br0': a tap named 'br0' already exists in the host namespace; "
                              "remove it or choose another name")
    with pytest.raises(HostnetError, match="a tap named 'br0' already exists in namespace 'lab'"):
        _plan.build(specs({"kind": "bridge", "name": "br0", "state": "absent"}), current, netns="lab")


def test_port_enslaved_elsewhere_needs_force():
    current = {"br0": link("br0", "bridge", 2), "br1": link("br1", "bridge", 3),
               "eth1": link("eth1", "physical", 4, master="br1")}
    with pytest.raises(HostnetError) as err:
        _plan.build(specs({"kind": "bridge", "name": "br0", "ports": ["eth1"]}), current)
    assert str(err.value) == "bridge 'br0': port 'eth1' is already enslaved to 'br1'; set force: true to move it"
    plan = _plan.build(specs({"kind": "bridge", "name": "br0", "ports": ["eth1"], "force": True}), current)
    assert plan.ops == [{"op": "set", "kind": "physical", "name": "eth1", "fields": {"master": "br0"}}]
    assert plan.after["br0"]["ports"] == ["eth1"]
    assert plan.after["eth1"]["master"] == "br0"


def test_missing_port_and_missing_parent():
    with pytest.raises(HostnetError) as err:
        _plan.build(specs({"kind": "bridge", "name": "br0", "ports": ["eth9"]}), {}, netns="lab")
    assert str(err.value) == ("bridge 'br0': port 'eth9' not found in namespace 'lab'; "
                              "create it first or remove it from ports")
    with pytest.raises(HostnetError) as err:
        _plan.build(specs({"kind": "macvtap", "name": "m0", "link": "eth9"}), {})
    assert str(err.value) == ("macvtap 'm0': parent link 'eth9' not found in the host namespace; "
                              "create it first or fix 'link'")


def test_missing_master_bridge():
    with pytest.raises(HostnetError, match="port 't0': bridge 'br9' not found in the host namespace"):
        _plan.build(specs({"kind": "tap", "name": "t0", "master": "br9"}), {})


def test_master_that_is_not_a_bridge():
    with pytest.raises(HostnetError, match="port 't0': master 'x' is a tap, not a bridge"):
        _plan.build(specs({"kind": "tap", "name": "t0", "master": "x"}), {"x": link("x", "tap", 2)})


def test_contradicting_claims():
    desired = specs({"kind": "bridge", "name": "br0", "ports": ["t0"]}, {"kind": "bridge", "name": "br1"},
                    {"kind": "tap", "name": "t0", "master": "br1"})
    with pytest.raises(HostnetError, match="master 'br1' contradicts bridge 'br0', which lists it as a port"):
        _plan.build(desired, {})


def test_exclusive_ports_release_unlisted():
    current = {"br0": link("br0", "bridge", 2), "a": link("a", "tap", 3, master="br0"),
               "b": link("b", "tap", 4, master="br0")}
    plan = _plan.build(specs({"kind": "bridge", "name": "br0", "ports": ["a"], "exclusive_ports": True}), current)
    assert plan.ops == [{"op": "set", "kind": "tap", "name": "b", "fields": {"master": None}}]
    assert plan.after["br0"]["ports"] == ["a"]
    without = _plan.build(specs({"kind": "bridge", "name": "br0", "ports": ["a"]}), current)
    assert without.ops == []


def test_purge_prefix_spares_listed_unmanaged_and_other_names():
    current = {"vm-br": link("vm-br", "bridge", 2), "vm-a": link("vm-a", "tap", 3),
               "vm-old": link("vm-old", "tap", 4), "vm-veth": link("vm-veth", "veth", 5), "other": link("other", "tap", 6)}
    plan = _plan.build(specs({"kind": "bridge", "name": "vm-br"}, {"kind": "tap", "name": "vm-a"}), current,
                       purge_prefix="vm-")
    assert ops(plan) == [("delete", "vm-old")]


def test_macvtap_node_and_mode_converge():
    cur = link("m0", "macvtap", 5, link="eth0", mode="vepa",
               device={"ok": True, "path": "/dev/tap5", "owner": 0, "group": 0, "mode": 0o600})
    plan = _plan.build(specs({"kind": "macvtap", "name": "m0", "link": "eth0", "device_group": "65534"}),
                       {"m0": cur, "eth0": link("eth0", "physical", 2)})
    assert ops(plan) == [("set", "m0"), ("node", "m0")]
    assert plan.ops[0]["fields"] == {"mode": "bridge"}
    assert plan.after["m0"]["device_group"] == 65534 and plan.after["m0"]["device_mode"] == "0660"


def test_macvtap_link_change_needs_recreate():
    cur = link("m0", "macvtap", 5, link="eth0", mode="bridge")
    with pytest.raises(HostnetError, match="moving it from link 'eth0' to 'eth1' needs the device deleted"):
        _plan.build(specs({"kind": "macvtap", "name": "m0", "link": "eth1"}),
                    {"m0": cur, "eth0": link("eth0", "physical", 2), "eth1": link("eth1", "physical", 3)})


def test_address_replacement_and_link_local_untouched():
    current = {"br0": link("br0", "bridge", 2, addresses=["10.0.0.1/24", "10.0.0.9/24"])}
    plan = _plan.build(specs({"kind": "bridge", "name": "br0", "addresses": ["10.0.0.1/24", "fd00::1/64"]}), current)
    assert [(o["action"], o["cidr"]) for o in plan.ops] == [("del", "10.0.0.9/24"), ("add", "fd00::1/64")]


def test_macvlan_created_after_parent_with_addresses_then_converged():
    desired = specs({"kind": "macvlan", "name": "host0", "link": "br0", "addresses": ["10.0.5.1/24"]},
                    {"kind": "bridge", "name": "br0"})
    plan = _plan.build(desired, {})
    assert ops(plan) == [("create", "br0"), ("create", "host0"), ("set", "br0"), ("set", "host0"), ("address", "host0")]
    assert plan.after["host0"]["addresses"] == ["10.0.5.1/24"] and plan.after["host0"]["link"] == "br0"
    current = {"br0": link("br0", "bridge", 2),
               "host0": link("host0", "macvlan", 3, link="br0", mode="bridge", addresses=["10.0.5.1/24"])}
    assert _plan.build(desired, current).ops == []


def test_macvlan_is_no_macvtap_and_needs_its_parent():
    with pytest.raises(HostnetError, match="macvlan 'host0': parent link 'eth9' not found"):
        _plan.build(specs({"kind": "macvlan", "name": "host0", "link": "eth9"}), {})
    with pytest.raises(HostnetError, match="macvlan 'host0': option\\(s\\) device_group do not apply to a macvlan"):
        specs({"kind": "macvlan", "name": "host0", "link": "eth0", "device_group": "kvm"})
    with pytest.raises(HostnetError, match="macvlan 'm0': a macvtap named 'm0' already exists"):
        _plan.build(specs({"kind": "macvlan", "name": "m0", "link": "eth0"}),
                    {"m0": link("m0", "macvtap", 5, link="eth0", mode="bridge"), "eth0": link("eth0", "physical", 2)})


def vxlan_link(**kw):
    base = dict(vni=42, local="192.0.2.1", underlay="eth0", port=4789, learning=True, peers=["192.0.2.2"],
                master="br0")
    base.update(kw)
    return link("vx0", "vxlan", 5, **base)


def vxlan_current(**kw):
    return {"eth0": link("eth0", "physical", 2), "br0": link("br0", "bridge", 4), "vx0": vxlan_link(**kw)}


def vxlan_spec(**kw):
    spec = {"kind": "vxlan", "name": "vx0", "vni": 42, "local": "192.0.2.1", "underlay": "eth0",
            "peers": ["192.0.2.2"], "master": "br0", "mtu": 1500}
    spec.update(kw)
    return specs(spec)


def test_vxlan_for_a_control_plane_gets_its_port_flags_after_it_joins_its_bridge():
    plan = _plan.build(vxlan_spec(learning=False, neigh_suppress=True, peers=None) + specs({"kind": "bridge", "name": "br0"}),
                       {"eth0": link("eth0", "physical", 2)})
    assert ops(plan) == [("create", "br0"), ("create", "vx0"), ("set", "br0"), ("set", "vx0")]
    assert plan.ops[3]["fields"] == {"master": "br0", "up": True,
                                     "bridge_port": {"learning": False, "neigh_suppress": True}}
    assert plan.after["vx0"]["neigh_suppress"] is True and plan.after["vx0"]["port_learning"] is False


@pytest.mark.parametrize("port_learning, neigh_suppress, expected", [
    (False, True, None),  # converged
    (True, True, {"learning": False, "neigh_suppress": True}),  # someone turned the port's learning back on
    (False, False, {"learning": False, "neigh_suppress": True}),
])
def test_vxlan_port_flags_are_read_back_and_converged(port_learning, neigh_suppress, expected):
    current = vxlan_current(learning=False, peers=[], port_learning=port_learning, neigh_suppress=neigh_suppress)
    plan = _plan.build(vxlan_spec(learning=False, neigh_suppress=True, peers=None), current)
    assert [o["fields"].get("bridge_port") for o in plan.ops] == ([] if expected is None else [expected])


def test_vxlan_created_after_its_bridge_then_enslaved_then_its_flood_list():
    plan = _plan.build(vxlan_spec() + specs({"kind": "bridge", "name": "br0"}),
                       {"eth0": link("eth0", "physical", 2)})
    assert ops(plan) == [("create", "br0"), ("create", "vx0"), ("set", "br0"), ("set", "vx0"), ("fdb", "vx0")]
    assert plan.ops[3]["fields"] == {"master": "br0", "up": True}
    assert plan.summary()[-1] == "add fdb entry 00:00:00:00:00:00 dst 192.0.2.2 on vxlan 'vx0'"
    assert plan.after["vx0"]["peers"] == ["192.0.2.2"] and plan.after["vx0"]["vni"] == 42


def test_vxlan_converged_is_an_empty_plan():
    assert _plan.build(vxlan_spec(), vxlan_current()).ops == []


@pytest.mark.parametrize("change, expected", [
    (dict(peers=["192.0.2.3"]), [("fdb", "del", "192.0.2.2"), ("fdb", "add", "192.0.2.3")]),
    (dict(peers=[]), [("fdb", "del", "192.0.2.2")]),
    (dict(peers=None), []),
    (dict(learning=False), [("set", {"learning": False, "bridge_port": {"learning": False, "neigh_suppress": False}})]),
    (dict(neigh_suppress=True), [("set", {"bridge_port": {"learning": True, "neigh_suppress": True}})]),
    (dict(local="192.0.2.9"), [("set", {"local": "192.0.2.9"})]),
    (dict(local=None, underlay=None), []),
])
def test_vxlan_in_place_changes(change, expected):
    plan = _plan.build(vxlan_spec(**change), vxlan_current())
    got = [("fdb", o["action"], o["dst"]) if o["op"] == "fdb" else (o["op"], o["fields"]) for o in plan.ops]
    assert got == expected


@pytest.mark.parametrize("change, what", [(dict(vni=43), "changing vni from 42 to 43"),
                                          (dict(port=8472), "changing port from 4789 to 8472")])
def test_vxlan_vni_or_port_change_needs_recreate(change, what):
    with pytest.raises(HostnetError) as err:
        _plan.build(vxlan_spec(**change), vxlan_current())
    assert str(err.value).startswith("vxlan 'vx0': %s needs the device deleted and created again" % what)
    plan = _plan.build(vxlan_spec(recreate=True, **change), vxlan_current())
    assert ops(plan)[:2] == [("delete", "vx0"), ("create", "vx0")]
    assert ("fdb", "vx0") in ops(plan)


def test_vxlan_purged_by_prefix_and_its_underlay_must_exist():
    plan = _plan.build([], vxlan_current(), purge_prefix="vx")
    assert ops(plan) == [("delete", "vx0")]
    with pytest.raises(HostnetError) as err:
        _plan.build(vxlan_spec(underlay="eth9"), vxlan_current())
    assert str(err.value) == ("vxlan 'vx0': underlay 'eth9' not found in the host namespace; create it first or fix"
                              " 'underlay'")
    with pytest.raises(HostnetError) as err:
        vxlan_spec(master=None, neigh_suppress=True)
    assert str(err.value) == "vxlan 'vx0': neigh_suppress is a flag of the device's port in its bridge; give master"


def test_proxy_entries_follow_routes_change_by_difference_and_go_with_their_bridge():
    route, old, new = "192.0.2.48/29 via 10.0.0.2", "192.0.2.50 dev eth0", "192.0.2.51 dev eth0"
    current = {"eth0": link("eth0", "veth", 2),
               "br0": link("br0", "bridge", 3, addresses=["10.0.0.1/24"], routes=[route], proxy_arp=[old])}
    desired = specs({"kind": "bridge", "name": "br0", "addresses": ["10.0.0.1/24"], "routes": [route],
                     "proxy_arp": [new, old]})
    plan = _plan.build(desired, current)
    assert [(o["op"], o["action"], o["entry"]) for o in plan.ops] == [("proxy", "add", new)]
    assert plan.summary() == ["add proxy ARP %s for bridge 'br0'" % new]
    assert plan.after["br0"]["proxy_arp"] == [old, new]
    assert not _plan.build(specs({"kind": "bridge", "name": "br0", "routes": [route]}), current).changed  # left alone
    gone = _plan.build(specs({"kind": "bridge", "name": "br0", "state": "absent"}), current)
    assert ops(gone) == [("delete", "br0"), ("proxy", "br0")] and gone.ops[1]["action"] == "del"


LO = link("lo", "loopback", 1, addr_gen_mode="random")  # a kernel with IPv6, whose default forms random addresses


def test_a_new_bridge_takes_its_addr_gen_mode_before_it_comes_up_and_only_where_there_is_ipv6():
    desired = specs({"kind": "bridge", "name": "br0", "addr_gen_mode": "eui64"})
    plan = _plan.build(desired, {"lo": LO})
    assert plan.summary() == ["create bridge 'br0'", "set bridge 'br0': addr_gen_mode=eui64, up=True"]
    assert plan.after["br0"]["addr_gen_mode"] == "eui64"
    plan = _plan.build(desired, {"lo": link("lo", "loopback", 1, addr_gen_mode=None)})  # booted with ipv6.disable=1
    assert plan.summary() == ["create bridge 'br0'", "set bridge 'br0': up=True"]
    assert plan.after["br0"]["addr_gen_mode"] is None


@pytest.mark.parametrize("mode, have, expected", [
    ("eui64", [("fe80::b15c:3d79:49e5:e19d/64", True), ("fe80::1/64", False)],
     ["set bridge 'br0': addr_gen_mode=eui64", "del address fe80::b15c:3d79:49e5:e19d/64 on bridge 'br0'",
      "add address fe80::ff:fe00:2/64 on bridge 'br0'"]),
    ("eui64", [("fe80::b15c:3d79:49e5:e19d/64", True), ("fe80::ff:fe00:9/64", False)],  # formed from an older MAC
     ["set bridge 'br0': addr_gen_mode=eui64", "del address fe80::b15c:3d79:49e5:e19d/64 on bridge 'br0'"]),
    ("eui64", [], ["set bridge 'br0': addr_gen_mode=eui64"]),  # no carrier yet: the kernel forms it later
    ("none", [("fe80::b15c:3d79:49e5:e19d/64", True), ("fe80::ff:fe00:9/64", False), ("fe80::1/64", False)],
     ["set bridge 'br0': addr_gen_mode=none", "del address fe80::b15c:3d79:49e5:e19d/64 on bridge 'br0'",
      "del address fe80::ff:fe00:9/64 on bridge 'br0'"]),
], ids=["random-to-eui64", "random-beside-eui64", "not-formed-yet", "to-none"])
def test_an_existing_bridge_replaces_the_link_local_addresses_it_formed_under_another_mode(mode, have, expected):
    """The kernel applies a new mode to the next address it forms only; an address given by hand stays."""
    current = {"lo": LO, "br0": link("br0", "bridge", 2, addr_gen_mode="random",
                                     link_local=[{"address": a, "stable_privacy": p} for a, p in have])}
    plan = _plan.build(specs({"kind": "bridge", "name": "br0", "addr_gen_mode": mode}), current)
    assert plan.summary() == expected
    converged = dict(current, br0=dict(current["br0"], addr_gen_mode=mode, link_local=[
        {"address": a, "stable_privacy": False} for a in ["fe80::1/64", "fe80::ff:fe00:2/64"][:2 if mode == "eui64" else 1]]))
    assert _plan.build(specs({"kind": "bridge", "name": "br0", "addr_gen_mode": mode}), converged).ops == []


def test_a_bridge_without_addr_gen_mode_keeps_what_it_has():
    current = {"lo": LO, "br0": link("br0", "bridge", 2, addr_gen_mode="random",
                                     link_local=[{"address": "fe80::b15c:3d79:49e5:e19d/64", "stable_privacy": True}])}
    assert _plan.build(specs({"kind": "bridge", "name": "br0"}), current).ops == []
