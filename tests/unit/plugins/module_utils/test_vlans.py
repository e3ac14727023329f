"""Bridge-port VLANs: the options (tap vlan/vlans/native, bridge port_vlans/port_native), the planner's steps and
views, and the wire format. The kernel's side is proved where a kernel filters VLANs (scenario realguest, in rg1)."""

import struct

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _model, _nftnet, _nlvlan, _plan, _planview, _uplinkplan, _vlannet
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _guest, _guestrender

from test_plan import link, specs


def tap(**kw):
    return dict({"kind": "tap", "name": "t0", "master": "br0"}, **kw)


def test_access_and_trunk_sets():
    assert _model.normalise(tap(vlan=10))["vlans"] == ["10 pvid untagged"]
    assert _model.normalise(tap(vlans=[20, 10]))["vlans"] == ["10", "20"]
    assert _model.normalise(tap(vlans=[20, 10], native=30))["vlans"] == ["10", "20", "30 pvid untagged"]
    assert _model.normalise(tap(vlans=[20, 10], native=10))["vlans"] == ["10 pvid untagged", "20"]
    assert _model.normalise(tap())["vlans"] is None  # left alone
    bridge = _model.normalise({"kind": "bridge", "name": "br0", "ports": ["eth1"], "port_vlans": [10, 20], "port_native": 1})
    assert bridge["port_vlans"] == ["1 pvid untagged", "10", "20"]


@pytest.mark.parametrize("params, message", [
    (tap(vlan=0), "tap 't0': vlan: VLAN id 0 is out of range; give an integer 1..4094"),
    (tap(vlan=4095), "tap 't0': vlan: VLAN id 4095 is out of range; give an integer 1..4094"),
    (tap(vlan=True), "tap 't0': vlan: VLAN id True is out of range; give an integer 1..4094"),
    (tap(vlans=[10, 5000]), "tap 't0': vlans: VLAN id 5000 is out of range; give an integer 1..4094"),
    (tap(vlans=[10], native=-1), "tap 't0': native: VLAN id -1 is out of range; give an integer 1..4094"),
    (tap(vlan=10, vlans=[20]), "tap 't0': give either vlan (an access port, untagged in the guest) or vlans with native"
                               " (a trunk, tagged in the guest), not both"),
    (tap(vlan=10, native=20), "tap 't0': give either vlan (an access port, untagged in the guest) or vlans with native"
                              " (a trunk, tagged in the guest), not both"),
    (tap(native=20), "tap 't0': native needs vlans, the tagged VLANs of the trunk; for one untagged VLAN give vlan"),
    (tap(vlans=[]), "tap 't0': vlans is empty; list the trunk's VLAN ids, or drop it to leave the VLANs alone"),
    (tap(vlans=[10, 20, 10]), "tap 't0': vlans lists 10 more than once; list each VLAN id once"),
    (tap(master=None, vlan=10), "tap 't0': VLANs are a bridge port's; give master (a bridge with vlan_filtering: true)"),
    (tap(mode="tun", vlan=10), "tap 't0': a tun (layer 3) device carries no VLANs; drop vlan, vlans and native, or use"
                               " mode tap"),
    ({"kind": "bridge", "name": "br0", "port_vlans": [10]},
     "bridge 'br0': port_vlans are the VLANs of the bridge's ports; list them in ports"),
    ({"kind": "bridge", "name": "br0", "ports": ["eth1"], "port_native": 1},
     "bridge 'br0': port_native needs port_vlans, the tagged VLANs of the trunk"),
])
def test_bad_options(params, message):
    with pytest.raises(HostnetError) as err:
        _model.normalise(params)
    assert str(err.value) == message


def filtering_bridge(**kw):
    return link("br0", "bridge", 2, **dict({"vlan_filtering": True, "default_pvid": 1}, **kw))


def test_new_tap_on_new_bridge_replaces_the_default_vlan():
    desired = specs({"kind": "bridge", "name": "br0", "vlan_filtering": True}, tap(vlan=10))
    plan = _plan.build(desired, {})
    vlan_ops = [(o["name"], o["action"], o["vlan"]) for o in plan.ops if o["op"] == "vlan"]
    assert vlan_ops == [("t0", "add", "10 pvid untagged"), ("t0", "del", "1 pvid untagged")]
    kinds = [o["op"] for o in plan.ops]
    assert kinds.index("vlan") > max(i for i, k in enumerate(kinds) if k == "set")  # after the enslave
    assert plan.after["t0"]["vlans"] == ["10 pvid untagged"]
    assert "add VLAN 10 pvid untagged on tap 't0'" in plan.summary()


