# -*- coding: utf-8 -*-
"""Uplinks with a DHCP client, pure parts: the udhcpc events as kernel operations, the move and the rollback of
the lease, the network fields and their messages, the preflight's view of other DHCP clients (on a fake /proc).
The kernel side, with a real udhcpc and udhcpd, is tests/kernel/test_uplink_dhcp_kernel.py."""

import time

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcpclient, _nftnet, _planview, _uplink, _uplinkplan
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

MAC = "52:54:00:aa:bb:01"
STATIC6 = {"index": 2, "family": 6, "address": "2001:db8::10/64", "broadcast": None, "scope": 0, "flags": 128,
           "permanent": True, "valid_lft": None}
LEASE = {"index": 2, "family": 4, "address": "192.0.2.50/24", "broadcast": "192.0.2.255", "scope": 0, "flags": 0,
         "permanent": False, "valid_lft": 600}
STATIC4 = dict(LEASE, address="198.51.100.2/24", broadcast=None, flags=128, permanent=True, valid_lft=None)
ROUTER = {"family": 4, "dst": "0.0.0.0/0", "gateway": "192.0.2.1", "table": 254, "protocol": 16, "scope": 0,
          "type": 1, "metric": 900, "prefsrc": None, "onlink": False}
STATIC_ROUTE = dict(ROUTER, dst="203.0.113.0/24", protocol=3, metric=None)
ENV = {"interface": "br0", "ip": "192.0.2.50", "mask": "24", "lease": "600", "router": "192.0.2.1 192.0.2.2",
       _dhcpclient.METRIC_ENV: "900"}


def describe(ops):
    return [_planview.describe(op) for op in ops]


# -- udhcpc's events ----------------------------------------------------------------------------------------
def test_bound_puts_the_lease_with_its_lifetime_and_the_first_router_with_the_metric():
    ops = _dhcpclient.event_ops("bound", ENV, [], [])
    assert describe(ops) == ["add address 192.0.2.50/24 on bridge 'br0'", "add route default via 192.0.2.1 metric 900 on bridge 'br0'"]
    assert ops[0]["detail"] == {"family": 4, "address": "192.0.2.50/24", "scope": 0, "flags": 0,
                                "broadcast": "192.0.2.255", "lifetime": 600}
    assert ops[1]["detail"]["protocol"] == _dhcpclient.RTPROT_DHCP


def test_renew_refreshes_the_address_only_and_a_new_address_replaces_the_old_lease():
    assert describe(_dhcpclient.event_ops("renew", ENV, [LEASE], [ROUTER])) == ["add address 192.0.2.50/24 on bridge 'br0'"]
    moved = dict(ENV, ip="192.0.2.51", router="192.0.2.254")
    assert describe(_dhcpclient.event_ops("bound", moved, [LEASE, STATIC4], [ROUTER, STATIC_ROUTE])) == [
        "del address 192.0.2.50/24 on bridge 'br0'", "add address 192.0.2.51/24 on bridge 'br0'",
        "del route default via 192.0.2.1 metric 900 on bridge 'br0'", "add route default via 192.0.2.254 metric 900 on bridge 'br0'"]


def test_a_nak_removes_the_lease_and_its_routes_only_and_deconfig_leaves_them_to_their_lifetime():
    """udhcpc says deconfig when it starts (a restarted client would cut the bridge off until its lease comes) and
    when a lease ran out (the kernel has dropped the address by then, its lifetime being the lease's): the lease stays.
    A NAK is the server taking the address back: it goes, with its route."""
    assert describe(_dhcpclient.event_ops("nak", ENV, [LEASE, STATIC4, STATIC6], [ROUTER, STATIC_ROUTE])) == [
        "del route default via 192.0.2.1 metric 900 on bridge 'br0'", "del address 192.0.2.50/24 on bridge 'br0'"]
    assert _dhcpclient.event_ops("deconfig", ENV, [LEASE, STATIC4, STATIC6], [ROUTER, STATIC_ROUTE]) == []
    assert _dhcpclient.event_ops("leasefail", ENV, [LEASE], [ROUTER]) == []


def test_a_lease_without_router_lifetime_or_metric():
    ops = _dhcpclient.event_ops("bound", {"interface": "br0", "ip": "192.0.2.50", "mask": "31"}, [], [])
    assert describe(ops) == ["add address 192.0.2.50/31 on bridge 'br0'"]
    assert ops[0]["detail"]["broadcast"] is None and ops[0]["detail"]["lifetime"] == 0xFFFFFFFE  # never the kernel's "forever"


