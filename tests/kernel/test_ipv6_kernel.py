# -*- coding: utf-8 -*-
"""IPv6 on managed networks (issue 13, section 4), against the real kernel in throwaway namespaces.

H (the test's namespace) has a nat network with NAT66 (bridge hq6nat0, guest namespace g) and a routed one (hq6rt0,
guest r), both out by the uplink hq6wan0 to the "outside" (2001:db8:ff::2, which routes fd00:66::/64 to H and has
no route to the nat prefix), and two namespaces p1, p2 that H already routes between for IPv6 (force_forwarding
set by hand). The real nft_networks module renders the table and records the uplink; the real boot CLI makes the
bridges and switches IPv6 forwarding on per interface. Reachability is read with ping and a TCP server that prints
its peer's address, from the namespaces.
"""

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest

from conftest import COLLECTIONS, boot_networks, nft_networks, sh, throwaway_netns

NAT = {"name": "nat6", "kind": "nat", "bridge": "hq6nat0", "address": "192.168.78.1/24", "uplink": "hq6wan0",
       "ipv6": {"address": "fd00:77::1/64"}}
ROUTED = {"name": "rt6", "kind": "routed", "bridge": "hq6rt0", "address": "10.78.0.1/24", "uplink": "hq6wan0",
          "ipv6": {"address": "fd00:66::1/64"}}
# role, host side interface, host address, namespace address, routes in the namespace (via the host's address)
PEERS = (("out", "hq6wan0", "2001:db8:ff::1/64", "2001:db8:ff::2/64", ["fd00:66::/64", "fd00:81::/32"]),
         ("p1", "hq6p1", "fd00:81:1::1/64", "fd00:81:1::2/64", ["default"]),
         ("p2", "hq6p2", "fd00:81:2::1/64", "fd00:81:2::2/64", ["default"]),
         ("g", "hq6g0", None, "fd00:77::11/64", ["default via fd00:77::1"]),
         ("r", "hq6r0", None, "fd00:66::11/64", ["default via fd00:66::1"]))
GUEST_BRIDGE = {"hq6g0": "hq6nat0", "hq6r0": "hq6rt0"}


