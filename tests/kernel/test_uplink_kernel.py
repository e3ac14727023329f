# -*- coding: utf-8 -*-
"""Uplink networks against the real kernel, in throwaway namespaces.

The "host" is the test namespace with a veth "NIC" nic0 (10.77.0.2/24 + a secondary, 2001:db8:77::2/64, a default
route via the peer, a route with a metric); the "LAN" is a second namespace holding the peer 10.77.0.1 (and
203.0.113.1 behind it). Results are read back with `ip -d -j link`, `ip -j addr` and `ip -j route` and proven with
real ICMP; the jobs run through the boot CLI the systemd units run, installed as the networks module installs it
(_bootfiles). The
systemd side (transient timer, confirm, boot unit) is proven in the molecule scenario `network`.
"""

import json
import os
import subprocess
import sys
import uuid

import pytest

from conftest import links, ping, run_tasks, sh, snapshot, throwaway_netns
from ansible_collections.hostnet.qemu.plugins.module_utils import _nftnet, _uplinkhost, _uplinkplan, _uplinkstate
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel


def addrs(netns, dev):
    """Global addresses of dev as ip/len, from `ip -j addr`."""
    out = json.loads(sh("ip", "-n", netns, "-j", "addr", "show", "dev", dev).stdout)
    return sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in out[0]["addr_info"] if a["scope"] != "link")


def routes(netns, family="-4"):
    """Routes of the main table from `ip -j route`, minus kernel-made ones, as comparable tuples."""
    out = json.loads(sh("ip", "-n", netns, family, "-j", "route", "show").stdout)
    return sorted((r["dst"], r.get("gateway"), r["dev"], r.get("metric")) for r in out if r.get("protocol") != "kernel")


def nic_state(netns):
    """What the NIC has on its own: addresses and routes (compared before/after)."""
    return {"addrs": addrs(netns, "nic0"), "v4": routes(netns), "v6": routes(netns, "-6")}


@pytest.fixture
def lan(netns):
    """(host namespace, LAN namespace): nic0 in the host with addresses and routes, its peer in the LAN."""
    peer = "hnt-" + uuid.uuid4().hex[:8]
    sh("ip", "netns", "add", peer)
    try:
        sh("ip", "-n", peer, "link", "set", "lo", "up")
        sh("ip", "-n", netns, "link", "add", "nic0", "type", "veth", "peer", "name", "peer0", "netns", peer)
        for args in (["addr", "add", "10.77.0.2/24", "brd", "+", "dev", "nic0"],
                     ["addr", "add", "10.77.0.3/24", "dev", "nic0"],
                     ["addr", "add", "2001:db8:77::2/64", "dev", "nic0", "nodad"],
                     ["link", "set", "nic0", "up"]):
            sh("ip", "-n", netns, *args)
        for args in (["addr", "add", "10.77.0.1/24", "dev", "peer0"],
                     ["addr", "add", "2001:db8:77::1/64", "dev", "peer0", "nodad"],
                     ["addr", "add", "203.0.113.1/32", "dev", "lo"],
                     ["link", "set", "peer0", "up"]):
            sh("ip", "-n", peer, *args)
        sh("ip", "-n", netns, "route", "add", "default", "via", "10.77.0.1", "dev", "nic0")
        sh("ip", "-n", netns, "route", "add", "203.0.113.0/24", "via", "10.77.0.1", "dev", "nic0", "metric", "50")
        sh("ip", "-n", netns, "-6", "route", "add", "default", "via", "2001:db8:77::1", "dev", "nic0")
        assert ping(netns, "203.0.113.1")
        yield netns, peer
    finally:
        sh("ip", "netns", "del", peer, check=False)


def entry_of(netns, bridge="br0"):
    with Kernel(netns) as kernel:
        live = _uplinkhost.read(kernel)
    return {"bridge": bridge, "nic": "nic0", "mac": live["links"]["nic0"]["mac"],
            "addresses": _uplinkplan.movable_addresses(live, "nic0"), "routes": _uplinkplan.movable_routes(live, "nic0")}