@pytest.mark.parametrize("env, message", [
    (dict(ENV, mask="255.255.255.0"), "uplink DHCP client on 'br0': the server's lease has no usable subnet mask"
                                      " ('255.255.255.0')"),
    (dict(ENV, ip="192.0.2.0"), "uplink DHCP client on 'br0': the lease's address '192.0.2.0'/24 is no IPv4 host"
                                " address"),
    (dict(ENV, ip="2001:db8::5"), "uplink DHCP client on 'br0': the lease's address '2001:db8::5'/24 is no IPv4 host"
                                  " address"),
    (dict(ENV, ip="192.0.2.50; rm -rf /"), "uplink DHCP client on 'br0': the lease's address '192.0.2.50; rm -rf /'/24"
                                           " is no IPv4 host address"),
])
def test_a_lease_the_host_cannot_use_is_refused_whole(env, message):
    with pytest.raises(HostnetError) as exc:
        _dhcpclient.event_ops("bound", env, [LEASE], [ROUTER])
    assert str(exc.value) == message


def test_routers_that_are_not_ipv4_addresses_are_skipped():
    ops = _dhcpclient.event_ops("bound", dict(ENV, router="2001:db8::1 10.0.0.0/8 192.0.2.9"), [], [])
    assert describe(ops)[-1] == "add route default via 192.0.2.9 metric 900 on bridge 'br0'"


def test_unit_names_escape_what_systemd_cannot_hold():
    assert _dhcpclient.unit("br0") == "hostnet-qemu-dhcp-br0.service"
    assert _dhcpclient.unit("br-lan@1") == "hostnet-qemu-dhcp-br\\x2dlan\\x401.service"


def test_foreign_clients_on_the_nic_but_not_ours_nor_other_nics(tmp_path):
    for pid, argv in ((101, ["/sbin/dhclient", "-4", "-v", "-pf", "/run/dhclient.eth1.pid", "eth1"]),
                      (102, ["busybox", "udhcpc", "-f", "-i", "eth1", "-s", "/usr/local/lib/hostnet-qemu/hostnet-qemu-network"]),
                      (103, ["/usr/sbin/dhcpcd", "eth2"]),
                      (104, ["/usr/bin/vim", "eth1"])):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (tmp_path / "self").mkdir()
    assert _dhcpclient.foreign_clients("eth1", str(tmp_path)) == [
        (101, "/sbin/dhclient -4 -v -pf /run/dhclient.eth1.pid eth1")]


# -- the move and its rollback -----------------------------------------------------------------------------------
ENTRY = {"bridge": "br0", "nic": "eth1", "mac": MAC, "dhcp": True, "addresses": [], "routes": []}


def live(on_nic=(), on_br=(), routes_nic=(), routes_br=(), moved=False):
    links = {"eth1": {"index": 2, "kind": "physical", "up": True, "mac": MAC, "master": "br0" if moved else None},
             "br0": {"index": 3, "kind": "bridge", "up": True, "mac": MAC, "master": None}}
    return {"links": links, "addresses": {"eth1": list(on_nic), "br0": list(on_br)},
            "routes": {"eth1": list(routes_nic), "br0": list(routes_br)}, "multipath": {}}


def test_only_static_addresses_and_ipv6_routes_move_with_a_dhcp_client():
    state = live(on_nic=[LEASE, STATIC4, STATIC6], routes_nic=[ROUTER, dict(ROUTER, family=6, dst="::/0", gateway="fe80::1")])
    assert [a["address"] for a in _uplinkplan.movable_addresses(state, "eth1", dhcp=True)] == [
        "198.51.100.2/24", "2001:db8::10/64"]
    assert [r["dst"] for r in _uplinkplan.movable_routes(state, "eth1", dhcp=True)] == ["::/0"]


def test_the_move_leaves_the_lease_behind_and_giving_back_carries_the_bridges_lease_over():
    before = live(on_nic=[LEASE], routes_nic=[ROUTER])
    entry = dict(ENTRY, lease=_uplinkplan.current_lease(before, "eth1"))
    assert describe(_uplinkplan.plan(entry, _uplinkplan.MOVED, before)) == [
        "del route default via 192.0.2.1 metric 900 on interface 'eth1'", "del address 192.0.2.50/24 on interface 'eth1'",
        "set interface 'eth1': master=br0"]
    moved = live(on_br=[dict(LEASE, index=3)], routes_br=[ROUTER], moved=True)
    assert _uplinkplan.plan(entry, _uplinkplan.MOVED, moved) == []
    back = _uplinkplan.plan(entry, _uplinkplan.ORIGINAL, moved, delete_bridge=True)
    assert describe(back) == [
        "del route default via 192.0.2.1 metric 900 on bridge 'br0'", "del address 192.0.2.50/24 on bridge 'br0'",
        "delete bridge 'br0'", "add address 192.0.2.50/24 on interface 'eth1'", "add route default via 192.0.2.1 metric 900 on interface 'eth1'"]
    assert 590 <= back[3]["detail"]["lifetime"] <= 600
    expired = dict(entry["lease"]["addresses"][0], valid_until=int(time.time()) - 1)
    run_out = dict(entry, lease=dict(entry["lease"], addresses=[expired]))
    lost = live(moved=True)  # the bridge holds no lease (its client never got one): the saved one, unless run out
    assert describe(_uplinkplan.plan(entry, _uplinkplan.ORIGINAL, lost, delete_bridge=True))[-2:] == [
        "add address 192.0.2.50/24 on interface 'eth1'", "add route default via 192.0.2.1 metric 900 on interface 'eth1'"]
    assert describe(_uplinkplan.plan(run_out, _uplinkplan.ORIGINAL, lost, delete_bridge=True)) == ["delete bridge 'br0'"]