@pytest.fixture
def lab(netns):
    with ExitStack() as stack:
        names = {"H": netns}
        sh("sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0", netns=netns)
        for role, host_if, host_addr, addr, routes in PEERS:
            names[role] = ns = stack.enter_context(throwaway_netns())
            sh("ip", "-n", netns, "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
            if host_addr:
                sh("ip", "-n", netns, "addr", "add", host_addr, "dev", host_if, "nodad")
            sh("ip", "-n", netns, "link", "set", host_if, "up")
            sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            for route in routes:
                via = [] if " via " in route else ["via", host_addr.partition("/")[0]]
                sh(*(["ip", "-n", ns, "-6", "route", "add"] + route.split() + via))
        for host_if in ("hq6p1", "hq6p2"):  # the user's own IPv6 router between p1 and p2
            sh("sysctl", "-qw", "net.ipv6.conf.%s.force_forwarding=1" % host_if, netns=netns)
        yield names


def reach(names, src, dst):
    for _attempt in range(4):  # the bridges' addresses leave duplicate address detection within a second or two
        if sh("ping", "-6", "-c1", "-W1", "-n", dst, netns=names[src], check=False).returncode == 0:
            return True
    return False


def peer_address(names, server, address, client):
    """The source address a TCP server in `server` sees when `client` connects to `address`."""
    code = ("import socket, sys\ns = socket.socket(socket.AF_INET6)\ns.setsockopt(socket.SOL_SOCKET, "
            "socket.SO_REUSEADDR, 1)\ns.bind((sys.argv[1], 8086)); s.listen(1); s.settimeout(10)\n"
            "c, peer = s.accept(); c.sendall(peer[0].encode()); c.close()")
    with ExitStack() as stack:
        proc = stack.enter_context(subprocess.Popen(
            ["ip", "netns", "exec", names[server], sys.executable, "-c", code, address]))
        for _attempt in range(50):
            if ":8086" in sh("ss", "-6ltn", netns=names[server]).stdout:
                break
            time.sleep(0.1)
        got = sh(sys.executable, "-c", "import socket, sys\nprint(socket.create_connection((sys.argv[1], 8086), "
                 "timeout=5).recv(64).decode())", address, netns=names[client], check=False)
        proc.wait(timeout=15)
    return got.stdout.strip()


def boot(tmp_path, netns):
    boot_networks(tmp_path, netns)
    for port, bridge in GUEST_BRIDGE.items():
        sh("ip", "-n", netns, "link", "set", port, "master", bridge)


def sysctl(netns, key):
    return sh("sysctl", "-n", key, netns=netns).stdout.strip()


@pytest.mark.parametrize("ipv4_before", ["0", "1"], ids=["uplink-not-a-router", "uplink-routes-ipv4-only"])
def test_nat66_and_routed_ipv6_forward_for_their_guests_and_nothing_new(tmp_path, lab, ipv4_before):
    host = lab["H"]
    # an uplink that already forwarded IPv4 (but not IPv6) has no IPv4 guard: the IPv6 one must stand alone
    sh("sysctl", "-qw", "net.ipv4.conf.hq6wan0.forwarding=%s" % ipv4_before, netns=host)
    assert reach(lab, "p1", "fd00:81:2::2") and not reach(lab, "out", "fd00:81:1::2")  # the user's own routing
    result = nft_networks(tmp_path, host, [NAT, ROUTED])
    assert {k: v for k, v in result["sysctls"].items() if "force_forwarding" in k} == {
        "net/ipv6/conf/hq6nat0/force_forwarding": "1", "net/ipv6/conf/hq6rt0/force_forwarding": "1",
        "net/ipv6/conf/hq6wan0/force_forwarding": "1"}
    assert result["sysctls"]["net/ipv6/conf/hq6nat0/accept_ra"] == "0"  # the host is no guest of its own dnsmasq
    saved = json.loads((tmp_path / "etc" / "netdevs.json").read_text())
    assert saved["forwarding_before"] == {"hq6wan0": ipv4_before, "ipv6/hq6wan0": "0"}
    boot(tmp_path, host)
    assert sysctl(host, "net.ipv6.conf.all.forwarding") == "0"
    # NAT66: the outside has no route to fd00:77::/64, so only masqueraded replies come back; it sees the uplink
    assert reach(lab, "g", "2001:db8:ff::2")
    assert peer_address(lab, "out", "2001:db8:ff::2", "g") == "2001:db8:ff::1"
    # routed: both ways with the real addresses
    assert peer_address(lab, "r", "fd00:66::11", "out") == "2001:db8:ff::2"
    assert peer_address(lab, "out", "2001:db8:ff::2", "r") == "fd00:66::11"
    # nothing new: the outside still reaches neither p1 nor the nat guest; p1 and p2 still reach each other
    assert not reach(lab, "out", "fd00:81:1::2") and not reach(lab, "out", "fd00:77::11")
    assert reach(lab, "p1", "fd00:81:2::2")
    table = sh("nft", "list", "table", "inet", "hostnet_qemu", netns=host).stdout
    assert 'oifname "hq6wan0" ip6 saddr fd00:77::/64' in table and "masquerade" in table
    assert "fd00:66::/64" not in table.split("postrouting")[-1]  # the routed prefix is not masqueraded
    # the networks go: the uplink gets its IPv6 value back (the networks module's first step)
    code = ("import json\nfrom ansible_collections.hostnet.qemu.plugins.module_utils import _forwarding\n"
            "r = _forwarding.plan([], %r)\n_forwarding.apply_restore(r)\nprint(json.dumps(r['restore']))"
            % str(tmp_path / "etc" / "netdevs.json"))
    restored = sh(sys.executable, "-c", code, netns=host, env=dict(os.environ, PYTHONPATH=COLLECTIONS)).stdout
    assert json.loads(restored) == dict({"net/ipv6/conf/hq6wan0/force_forwarding": "0"},
                                        **({"net/ipv4/conf/hq6wan0/forwarding": "0"} if ipv4_before == "0" else {}))
    assert sysctl(host, "net.ipv6.conf.hq6wan0.force_forwarding") == "0"


def test_guest_ports_hold_ipv6_to_the_prefix_and_refuse_router_advertisements(tmp_path, lab):
    host = lab["H"]
    mac = json.loads(sh("ip", "-n", lab["r"], "-j", "link", "show", "eth0").stdout)[0]["address"]
    nft_networks(tmp_path, host, [NAT, ROUTED], ports=[{"ifname": "hq6r0", "mac": mac, "network": "rt6"}])
    boot(tmp_path, host)
    assert reach(lab, "r", "fd00:66::1")
    sh("ip", "-n", lab["r"], "addr", "add", "fd00:99::5/128", "dev", "eth0", "nodad")
    assert sh("ping", "-6", "-c1", "-W1", "-I", "fd00:99::5", "fd00:66::1", netns=lab["r"], check=False).returncode != 0
    chain = sh("nft", "list", "chain", "bridge", "hostnet_qemu", "port0", netns=host).stdout
    assert "nd-router-advert" in chain and "fd00:66::/64" in chain


_LISTEN = r"""
import select, socket, struct, sys
raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
udp.bind(("::", 546))
print("ready", flush=True)
got = set()
while True:
    ready, _, _ = select.select([raw, udp], [], [], 4)
    if not ready:
        break
    for s in ready:
        data = s.recv(2048)
        if s is raw and data[0] == 134:
            got.add("ra")
        elif s is udp and data == b"hostnet-dhcpv6-reply":
            got.add("dhcpv6")
print(" ".join(sorted(got)) or "nothing", flush=True)
"""

_SEND = r"""
import socket, struct
index = socket.if_nametoindex("eth0")
raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
raw.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp.bind(("::", 547))
for _ in range(3):
    # a router advertisement (type 134: hop limit 64, router lifetime 1800 s) and a DHCPv6 server's reply (547 -> 546)
    raw.sendto(struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0), ("ff02::1", 0, 0, index))
    udp.sendto(b"hostnet-dhcpv6-reply", ("ff02::1", 546, 0, index))
"""


def heard(lab, listener, sender):
    """What a guest namespace hears of a router advertisement and a DHCPv6 server reply that another one sends to
    all nodes of the segment: 'dhcpv6 ra', one of them, or 'nothing'."""
    proc = subprocess.Popen(["ip", "netns", "exec", lab[listener], sys.executable, "-c", _LISTEN],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        sh(sys.executable, "-c", _SEND, netns=lab[sender])
        return proc.stdout.readline().strip()
    finally:
        proc.wait(timeout=15)


def test_a_guest_port_drops_the_guests_router_advertisements_and_dhcpv6_replies(tmp_path, lab):
    """The RA guard with real packets: r's port is held (anti-spoofing), w's is not; both on the routed bridge."""
    host = lab["H"]
    with throwaway_netns() as w:
        lab = dict(lab, w=w)
        sh("ip", "-n", host, "link", "add", "hq6w0", "type", "veth", "peer", "name", "eth0", "netns", w)
        sh("ip", "-n", w, "link", "set", "eth0", "up")
        sh("ip", "-n", host, "link", "set", "hq6w0", "up")
        mac = json.loads(sh("ip", "-n", lab["r"], "-j", "link", "show", "eth0").stdout)[0]["address"]
        nft_networks(tmp_path, host, [NAT, ROUTED], ports=[{"ifname": "hq6r0", "mac": mac, "network": "rt6"}])
        boot(tmp_path, host)
        sh("ip", "-n", host, "link", "set", "hq6w0", "master", "hq6rt0")
        assert reach(lab, "r", "fd00:66::1")  # r's port passes its ordinary traffic
        for _attempt in range(20):  # both link-local addresses out of duplicate address detection
            if "tentative" not in sh("ip", "-n", w, "-6", "addr", "show", "dev", "eth0").stdout + \
                    sh("ip", "-n", lab["r"], "-6", "addr", "show", "dev", "eth0").stdout:
                break
            time.sleep(0.5)
        assert heard(lab, "r", "w") == "dhcpv6 ra"  # w is no guest the table holds: r hears both from it
        assert heard(lab, "w", "r") == "nothing"  # r's port drops both


def test_proxy_ndp_lets_the_lan_reach_a_guests_address_of_its_own_prefix_and_the_uplink_keeps_its_router(
        tmp_path, lab):
    """r holds 2001:db8:ff::66, an address of the uplink's LAN, which the outside finds on its link through the host's
    proxy NDP entry; the uplink, a router now (conf/IF/forwarding, which proxy NDP needs), still takes the LAN's
    router advertisements (accept_ra 2); everything is written back when the route goes."""
    host, keys = lab["H"], ("accept_ra", "forwarding", "proxy_ndp")
    routed = dict(ROUTED, routes=[{"to": "2001:db8:ff::66/128", "via": "fd00:66::11", "proxy_arp": True}])
    sh("ip", "-n", lab["r"], "addr", "add", "2001:db8:ff::66/128", "dev", "eth0", "nodad")
    assert [sysctl(host, "net.ipv6.conf.hq6wan0.%s" % k) for k in keys] == ["1", "0", "0"]
    result = nft_networks(tmp_path, host, [NAT, routed])
    assert dict((k, result["sysctls"].get("net/ipv6/conf/hq6wan0/%s" % k)) for k in keys) == {
        "accept_ra": "2", "forwarding": "1", "proxy_ndp": "1"}
    assert not reach(lab, "out", "2001:db8:ff::66")  # no entry and no switch yet: nobody answers for it
    boot(tmp_path, host)
    assert [sysctl(host, "net.ipv6.conf.hq6wan0.%s" % k) for k in keys] == ["2", "1", "1"]
    assert sh("ip", "-n", host, "-6", "neigh", "show", "proxy").stdout.split() == [
        "2001:db8:ff::66", "dev", "hq6wan0", "proxy", "proto", "74"]
    assert reach(lab, "out", "2001:db8:ff::66")
    assert peer_address(lab, "r", "2001:db8:ff::66", "out") == "2001:db8:ff::2"  # routed: the real source
    # the LAN's router advertisement still gives the host its default route on the uplink
    for _attempt in range(20):
        if "tentative" not in sh("ip", "-n", lab["out"], "-6", "addr", "show", "dev", "eth0").stdout:
            break
        time.sleep(0.5)
    sh(sys.executable, "-c", _SEND, netns=lab["out"])
    for _attempt in range(10):
        if sh("ip", "-n", host, "-6", "route", "show", "default", "dev", "hq6wan0", "proto", "ra").stdout.strip():
            break
        time.sleep(0.3)
    else:
        pytest.fail("the uplink took no default route from the LAN's router advertisement")
    # the route goes (the network stays): the three switches get their values back
    code = ("import json\nfrom ansible_collections.hostnet.qemu.plugins.module_utils import _forwarding, _nftnet\n"
            "r = _forwarding.plan(_nftnet.normalise(%r), %r)\n_forwarding.apply_restore(r)\nprint(json.dumps(r['restore']))"
            % ([NAT, ROUTED], str(tmp_path / "etc" / "netdevs.json")))
    restored = sh(sys.executable, "-c", code, netns=host, env=dict(os.environ, PYTHONPATH=COLLECTIONS)).stdout
    assert json.loads(restored) == {"net/ipv6/conf/hq6wan0/accept_ra": "1", "net/ipv6/conf/hq6wan0/forwarding": "0",
                                    "net/ipv6/conf/hq6wan0/proxy_ndp": "0"}
    assert [sysctl(host, "net.ipv6.conf.hq6wan0.%s" % k) for k in keys] == ["1", "0", "0"]