def test_converged_port_is_an_empty_plan_and_drift_is_mended():
    current = {"br0": filtering_bridge(), "t0": link("t0", "tap", 3, master="br0", vlans=["10", "20", "30 pvid untagged"])}
    desired = specs({"kind": "bridge", "name": "br0", "vlan_filtering": True}, tap(vlans=[10, 20], native=30))
    assert _plan.build(desired, current).ops == []
    current["t0"]["vlans"] = ["10 pvid untagged", "20", "99"]
    plan = _plan.build(desired, current)
    assert [(o["action"], o["vlan"]) for o in plan.ops] == [("add", "10"), ("add", "30 pvid untagged"), ("del", "99")]
    assert plan.before["t0"]["vlans"] == ["10 pvid untagged", "20", "99"]
    assert plan.after["t0"]["vlans"] == ["10", "20", "30 pvid untagged"]


def test_a_port_joining_starts_from_the_bridges_default_pvid():
    current = {"br0": filtering_bridge(default_pvid=7), "t0": link("t0", "tap", 3, vlans=[])}
    plan = _plan.build(specs(tap(vlan=10)), current)
    assert [(o["op"], o.get("vlan")) for o in plan.ops] == [("set", None), ("vlan", "10 pvid untagged"),
                                                            ("vlan", "7 pvid untagged")]
    assert plan.ops[2]["action"] == "del"


def test_bridge_port_vlans_reach_its_listed_ports_only():
    current = {"br0": filtering_bridge(), "eth1": link("eth1", "physical", 3, master="br0", vlans=["1 pvid untagged"]),
               "t9": link("t9", "tap", 4, master="br0", vlans=["1 pvid untagged"])}
    desired = specs({"kind": "bridge", "name": "br0", "ports": ["eth1"], "port_vlans": [10, 20], "port_native": 1})
    plan = _plan.build(desired, current)
    assert [(o["kind"], o["name"], o["action"], o["vlan"]) for o in plan.ops] == [
        ("physical", "eth1", "add", "10"), ("physical", "eth1", "add", "20")]
    assert plan.after["eth1"]["vlans"] == ["1 pvid untagged", "10", "20"]


@pytest.mark.parametrize("bridge_now, bridge_spec", [
    (link("br0", "bridge", 2), {"kind": "bridge", "name": "br0"}),  # exists without filtering, left so
    (filtering_bridge(), {"kind": "bridge", "name": "br0", "vlan_filtering": False}),  # being turned off
    (None, {"kind": "bridge", "name": "br0"}),  # created without it
])
def test_vlans_need_a_filtering_bridge(bridge_now, bridge_spec):
    current = {"br0": bridge_now} if bridge_now else {}
    with pytest.raises(HostnetError) as err:
        _plan.build(specs(bridge_spec, tap(vlans=[10, 20])), current)
    assert str(err.value) == ("tap 't0': VLANs 10, 20 need bridge 'br0' to filter VLANs, and it does not; set"
                              " vlan_filtering: true on the bridge")


def test_changes_add_before_delete():
    assert _nlvlan.changes(["1 pvid untagged"], ["10 pvid untagged"]) == [
        ("add", "10 pvid untagged"), ("del", "1 pvid untagged")]
    assert _nlvlan.changes(["10"], ["10"]) == []


def test_wire_round_trip():
    """vlan_request's attribute, wrapped as a dump reply carries it, reads back as the same entry."""
    for entry in ("10", "30 pvid untagged"):
        request = _nlvlan.vlan_request("add", 5, entry)(1)
        length, mtype, _flags, _seq, _pid = struct.unpack_from("=IHHII", request)
        assert mtype == _nlvlan.RTM_SETLINK and length == len(request)
        assert _nlvlan.parse_port(request, 0, length) == (5, [entry])
    delete = _nlvlan.vlan_request("del", 5, "30 pvid untagged")(1)
    assert struct.unpack_from("=H", delete, 4)[0] == 17  # RTM_DELLINK
    assert _nlvlan.parse_port(delete, 0, len(delete)) == (5, ["30"])  # a deletion names the id, no flags


# -- a network's vlans (the network role) ------------------------------------------------------------------------