def test_the_diff_shows_the_lease_apart():
    entry = dict(ENTRY, addresses=[STATIC6])
    before = _uplinkplan.view(entry, live(on_nic=[LEASE, STATIC6], routes_nic=[ROUTER]))
    assert before["nic"]["addresses"] == ["2001:db8::10/64"]
    assert before["nic"]["lease"] == ["192.0.2.50/24", "default via 192.0.2.1 metric 900"]
    after = _uplinkplan.project(entry, _uplinkplan.MOVED, before)
    assert after["nic"]["lease"] == [] and after["bridge"]["lease"] == ["asked for by the DHCP client"]
    assert after["bridge"]["addresses"] == ["2001:db8::10/64"]


def test_dhcp_cannot_change_while_the_nic_is_moved():
    saved = {"br0": {"bridge": "br0", "nic": "eth1", "dhcp": False, "committed": "moved"}}
    with pytest.raises(HostnetError) as exc:
        _uplink._wanted([{"name": "lan", "bridge": "br0", "nic": "eth1", "state": "present", "dhcp": True}], saved, False)
    assert str(exc.value) == (
        "uplink network on bridge 'br0': NIC 'eth1' was moved without a DHCP client; dhcp_client cannot change while"
        " the NIC is moved: give it back first (state: absent), then move it again")


# -- the network fields ------------------------------------------------------------------------------------------
LAN = {"name": "lan", "kind": "uplink", "bridge": "br0", "uplink": "eth1", "dhcp_client": True, "route_metric": 900}
NAT = {"name": "natnet", "kind": "nat", "address": "192.168.50.1/24", "uplink": "eth0"}


def test_a_dhcp_uplink_network_reaches_the_uplink_module():
    assert _nftnet.check([LAN]) == []
    assert _nftnet.uplinks([LAN]) == [{"name": "lan", "bridge": "br0", "nic": "eth1", "state": "present",
                                       "via": "bridge", "dhcp": True, "route_metric": 900, "vlans": []}]


@pytest.mark.parametrize("net, message", [
    (dict(NAT, dhcp_client=True), "network 'natnet': field 'dhcp_client' only applies to kind uplink (the DHCP client on"
                                  " the bridge that takes over the NIC); drop it"),
    (dict(NAT, route_metric=5), "network 'natnet': field 'route_metric' only applies to kind uplink (the DHCP client on"
                                " the bridge that takes over the NIC); drop it"),
    (dict(LAN, dhcp_client=False), "network 'lan': field 'route_metric' is the metric of the default route a DHCP lease"
                                   " gives; it needs dhcp_client: true (a NIC's own routes move with their metrics)"),
    (dict(LAN, route_metric=-1), "network 'lan': field 'route_metric' -1 is out of range; give 0 to 4294967295"),
    (dict(LAN, dhcp_client="maybe"), "network 'lan': dhcp_client: 'maybe' is not a boolean; use true or false"),
    (dict(LAN, route_metric=True), "network 'lan': route_metric: True is a boolean, not a whole number; give a whole"
                                   " number"),
])
def test_bad_dhcp_fields(net, message):
    assert _nftnet.check([net]) == [message]


def test_the_client_sends_the_hosts_short_name_only_when_it_is_a_dns_label():
    base = ["/bin/busybox", "udhcpc", "-f", "-C", "-i", "br0", "-s", "/x/hostnet-qemu-network", "-t", "4", "-T", "3",
            "-A", "10"]
    assert _dhcpclient.command("/bin/busybox", "br0", "/x/hostnet-qemu-network", "kvm1.lab.example") == base + [
        "-x", "hostname:kvm1"]
    for odd in ("", "-bad", "under_score", "x" * 64):
        assert _dhcpclient.command("/bin/busybox", "br0", "/x/hostnet-qemu-network", odd) == base
