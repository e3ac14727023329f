# -*- coding: utf-8 -*-
"""Uplink networks, pure parts: validation messages, device set, the move/restore planner, network-manager
detection (on a fake root), the diff projection. The kernel side is tests/kernel/test_uplink_kernel.py."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftnet, _nftrules, _planview, _uplink, _uplinkhost, _uplinkplan, _uplinkstate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

LAN = {"name": "lan", "kind": "uplink", "bridge": "br0", "uplink": "eth1"}
LINKS = {"lo": None, "eth0": None, "eth1": None, "eth2": None, "wan0": None}


def errors(*nets, links=None):
    return _nftnet.check(list(nets), LINKS if links is None else links)


# -- validation: exact messages naming network, field and fix ------------------------------------------
def test_valid_uplink_network():
    assert errors(LAN) == []


def test_nic_that_does_not_exist():
    assert errors(dict(LAN, uplink="eth9")) == [
        "network 'lan': field 'uplink' 'eth9' does not exist on this host; give an existing interface"
        " (found: eth0, eth1, eth2, lo, wan0)"]


def test_nic_enslaved_to_another_master():
    assert errors(LAN, links=dict(LINKS, eth1="other0")) == [
        "network 'lan': field 'uplink' 'eth1' is already a port of 'other0', not of this network's bridge 'br0';"
        " release it first (ip link set eth1 nomaster) or give bridge: other0"]


def test_nic_enslaved_to_its_own_bridge_is_fine():
    assert errors(LAN, links=dict(LINKS, eth1="br0", br0=None)) == []


def test_nic_is_the_bridge():
    assert errors(dict(LAN, uplink="br0")) == [
        "network 'lan': field 'uplink' 'br0' is the network's own bridge; give the NIC the bridge takes over"
        " (e.g. eth1), or another name in field 'bridge'"]


def test_nic_is_the_bridge_by_default_name():
    msgs = errors({"name": "eth1", "kind": "uplink", "uplink": "eth1"})
    assert msgs == ["network 'eth1': field 'uplink' 'eth1' is the network's own bridge; give the NIC the bridge takes"
                    " over (e.g. eth1), or another name in field 'bridge'"]


def test_two_networks_claim_one_nic():
    assert errors(LAN, dict(LAN, name="lan2", bridge="br1")) == [
        "network 'lan2': field 'uplink' 'eth1' is already the uplink of network 'lan'; a NIC can be the port of one"
        " bridge only: give each uplink network its own NIC"]


def test_uplink_field_required():
    assert errors(dict(LAN, uplink=None)) == [
        "network 'lan': an uplink network needs field 'uplink' (the host's NIC the bridge takes over with its"
        " addresses and routes, e.g. eth1)"]


def test_address_does_not_apply_but_filter_does():
    msgs = errors(dict(LAN, address="192.168.1.2/24", filter={"allow": ["10.0.0.0/8"]}))
    assert msgs == ["network 'lan': field 'address' does not apply to kind uplink (the bridge takes over the NIC's own"
                    " addresses); drop it"]  # filter holds the guests' bridged traffic (_nftports)


def test_nic_of_an_uplink_is_nobody_elses():
    nat = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "eth1"}
    assert errors(LAN, nat) == [
        "network 'natnet': field 'uplink' 'eth1' is the NIC of uplink network 'lan', whose addresses move to its"
        " bridge; give the bridge 'br0' instead"]
    assert errors(LAN, dict(nat, uplink="br0")) == []
    other = {"name": "other", "bridge": "eth2"}
    assert "network 'lan2': field 'uplink' 'eth2' is the bridge of network 'other'; give the NIC the bridge takes" \
           " over" in errors(other, dict(LAN, name="lan2", bridge="br2", uplink="eth2"), links=dict(LINKS))


def test_absent_uplink_network_needs_no_nic():
    assert errors(dict(LAN, uplink="gone0", state="absent")) == []


# -- device set, ruleset, module input -------------------------------------------------------------------
def test_devices_bridge_without_addresses_absent_left_to_the_module():
    assert _nftnet.devices([LAN]) == [
        {"kind": "bridge", "name": "br0", "state": "present", "up": True, "vlan_filtering": False}]
    assert _nftnet.devices([dict(LAN, state="absent")]) == []
    assert _nftnet.uplinks([LAN, dict(LAN, name="x", bridge="x", uplink="eth2", state="absent")]) == [
        {"name": "lan", "bridge": "br0", "nic": "eth1", "state": "present", "via": "bridge", "dhcp": False,
         "route_metric": 0, "vlans": []},
        {"name": "x", "bridge": "x", "nic": "eth2", "state": "absent", "via": "bridge", "dhcp": False,
         "route_metric": 0, "vlans": []}]


def test_nothing_rendered_for_uplink_networks():
    text = _nftrules.render([LAN])
    assert "br0" not in text and "eth1" not in text
    assert _nftnet.sysctls([LAN]) == {}


# -- the planner on plain dicts ----------------------------------------------------------------------------
MAC = "52:54:00:aa:bb:01"
A4 = {"family": 4, "address": "192.0.2.10/24", "broadcast": "192.0.2.255", "scope": 0, "flags": 128}
A4B = {"family": 4, "address": "192.0.2.11/24", "broadcast": None, "scope": 0, "flags": 129}
A6 = {"family": 6, "address": "2001:db8::10/64", "broadcast": None, "scope": 0, "flags": 128}
DEFAULT = {"family": 4, "dst": "0.0.0.0/0", "gateway": "192.0.2.1", "table": 254, "protocol": 3, "scope": 0,
           "type": 1, "metric": None, "prefsrc": None, "onlink": False}
ONLINK = {"family": 4, "dst": "198.51.100.0/24", "gateway": None, "table": 254, "protocol": 4, "scope": 253,
          "type": 1, "metric": 10, "prefsrc": None, "onlink": False}
ENTRY = {"bridge": "br0", "nic": "eth1", "mac": MAC, "addresses": [A4, A4B, A6], "routes": [DEFAULT, ONLINK]}


def live(nic_master=None, bridge=True, on_nic=(), on_br=(), routes_nic=(), routes_br=(), nic_up=True):
    links = {"eth1": {"index": 2, "kind": "physical", "up": nic_up, "mac": MAC, "master": nic_master}}
    if bridge:
        links["br0"] = {"index": 3, "kind": "bridge", "up": True, "mac": MAC, "master": None}
    return {"links": links, "addresses": {"eth1": list(on_nic), "br0": list(on_br)},
            "routes": {"eth1": list(routes_nic), "br0": list(routes_br)}, "multipath": {}}


def kinds(ops):
    return [_planview.describe(op) for op in ops]


def test_a_prefix_route_that_an_owner_made_for_a_noprefixroute_address_moves_first():
    """NetworkManager adds its addresses with noprefixroute and their prefix routes itself (protocol kernel, its
    metric): the kernel makes none on the bridge, so the route moves, before the default route through it."""
    nm_addr = {"family": 4, "address": "10.75.0.2/24", "broadcast": None, "scope": 0, "flags": 0x280}
    prefix = dict(ONLINK, dst="10.75.0.0/24", protocol=2, metric=980, prefsrc="10.75.0.2")
    default = dict(DEFAULT, gateway="10.75.0.1", metric=980, protocol=4)
    kernels = dict(ONLINK, dst="192.0.2.0/24", protocol=2, metric=None)  # A4's own, made by the kernel
    state = live(bridge=False, on_nic=[nm_addr, A4], routes_nic=[default, prefix, kernels])
    assert [r["dst"] for r in _uplinkplan.movable_routes(state, "eth1")] == ["0.0.0.0/0", "10.75.0.0/24"]
    entry = dict(ENTRY, addresses=[nm_addr, A4], routes=_uplinkplan.movable_routes(state, "eth1"))
    assert [line for line in kinds(_uplinkplan.plan(entry, _uplinkplan.MOVED, state)) if " route " in line] == [
        "del route default via 10.75.0.1 metric 980 on interface 'eth1'",
        "del route 10.75.0.0/24 metric 980 on interface 'eth1'",
        "add route 10.75.0.0/24 metric 980 on bridge 'br0'",
        "add route default via 10.75.0.1 metric 980 on bridge 'br0'"]


def test_plan_move_from_the_original():
    ops = _uplinkplan.plan(ENTRY, _uplinkplan.MOVED, live(bridge=False, on_nic=[A4, A4B, A6], routes_nic=[DEFAULT, ONLINK]))
    assert kinds(ops) == [
        "create bridge 'br0' with MAC 52:54:00:aa:bb:01",
        "set bridge 'br0': up=True",
        "del route default via 192.0.2.1 on interface 'eth1'",
        "del route 198.51.100.0/24 metric 10 on interface 'eth1'",
        "del address 2001:db8::10/64 on interface 'eth1'",  # reverse order: IPv4 secondaries before their primary
        "del address 192.0.2.11/24 on interface 'eth1'",
        "del address 192.0.2.10/24 on interface 'eth1'",
        "set interface 'eth1': master=br0",
        "add address 192.0.2.10/24 on bridge 'br0'",
        "add address 192.0.2.11/24 on bridge 'br0'",
        "add address 2001:db8::10/64 on bridge 'br0'",
        "add route 198.51.100.0/24 metric 10 on bridge 'br0'",  # gateway-less routes first
        "add route default via 192.0.2.1 on bridge 'br0'",
    ]


def test_plan_moved_is_empty_and_partial_is_finished():
    done = live(nic_master="br0", on_br=[A4, A4B, A6], routes_br=[DEFAULT, ONLINK])
    assert _uplinkplan.plan(ENTRY, _uplinkplan.MOVED, done) == []
    partial = live(nic_master="br0", on_nic=[A6], on_br=[A4, A4B])
    assert kinds(_uplinkplan.plan(ENTRY, _uplinkplan.MOVED, partial)) == [
        "del address 2001:db8::10/64 on interface 'eth1'", "add address 2001:db8::10/64 on bridge 'br0'",
        "add route 198.51.100.0/24 metric 10 on bridge 'br0'", "add route default via 192.0.2.1 on bridge 'br0'"]


def test_plan_move_sets_the_nic_mac_on_an_existing_bridge():
    state = live()
    state["links"]["br0"].update(mac="fe:00:00:00:00:01", up=False)
    assert kinds(_uplinkplan.plan(dict(ENTRY, addresses=[], routes=[]), _uplinkplan.MOVED, state)) == [
        "set bridge 'br0': mac=52:54:00:aa:bb:01, up=True", "set interface 'eth1': master=br0"]


def test_plan_restore_deletes_the_bridge_or_only_releases():
    moved = live(nic_master="br0", on_br=[A4, A4B, A6], routes_br=[DEFAULT, ONLINK])
    ops = kinds(_uplinkplan.plan(ENTRY, _uplinkplan.ORIGINAL, moved, delete_bridge=True))
    assert ops[:5] == ["del route default via 192.0.2.1 on bridge 'br0'", "del route 198.51.100.0/24 metric 10 on bridge 'br0'",
                       "del address 2001:db8::10/64 on bridge 'br0'", "del address 192.0.2.11/24 on bridge 'br0'",
                       "del address 192.0.2.10/24 on bridge 'br0'"]
    assert ops[5] == "delete bridge 'br0'" and ops[-1] == "add route default via 192.0.2.1 on interface 'eth1'"
    kept = kinds(_uplinkplan.plan(ENTRY, _uplinkplan.ORIGINAL, moved, delete_bridge=False))
    assert "set interface 'eth1': master=None" in kept and "delete bridge 'br0'" not in kept
    original = live(bridge=False, on_nic=[A4, A4B, A6], routes_nic=[DEFAULT, ONLINK])
    assert _uplinkplan.plan(ENTRY, _uplinkplan.ORIGINAL, original, delete_bridge=True) == []


def test_plan_refuses_a_nic_on_another_bridge_and_a_bridge_of_another_kind():
    with pytest.raises(HostnetError, match="the NIC is already a port of 'other0'; release it first"):
        _uplinkplan.plan(ENTRY, _uplinkplan.MOVED, live(nic_master="other0"))
    state = live()
    state["links"]["br0"]["kind"] = "veth"
    with pytest.raises(HostnetError, match="'br0' exists and is a veth, not a bridge"):
        _uplinkplan.plan(ENTRY, _uplinkplan.MOVED, state)
    state = live()
    del state["links"]["eth1"]
    with pytest.raises(HostnetError, match="the NIC 'eth1' does not exist"):
        _uplinkplan.plan(ENTRY, _uplinkplan.MOVED, state)


def test_metric_zero_and_none_are_one_route():
    assert _uplinkplan.plan(dict(ENTRY, addresses=[]), _uplinkplan.MOVED,
                            live(nic_master="br0", routes_br=[dict(DEFAULT, metric=0), ONLINK])) == []


def test_movable_addresses_and_routes():
    state = {"addresses": {"eth1": [
        dict(A4, index=2, permanent=True, valid_lft=None),
        dict(A6, index=2, permanent=False, valid_lft=3000),  # SLAAC: the bridge makes it itself
        {"index": 2, "family": 6, "address": "fe80::1/64", "broadcast": None, "scope": 253, "flags": 128,
         "permanent": True, "valid_lft": None}]},
        "routes": {"eth1": [DEFAULT, dict(ONLINK, protocol=2), dict(DEFAULT, family=6, dst="::/0", protocol=9),
                            dict(DEFAULT, type=2)]}}
    assert _uplinkplan.movable_addresses(state, "eth1") == [A4]
    assert _uplinkplan.movable_routes(state, "eth1") == [DEFAULT]


def test_project_shows_the_move():
    before = {"nic": {"name": "eth1", "master": None, "up": True, "addresses": ["192.0.2.10/24"],
                      "routes": ["default via 192.0.2.1"]}, "bridge": None}
    entry = dict(ENTRY, addresses=[A4], routes=[DEFAULT])
    after = _uplinkplan.project(entry, _uplinkplan.MOVED, before)
    assert after["nic"] == {"name": "eth1", "master": "br0", "up": True, "addresses": [], "routes": []}
    assert after["bridge"]["addresses"] == ["192.0.2.10/24"] and after["bridge"]["routes"] == ["default via 192.0.2.1"]
    assert after["bridge"]["mac"] == MAC
    back = _uplinkplan.project(entry, _uplinkplan.ORIGINAL, after, delete_bridge=True)
    assert back == dict(before, nic=dict(before["nic"]))


# -- who else configures the NIC ---------------------------------------------------------------------------
def _root(tmp_path, files):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


UPLINK = {"name": "lan", "bridge": "br0", "nic": "eth1", "state": "present"}


def test_managers_none(tmp_path):
    root = _root(tmp_path, {"etc/network/interfaces": "auto lo\niface lo inet loopback\niface eth1 inet manual\n",
                            "run/systemd/netif/links/2": "ADMIN_STATE=unmanaged\nOPER_STATE=carrier\n",
                            "run/NetworkManager/devices/2": "[device]\nmanaged=false\n"})
    assert _uplinkhost._managers(UPLINK, "network 'lan'", 2, root) == []


def test_managers_networkmanager(tmp_path):
    root = _root(tmp_path, {"run/NetworkManager/devices/2": "[device]\nmanaged=true\nconnection-uuid=abc\n"})
    msgs = _uplinkhost._managers(UPLINK, "network 'lan'", 2, root)
    assert len(msgs) == 1 and msgs[0].startswith(
        "network 'lan': field 'uplink' 'eth1' is managed by NetworkManager (/run/NetworkManager/devices/2:"
        " managed=true), which would fight the move; either let NetworkManager own the bridge")
    assert msgs[0].endswith(
        "hand it over with its addresses: nmcli device set eth1 managed no (NetworkManager leaves the NIC's addresses"
        " and routes in place), then keep it unmanaged with [keyfile] unmanaged-devices+=interface-name:eth1 in a file"
        " of /etc/NetworkManager/conf.d/ and nmcli general reload conf (that file alone would make NetworkManager take"
        " the NIC down and flush it), then rerun")


def test_managers_networkd(tmp_path):
    root = _root(tmp_path, {"run/systemd/netif/links/2":
                            "ADMIN_STATE=configured\nNETWORK_FILE=/etc/systemd/network/10-eth1.network\n"})
    msgs = _uplinkhost._managers(UPLINK, "network 'lan'", 2, root)
    assert len(msgs) == 1 and msgs[0].startswith(
        "network 'lan': field 'uplink' 'eth1' is configured by systemd-networkd"
        " (/etc/systemd/network/10-eth1.network, state configured), which would fight the move")
    assert msgs[0].endswith(
        "stop networkd from configuring eth1 (set Unmanaged=yes in the [Link] section of its .network file, then"
        " systemctl restart systemd-networkd: a restart leaves the NIC's addresses and routes in place, networkctl"
        " reload would flush them), then rerun")


def test_managers_ifupdown(tmp_path):
    root = _root(tmp_path, {"etc/network/interfaces": "source /etc/network/interfaces.d/*\n",
                            "etc/network/interfaces.d/eth1": "auto eth1\niface eth1 inet static\n  address 192.0.2.10/24\n"})
    msgs = _uplinkhost._managers(UPLINK, "network 'lan'", 2, root)
    assert msgs == [
        "network 'lan': field 'uplink' 'eth1' is configured by ifupdown (/etc/network/interfaces.d/eth1: 'iface eth1"
        " inet static'), which would configure it again at boot and fight the bridge; change that stanza to 'iface"
        " eth1 inet manual' (drop its address, gateway and dhcp lines), or let ifupdown own the bridge (iface br0 ..."
        " bridge_ports eth1) and drop this network, then rerun"]


def test_managers_ifupdown_dhcp_offers_the_collections_client(tmp_path):
    root = _root(tmp_path, {"etc/network/interfaces": "auto eth1\niface eth1 inet dhcp\n"})
    assert _uplinkhost._managers(UPLINK, "network 'lan'", 2, root) == [
        "network 'lan': field 'uplink' 'eth1' is configured by ifupdown (/etc/network/interfaces: 'iface eth1 inet"
        " dhcp'), which would configure it again at boot and fight the bridge; change that stanza to 'iface eth1 inet"
        " manual' (drop its address, gateway and dhcp lines), or let ifupdown own the bridge (iface br0 ..."
        " bridge_ports eth1) and drop this network; for the lease, set dhcp_client: true on this network (the"
        " collection's client asks for it on the bridge) and stop the NIC's own client without releasing the lease"
        " (dhclient -x eth1), then rerun"]


def test_managers_of_a_macvtap_parent_name_the_link_and_only_leaving_the_nic_alone(tmp_path):
    root = _root(tmp_path, {"etc/network/interfaces": "iface eth1 inet static\n  address 192.0.2.10/24\n",
                            "run/systemd/netif/links/2": "ADMIN_STATE=configured\n",
                            "run/NetworkManager/devices/2": "[device]\nmanaged=true\n"})
    parent = dict(UPLINK, bridge="ethost", via="macvlan")
    msgs = _uplinkhost._managers(parent, "network 'lan'", 2, root)
    assert [m.split(" which ")[0] for m in msgs] == [
        "network 'lan': field 'link' 'eth1' is managed by NetworkManager (/run/NetworkManager/devices/2: managed=true),",
        "network 'lan': field 'link' 'eth1' is configured by systemd-networkd (/run/systemd/netif/links/2, state"
        " configured),",
        "network 'lan': field 'link' 'eth1' is configured by ifupdown (/etc/network/interfaces: 'iface eth1 inet"
        " static'),"]
    assert not [m for m in msgs if "bridge" in m]
    assert msgs[2].endswith("fight the macvlan; change that stanza to 'iface eth1 inet manual' (drop its address,"
                            " gateway and dhcp lines), then rerun")


# -- saved entries ------------------------------------------------------------------------------------------
def test_entries_round_trip_and_wanted(tmp_path):
    state_dir = str(tmp_path / "uplinks.d")
    _uplinkstate.save(state_dir, dict(ENTRY, committed="moved", pending=None))
    saved = _uplinkstate.load_all(state_dir)
    assert saved["br0"]["addresses"] == [A4, A4B, A6]
    assert oct((tmp_path / "uplinks.d" / "br0.json").stat().st_mode & 0o777) == "0o600"
    assert json.loads((tmp_path / "uplinks.d" / "br0.json").read_text())["committed"] == "moved"
    assert _uplink._wanted([], saved, purge=True) == {
        "br0": {"name": "br0", "bridge": "br0", "nic": "eth1", "state": "absent", "via": "bridge", "dhcp": None,
                "route_metric": None}}
    with pytest.raises(HostnetError, match="it holds NIC 'eth1'"):
        _uplink._wanted([{"bridge": "br0", "nic": "eth2", "state": "present"}], saved, purge=False)
    _uplinkstate.remove(state_dir, "br0")
    assert _uplinkstate.load_all(state_dir) == {}


@pytest.mark.parametrize("text, message", [
    ('{"kind": "container"}', "(no 'bridge', 'nic', 'addresses', 'routes'); move it out of "),
    ('[1, 2]', "(no 'bridge', 'nic', 'addresses', 'routes'); move it out of "),
    ('{"bridge": "br0", "nic": "eth1", "addresses": "10.0.0.2/24", "routes": []}', "(no 'addresses'); move it out of "),
    ('{"bridge": "br9", "nic": "eth1", "addresses": [], "routes": []}', "is the entry of bridge 'br9', not of 'br0';"
     " rename it to br9.json or remove it"),
])
def test_a_foreign_file_in_the_state_dir_is_refused_by_name(tmp_path, text, message):
    (tmp_path / "br0.json").write_text(text)
    with pytest.raises(HostnetError) as info:
        _uplinkstate.load_all(str(tmp_path))
    assert str(info.value).startswith("uplink: %s is " % (tmp_path / "br0.json"))
    assert message in str(info.value)


# -- via macvlan: a macvtap network's host interface takes its parent's addresses over ----------------------------
MV_ENTRY = dict(ENTRY, bridge="mvh0", via="macvlan")


def live_mv(macvlan=True, on_nic=(), on_mv=(), routes_nic=(), routes_mv=(), parent="eth1"):
    links = {"eth1": {"index": 2, "kind": "physical", "up": True, "mac": MAC, "master": None}}
    if macvlan:
        links["mvh0"] = {"index": 4, "kind": "macvlan", "up": True, "mac": "52:54:00:aa:bb:99", "master": None,
                         "link": parent}
    return {"links": links, "addresses": {"eth1": [dict(a, permanent=True) for a in on_nic],
                                          "mvh0": [dict(a, permanent=True) for a in on_mv]},
            "routes": {"eth1": list(routes_nic), "mvh0": list(routes_mv)}, "multipath": {}}


def test_via_macvlan_moves_addresses_and_routes_and_leaves_the_nic_in_no_bridge():
    before = live_mv(on_nic=[A4, A6], routes_nic=[DEFAULT])
    assert kinds(_uplinkplan.plan(MV_ENTRY, _uplinkplan.MOVED, before)) == [
        "del route default via 192.0.2.1 on interface 'eth1'", "del address 2001:db8::10/64 on interface 'eth1'",
        "del address 192.0.2.10/24 on interface 'eth1'",
        "add address 192.0.2.10/24 on macvlan 'mvh0'", "add address 192.0.2.11/24 on macvlan 'mvh0'",
        "add address 2001:db8::10/64 on macvlan 'mvh0'",
        "add route 198.51.100.0/24 metric 10 on macvlan 'mvh0'", "add route default via 192.0.2.1 on macvlan 'mvh0'"]
    assert not _uplinkplan.is_moved(MV_ENTRY, before)
    moved = live_mv(on_mv=[A4, A4B, A6], routes_mv=[DEFAULT, ONLINK])
    assert _uplinkplan.plan(MV_ENTRY, _uplinkplan.MOVED, moved) == [] and _uplinkplan.is_moved(MV_ENTRY, moved)
    # back: the addresses and routes return to the NIC; the macvlan is its network's and stays, even when asked
    back = kinds(_uplinkplan.plan(MV_ENTRY, _uplinkplan.ORIGINAL, moved, delete_bridge=False))
    assert back[:5] == ["del route default via 192.0.2.1 on macvlan 'mvh0'", "del route 198.51.100.0/24 metric 10 on macvlan 'mvh0'",
                        "del address 2001:db8::10/64 on macvlan 'mvh0'", "del address 192.0.2.11/24 on macvlan 'mvh0'",
                        "del address 192.0.2.10/24 on macvlan 'mvh0'"]
    assert not [line for line in back if "delete" in line or "master" in line]
    # a missing macvlan (check mode before the engine made it) is planned with its parent
    assert kinds(_uplinkplan.plan(MV_ENTRY, _uplinkplan.MOVED, live_mv(macvlan=False, on_nic=[A4])))[:2] == [
        "create macvlan 'mvh0' on 'eth1'", "set macvlan 'mvh0': up=True"]
    view = _uplinkplan.view(MV_ENTRY, before)
    after = _uplinkplan.project(MV_ENTRY, _uplinkplan.MOVED, view)
    assert after["nic"]["master"] is None and after["nic"]["addresses"] == [] and after["bridge"]["mac"] == view["bridge"]["mac"]
    assert after["bridge"]["addresses"] == ["192.0.2.10/24", "192.0.2.11/24", "2001:db8::10/64"]


def test_via_macvlan_refuses_a_macvlan_on_another_parent():
    with pytest.raises(HostnetError, match="the macvlan 'mvh0' sits on 'eth7', not on 'eth1'"):
        _uplinkplan.plan(MV_ENTRY, _uplinkplan.MOVED, live_mv(parent="eth7", on_nic=[A4]))