def job(cli, netns, command, state_dir, tmp_path):
    """Run one uplink job exactly as the transient units do (the installed CLI), inside the test namespace."""
    result = str(tmp_path / ("result-%s.json" % uuid.uuid4().hex[:6]))
    proc = sh(sys.executable, cli, command, state_dir, result,
              netns=netns, check=False)
    with open(result) as handle:
        return proc.returncode, json.load(handle)


def assert_moved(netns, original):
    link = links(netns)
    assert link["nic0"]["master"] == "br0" and link["nic0"]["linkinfo"]["info_slave_kind"] == "bridge"
    assert link["br0"]["linkinfo"]["info_kind"] == "bridge"
    assert link["br0"]["address"] == link["nic0"]["address"]  # the LAN keeps seeing the same MAC
    assert addrs(netns, "br0") == original["addrs"] and addrs(netns, "nic0") == []
    assert routes(netns) == [(dst, gw, "br0", metric) for dst, gw, _dev, metric in original["v4"]]
    assert routes(netns, "-6") == [(dst, gw, "br0", metric) for dst, gw, _dev, metric in original["v6"]]
    assert ("default", "10.77.0.1", "br0", None) in routes(netns)
    for ip in ("10.77.0.1", "203.0.113.1", "2001:db8:77::1"):
        assert ping(netns, ip), ip


def test_move_is_idempotent_and_rollback_restores_the_original(cli, lan, tmp_path):
    host, _peer = lan
    original = nic_state(host)
    assert original["addrs"] == ["10.77.0.2/24", "10.77.0.3/24", "2001:db8:77::2/64"]
    entry = entry_of(host)
    state_dir = str(tmp_path / "uplinks.d")
    _uplinkstate.save(state_dir, dict(entry, committed="original", pending="moved", bridge_existed=False))
    rc, result = job(cli, host, "uplink-apply", state_dir, tmp_path)
    assert rc == 0 and result["ok"], result
    assert "set interface 'nic0': master=br0" in result["lines"]
    assert_moved(host, original)
    assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host) == []  # a second run changes nothing
    # no confirm: the timer's job restores what was committed (the original) and forgets the entry
    rc, result = job(cli, host, "uplink-rollback", state_dir, tmp_path)
    assert rc == 0 and result["ok"], result
    assert "br0" not in links(host) and links(host)["nic0"].get("master") is None
    assert nic_state(host) == original
    assert _uplinkstate.load_all(state_dir) == {}
    for ip in ("10.77.0.1", "203.0.113.1", "2001:db8:77::1"):
        assert ping(host, ip), ip


def test_a_nic_configured_as_networkmanager_does_moves_with_its_own_prefix_route(lan):
    """NetworkManager's way: the address with noprefixroute, the prefix route added by itself (protocol kernel, its
    metric), the default route through the LAN's router with the same metric. Without the prefix route the bridge
    would have no way to the router (the move failed so, in a lab host running NetworkManager)."""
    host, _peer = lan
    sh("ip", "-n", host, "-4", "addr", "flush", "dev", "nic0", "scope", "global")
    sh("ip", "-n", host, "-4", "route", "flush", "dev", "nic0")
    sh("ip", "-n", host, "addr", "add", "10.77.0.2/24", "dev", "nic0", "noprefixroute")
    sh("ip", "-n", host, "route", "add", "10.77.0.0/24", "dev", "nic0", "proto", "kernel", "scope", "link",
       "src", "10.77.0.2", "metric", "980")
    sh("ip", "-n", host, "route", "add", "default", "via", "10.77.0.1", "dev", "nic0", "proto", "static",
       "metric", "980")

    def own(dev):  # every IPv4 route through dev, the kernel-protocol ones included
        out = json.loads(sh("ip", "-n", host, "-4", "-j", "route", "show", "dev", dev).stdout)
        return sorted((r["dst"], r.get("gateway"), r.get("protocol"), r.get("metric")) for r in out)

    before = own("nic0")
    assert ("10.77.0.0/24", None, "kernel", 980) in before and ("default", "10.77.0.1", "static", 980) in before
    entry = entry_of(host)
    _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host)
    assert own("br0") == before and own("nic0") == []
    assert ping(host, "10.77.0.1") and ping(host, "203.0.113.1")  # the router, and beyond it by the default route
    assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host) == []  # a second run changes nothing
    _uplinkhost.converge(entry, _uplinkplan.ORIGINAL, delete_bridge=True, netns=host)
    assert own("nic0") == before and "br0" not in links(host)
    assert ping(host, "10.77.0.1") and ping(host, "203.0.113.1")