LAN = {"name": "lan", "kind": "uplink", "bridge": "br0", "uplink": "eth1", "vlans": [20, 10]}
ISO = {"name": "iso", "kind": "isolated", "address": "10.9.0.1/24", "vlans": [30]}
PLAIN = {"name": "plain", "kind": "isolated", "address": "10.8.0.1/24"}


def test_a_network_with_vlans_filters_them_and_its_uplink_carries_them():
    assert _nftnet.check([LAN, ISO], {"eth1": None, "lo": None}) == []
    devices = _nftnet.devices([LAN, ISO, {"name": "plain", "kind": "isolated", "address": "10.8.0.1/24"}])
    assert [(d["name"], d["vlan_filtering"]) for d in devices] == [("br0", True), ("iso", True), ("plain", False)]
    assert _nftnet.uplinks([LAN])[0]["vlans"] == [10, 20]


@pytest.mark.parametrize("net, message", [
    (dict(ISO, kind="nat", uplink="eth1"), "network 'iso': field 'vlans' applies to kinds isolated and uplink (the host"
     " routes, serves DHCP and masquerades only the network's untagged VLAN); drop it, or carry the VLANs on an isolated"
     " or uplink network"),
    (dict(ISO, vlans=[1, 30]), "network 'iso': field 'vlans' lists VLAN 1, the network's own untagged VLAN (the host's"
     " address and guest NICs without a VLAN); list the tagged VLANs, 2..4094"),
    (dict(ISO, vlans=[4095]), "network 'iso': field 'vlans': VLAN id 4095 is out of range; give an integer 1..4094"),
    (dict(ISO, vlans=[30, 30]), "network 'iso': field 'vlans' lists 30 more than once; list each VLAN id once"),
    (dict(ISO, vlans=[]), "network 'iso': field 'vlans' is empty; list the trunk's VLAN ids, or drop it to leave"
     " the VLANs alone"),
    (dict(ISO, span={"vni": 10}), "network 'iso': field 'vlans' and field 'span' do not go together (a span carries"
     " the network's untagged VLAN in one VNI); drop one of them"),
])
def test_bad_network_vlans(net, message):
    assert message in _nftnet.check([net], {"eth1": None, "lo": None})


def test_a_kernel_without_vlan_filtering_is_told_by_its_bridges():
    nets = _nftnet.normalise([LAN, ISO, dict(PLAIN, name="gone", state="absent", vlans=[5])])
    old = {"lo": {"kind": "loopback"}, "br9": {"kind": "bridge", "default_pvid": None}}
    assert _vlannet.on_host(nets, old) == [
        "network '%s': field 'vlans' needs bridge VLAN filtering, which this host's kernel does not have"
        " (CONFIG_BRIDGE_VLAN_FILTERING: its bridges report no default VLAN); drop vlans, or run the network on a"
        " kernel that has it" % name for name in ("lan", "iso")]
    assert _vlannet.on_host(nets, {"br9": {"kind": "bridge", "default_pvid": 1}}) == []
    assert _vlannet.on_host(nets, {"lo": {"kind": "loopback"}}) == []  # no bridge to ask: the engine refuses later


def test_the_uplink_move_puts_the_vlans_on_the_nic_once_it_is_a_port():
    entry = {"bridge": "br0", "nic": "eth1", "mac": "52:54:00:00:00:01", "addresses": [], "routes": [],
             "vlans": ["1 pvid untagged", "10", "20"]}
    live = {"links": {"eth1": {"kind": "physical", "up": True, "mac": "52:54:00:00:00:01", "master": None}},
            "addresses": {}, "routes": {}, "multipath": {}}
    ops = [_planview.describe(op) for op in _uplinkplan.plan(entry, _uplinkplan.MOVED, live)]
    assert ops == ["create bridge 'br0' with MAC 52:54:00:00:00:01", "set bridge 'br0': up=True", "set interface 'eth1': master=br0",
                   "add VLAN 10 on interface 'eth1'", "add VLAN 20 on interface 'eth1'"]
    assert _uplinkplan.plan(entry, _uplinkplan.MOVED, live)[0]["spec"]["vlan_filtering"] is True
    live["links"]["br0"] = {"kind": "bridge", "up": True, "mac": "52:54:00:00:00:01", "master": None}
    live["links"]["eth1"].update(master="br0", vlans=["1 pvid untagged", "10", "99"])  # drifted
    assert [_planview.describe(op) for op in _uplinkplan.plan(entry, _uplinkplan.MOVED, live)] == [
        "add VLAN 20 on interface 'eth1'", "del VLAN 99 on interface 'eth1'"]
    before = _uplinkplan.view(entry, live)
    assert before["nic"]["vlans"] == ["1 pvid untagged", "10", "99"]
    assert _uplinkplan.project(entry, _uplinkplan.MOVED, before)["nic"]["vlans"] == entry["vlans"]
    assert _uplinkplan.project(entry, _uplinkplan.ORIGINAL, before)["nic"]["vlans"] == []
    live["links"]["eth1"]["vlans"] = list(entry["vlans"])
    assert _uplinkplan.plan(entry, _uplinkplan.MOVED, live) == []