def test_absent_gives_everything_back_and_boot_redoes_the_move(cli, lan, tmp_path):
    host, _peer = lan
    original = nic_state(host)
    entry = entry_of(host)
    state_dir = str(tmp_path / "uplinks.d")
    _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host)
    _uplinkstate.save(state_dir, dict(entry, committed="moved", pending=None, bridge_existed=False))
    # a reboot: the NIC comes up bare, no bridge; the boot unit's job puts everything back on the bridge
    sh("ip", "-n", host, "link", "del", "br0")
    sh("ip", "-n", host, "addr", "flush", "dev", "nic0", "scope", "global")
    rc, result = job(cli, host, "uplink-boot", state_dir, tmp_path)
    assert rc == 0 and result["ok"], result
    assert_moved(host, original)
    # teardown: pending original with the bridge deleted
    _uplinkstate.save(state_dir, dict(entry, committed="moved", pending="original", delete_bridge=True))
    rc, result = job(cli, host, "uplink-apply", state_dir, tmp_path)
    assert rc == 0 and result["ok"], result
    assert "delete bridge 'br0'" in result["lines"]
    assert "br0" not in links(host) and nic_state(host) == original
    assert ping(host, "203.0.113.1") and ping(host, "2001:db8:77::1")


def test_unconfirmed_move_is_rolled_back_at_boot_and_a_failed_move_at_once(cli, lan, tmp_path):
    host, _peer = lan
    original = nic_state(host)
    entry = entry_of(host)
    state_dir = str(tmp_path / "uplinks.d")
    _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host)
    _uplinkstate.save(state_dir, dict(entry, committed="original", pending="moved", bridge_existed=True))
    rc, result = job(cli, host, "uplink-boot", state_dir, tmp_path)
    assert rc == 0 and result["ok"]
    assert nic_state(host) == original and "br0" in links(host)  # the bridge existed before: kept, empty
    assert links(host)["nic0"].get("master") is None and _uplinkstate.load_all(state_dir) == {}
    # a move that cannot finish (a route whose gateway is unreachable) is rolled back at once, as far as it can be:
    # everything but that route is given back, and the error says so
    bad = dict(entry, routes=entry["routes"] + [dict(entry["routes"][0], dst="198.18.0.0/24", gateway="192.0.2.99")])
    _uplinkstate.save(state_dir, dict(bad, committed="original", pending="moved", bridge_existed=True))
    rc, result = job(cli, host, "uplink-apply", state_dir, tmp_path)
    assert rc == 1 and not result["ok"]
    assert result["error"].startswith("interface 'br0': add route 198.18.0.0/24 via 192.0.2.99 failed"), result
    assert "; rolled back at once, except: interface 'nic0': add route 198.18.0.0/24 via 192.0.2.99 failed" \
        in result["error"]
    assert nic_state(host) == original and links(host)["nic0"].get("master") is None
    assert ping(host, "203.0.113.1")


def test_preflight_refuses_bad_input_and_changes_nothing(lan, tmp_path):
    host, _peer = lan
    sh("ip", "-n", host, "link", "add", "other0", "type", "bridge")
    before = snapshot(host)
    lan_net = {"name": "lan", "kind": "uplink", "bridge": "br0", "uplink": "nic0"}
    cases = [
        ([dict(lan_net, uplink="eth9")], "network 'lan': field 'uplink' 'eth9' does not exist on this host;"
                                         " give an existing interface (found: lo, nic0, other0)"),
        ([dict(lan_net, uplink="br0")], "network 'lan': field 'uplink' 'br0' is the network's own bridge; give the"
                                        " NIC the bridge takes over (e.g. eth1), or another name in field 'bridge'"),
        ([lan_net, dict(lan_net, name="lan2", bridge="br1")],
         "network 'lan2': field 'uplink' 'nic0' is already the uplink of network 'lan'; a NIC can be the port of one"
         " bridge only: give each uplink network its own NIC"),
    ]
    tasks = [("case %d" % i, {"networks": nets, "validate_only": True}) for i, (nets, _msg) in enumerate(cases)]
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", tasks, in_netns=host)
    for i, (_nets, msg) in enumerate(cases):
        assert results["case %d" % i]["failed"] and msg in results["case %d" % i]["msg"], results["case %d" % i]
    assert snapshot(host) == before
    # enslaved to another master; a dynamic (DHCP-like) address: the host's own facts, also refused (pure reads)
    sh("ip", "-n", host, "link", "set", "nic0", "master", "other0")
    before = snapshot(host)
    tasks = [("enslaved", {"networks": [lan_net], "validate_only": True})]
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", tasks, in_netns=host)
    assert results["enslaved"]["msg"] == (
        "invalid hostnet_network_networks: network 'lan': field 'uplink' 'nic0' is already a port of 'other0', not of"
        " this network's bridge 'br0'; release it first (ip link set nic0 nomaster) or give bridge: other0")
    assert snapshot(host) == before
    sh("ip", "-n", host, "link", "set", "nic0", "nomaster")
    sh("ip", "-n", host, "addr", "add", "10.77.0.9/24", "dev", "nic0", "valid_lft", "300", "preferred_lft", "300")
    before = snapshot(host)
    msgs = _uplinkhost.check_host(_nftnet.uplinks([lan_net]), netns=host)
    assert len(msgs) == 1 and msgs[0].startswith(
        "network 'lan': field 'uplink' 'nic0' has the dynamic address 10.77.0.9/24 (a DHCP lease, ")
    assert "give nic0 a static address, or run the DHCP client on bridge 'br0' yourself, then rerun" in msgs[0]
    assert snapshot(host) == before


def test_module_check_mode_shows_the_move_and_changes_nothing(lan, tmp_path):
    host, _peer = lan
    before = snapshot(host)
    routes_before = (routes(host), routes(host, "-6"))
    args = {"uplinks": [{"bridge": "br0", "nic": "nic0"}], "state_dir": str(tmp_path / "uplinks.d"),
            "runner": "/nonexistent"}
    rc, results = run_tasks(tmp_path, "hostnet.qemu.uplink", [("plan", args)], check=True, in_netns=host)
    res = results["plan"]
    assert not res.get("failed"), res
    assert res["changed"] and not res["armed"]
    assert res["uplinks"] == {"br0": {"nic": "nic0", "status": "moving"}}
    assert "set interface 'nic0': master=br0" in res["plan"] and "add route default via 10.77.0.1 on bridge 'br0'" in res["plan"]
    diff = res["diff"]
    assert diff["before"]["br0"]["bridge"] is None
    assert diff["after"]["br0"]["bridge"]["addresses"] == ["10.77.0.2/24", "10.77.0.3/24", "2001:db8:77::2/64"]
    assert diff["after"]["br0"]["nic"]["master"] == "br0" and diff["after"]["br0"]["nic"]["addresses"] == []
    assert snapshot(host) == before and (routes(host), routes(host, "-6")) == routes_before
    assert not os.path.exists(args["state_dir"])
    # once moved and saved, the module sees nothing to do
    entry = entry_of(host)
    _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host)
    _uplinkstate.save(args["state_dir"], dict(entry, committed="moved", pending=None, bridge_existed=False))
    rc, results = run_tasks(tmp_path, "hostnet.qemu.uplink", [("again", args)], in_netns=host)
    assert not results["again"]["changed"] and results["again"]["uplinks"]["br0"]["status"] == "moved"


_SERVER = r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("10.77.0.2", 7777)); srv.listen(1)
print("listening", flush=True)
conn, _peer = srv.accept()
while True:
    data = conn.recv(64)
    if not data:
        break
    conn.sendall(data)
"""

_CLIENT = r"""
import socket, sys
sock = socket.create_connection(("10.77.0.2", 7777), timeout=10)
for line in sys.stdin:
    sock.sendall(line.encode())
    print(sock.recv(64).decode().strip(), flush=True)