# -- a guest NIC's VLANs (the guest role) ------------------------------------------------------------------------
GUEST_HOST = {"users": {"qemu": ["x", "999", "999", "", "/", "/bin/false"]}, "links": ["lo", "br0", "iso", "own0", "plain"],
              "files": {}, "kvm_users": [], "vhost_users": [], "networks": [LAN, ISO, PLAIN]}


def nic_guest(**nic):
    return {"name": "vm1", "memory": 128, "disks": [{"path": "/var/lib/vm1.qcow2", "size": "1G"}],
            "nics": [dict({"kind": "tap", "bridge": "br0"}, **nic)]}


def guest_plan(**nic):
    return _guest.normalise_all([nic_guest(**nic)], {"user": "qemu"}, GUEST_HOST)


def test_guest_nics_take_vlans_of_their_network_and_the_device_engine_gets_them():
    guests = guest_plan(vlan=10)
    assert _guestrender.netdevs(guests)[0] == {"kind": "tap", "name": "vm1-n0", "owner": "qemu", "multi_queue": False,
                                               "master": "br0", "vlan": 10}
    trunk = _guestrender.netdevs(guest_plan(vlans=[10, 20], native=1))[0]
    assert (trunk["vlans"], trunk["native"]) == ([10, 20], 1)
    assert _guestrender.netdevs(guest_plan(vlan=1))[0]["vlan"] == 1  # the network's own VLAN, always allowed
    assert "vlan" not in _guestrender.netdevs(guest_plan())[0]  # no VLANs: the port's are left as the bridge gives them
    assert _guestrender.netdevs(guest_plan(bridge="own0", vlan=77))[0]["vlan"] == 77  # the host's own bridge: engine's


@pytest.mark.parametrize("nic, message", [
    (dict(vlan=30), "guest 'vm1': nics[0].vlan: VLAN 30 is not among the vlans of network 'lan' (10, 20); add it to"
     " the network's vlans, or take one of those"),
    (dict(vlans=[10, 40], native=50), "guest 'vm1': nics[0].vlans: VLANs 40, 50 are not among the vlans of network"
     " 'lan' (10, 20); add them to the network's vlans, or take one of those"),
    (dict(bridge="plain", vlan=10), "guest 'vm1': nics[0].vlan: network 'plain' (bridge 'plain') does not filter VLANs;"
     " give the network vlans: [10], or drop the NIC's VLANs"),
    (dict(bridge="plain", vlan=1), "guest 'vm1': nics[0].vlan: network 'plain' (bridge 'plain') does not filter VLANs;"
     " drop the NIC's VLANs (VLAN 1 is the network's own, where every NIC without one is)"),
    (dict(vlan=0), "guest 'vm1': nics[0]: vlan: VLAN id 0 is out of range; give an integer 1..4094"),
    (dict(vlan=10, vlans=[20]), "guest 'vm1': nics[0]: give either vlan (an access port, untagged in the guest) or"
     " vlans with native (a trunk, tagged in the guest), not both"),
    (dict(bridge=None, vlan=10), "guest 'vm1': nics[0].vlan: VLANs are those of a port of a VLAN-filtering bridge, and"
     " the NIC has no bridge; give bridge (the bridge of a network with vlans)"),
    (dict(kind="macvtap", bridge=None, link="own0", vlan=10), "guest 'vm1': nics[0].vlan: a macvtap NIC has no vlan;"
     " drop it, or use kind tap"),
])
def test_bad_guest_nic_vlans(nic, message):
    with pytest.raises(HostnetError) as err:
        guest_plan(**nic)
    assert str(err.value) == message