"""


def test_an_established_connection_survives_the_move(cli, lan, tmp_path):
    """The LAN keeps its TCP connection to the host's address across the move (same IP, same MAC)."""
    host, peer = lan
    server = subprocess.Popen(["ip", "netns", "exec", host, sys.executable, "-c", _SERVER],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "listening"
        client = subprocess.Popen(["ip", "netns", "exec", peer, sys.executable, "-c", _CLIENT],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            client.stdin.write("before\n")
            client.stdin.flush()
            assert client.stdout.readline().strip() == "before"
            state_dir = str(tmp_path / "uplinks.d")
            _uplinkstate.save(state_dir, dict(entry_of(host), committed="original", pending="moved", bridge_existed=False))
            rc, result = job(cli, host, "uplink-apply", state_dir, tmp_path)
            assert rc == 0 and result["ok"] and links(host)["nic0"]["master"] == "br0"
            client.stdin.write("after\n")
            client.stdin.flush()
            assert client.stdout.readline().strip() == "after"  # the same connection, now through the bridge
        finally:
            client.kill()
            client.wait()
    finally:
        server.kill()
        server.wait()


def test_via_macvlan_the_host_reaches_a_macvlan_guest_on_its_nic_once_its_addresses_moved(cli, lan, tmp_path):
    """A macvtap network's takeover: nic0's addresses and routes move to the host's macvlan on it, as an uplink's do
    to a bridge. A macvlan in bridge mode in another namespace stands for the macvtap guest (a macvtap is a macvlan
    with a character device)."""
    host, _peer = lan
    original = nic_state(host)
    with throwaway_netns() as guest:
        sh("ip", "-n", host, "link", "add", "gst0", "link", "nic0", "type", "macvlan", "mode", "bridge")
        sh("ip", "-n", host, "link", "set", "gst0", "netns", guest)
        sh("ip", "-n", guest, "addr", "add", "10.77.0.50/24", "dev", "gst0")
        sh("ip", "-n", guest, "link", "set", "gst0", "up")
        assert ping(guest, "10.77.0.1")  # the guest is on the LAN
        assert not ping(host, "10.77.0.50")  # but the NIC's own traffic never reaches a macvlan on it
        entry = dict(entry_of(host, "mvh0"), via="macvlan")
        state_dir = str(tmp_path / "uplinks.d")
        _uplinkstate.save(state_dir, dict(entry, committed="original", pending="moved", bridge_existed=False))
        rc, result = job(cli, host, "uplink-apply", state_dir, tmp_path)
        assert rc == 0 and result["ok"], result
        assert result["lines"][:2] == ["create macvlan 'mvh0' on 'nic0'", "set macvlan 'mvh0': up=True"]
        link = links(host)
        assert link["mvh0"]["linkinfo"]["info_kind"] == "macvlan" and link["mvh0"]["link"] == "nic0"
        assert link["mvh0"]["linkinfo"]["info_data"]["mode"] == "bridge" and link["nic0"].get("master") is None
        assert link["mvh0"]["address"] != link["nic0"]["address"]  # a macvlan has its own MAC
        assert addrs(host, "mvh0") == original["addrs"] and addrs(host, "nic0") == []
        assert routes(host) == [(dst, gw, "mvh0", metric) for dst, gw, _dev, metric in original["v4"]]
        assert routes(host, "-6") == [(dst, gw, "mvh0", metric) for dst, gw, _dev, metric in original["v6"]]
        for ip in ("10.77.0.50", "10.77.0.1", "203.0.113.1", "2001:db8:77::1"):
            assert ping(host, ip), ip
        assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host) == []  # a second run changes nothing
        # no confirm: the timer's job gives the NIC its addresses back; the macvlan is its network's and stays
        rc, result = job(cli, host, "uplink-rollback", state_dir, tmp_path)
        assert rc == 0 and result["ok"], result
        assert nic_state(host) == original and addrs(host, "mvh0") == [] and "mvh0" in links(host)
        assert ping(host, "203.0.113.1") and not ping(host, "10.77.0.50")
        # committed as moved, then a boot: the NIC comes up with its addresses again (as the host's network
        # configuration gives them), the macvlan is made bare by the engine; the boot job moves them over again
        _uplinkstate.save(state_dir, dict(entry, committed="moved", pending=None, bridge_existed=True))
        rc, result = job(cli, host, "uplink-boot", state_dir, tmp_path)
        assert rc == 0 and result["ok"], result
        assert addrs(host, "mvh0") == original["addrs"] and addrs(host, "nic0") == []
        assert ping(host, "10.77.0.50") and ping(host, "203.0.113.1")
