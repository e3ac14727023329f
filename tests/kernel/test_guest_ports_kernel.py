# -*- coding: utf-8 -*-
"""Anti-spoofing on guest ports (issue 13, section 1), against the real kernel in throwaway namespaces.

The host H has an isolated network's bridge with three "guests", each a namespace on a veth whose host end is the
port (as a guest's tap is): A with a declared address, B leasing from the pool (held to the subnet), T trusted.
The real nft_networks module loads the table. Every verdict is read from the namespaces (ping, the host's neighbour
table), never from the module.
"""

import socket
import subprocess
import sys
import time
from contextlib import ExitStack

import pytest

from conftest import NA_SCRIPT, link_local, run_tasks, sh, throwaway_netns
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model, _validate

NET = {"name": "portnet", "kind": "isolated", "bridge": "hqpbr0", "address": "192.168.91.1/24"}
GUESTS = {  # role: port, MAC, IPv4, IPv6
    "A": ("hqpa", "52:54:00:91:00:0a", "192.168.91.10", "2001:db8:91::10"),
    "B": ("hqpb", "52:54:00:91:00:0b", "192.168.91.20", "2001:db8:91::20"),
    "T": ("hqpt", "52:54:00:91:00:0c", "192.168.91.30", "2001:db8:91::30"),
}
PORTS = [{"ifname": "hqpa", "mac": GUESTS["A"][1], "network": "portnet", "addresses": [GUESTS["A"][2]],
          "label": "guest 'a' nics[0]"},
         {"ifname": "hqpb", "mac": GUESTS["B"][1], "network": "portnet", "label": "guest 'b' nics[0]"},
         {"ifname": "hqpt", "mac": GUESTS["T"][1], "network": "portnet", "trust": True, "label": "guest 't' nics[0]"}]


@pytest.fixture
def lab(netns, tmp_path):
    with ExitStack() as stack:
        names = {"H": netns}
        # a host whose default forms random link-local addresses: the collection's bridge forms its own from its MAC
        sh("ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv6.conf.default.addr_gen_mode=3")
        _engine.converge(_model.normalise_all([{"kind": "bridge", "name": "hqpbr0", "addr_gen_mode": "eui64"}]),
                         netns=netns)
        sh("ip", "-n", netns, "addr", "add", NET["address"], "dev", "hqpbr0")
        sh("ip", "-n", netns, "addr", "add", "2001:db8:91::1/64", "dev", "hqpbr0", "nodad")
        sh("ip", "-n", netns, "link", "set", "hqpbr0", "up")
        for role, (port, mac, addr, addr6) in GUESTS.items():
            names[role] = ns = stack.enter_context(throwaway_netns())
            sh("ip", "-n", netns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", netns, "link", "set", port, "master", "hqpbr0", "up")
            sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
            sh("ip", "-n", ns, "addr", "add", addr6 + "/64", "dev", "eth0", "nodad")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        args = {"networks": [NET], "ports": PORTS, "ruleset_path": str(tmp_path / "nftables.json"),
                "state_path": str(tmp_path / "netdevs.json")}
        rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("nft", args)], in_netns=netns)
        assert rc == 0 and results["nft"]["changed"], results
        yield names


def ping(names, src, dst, source=None):
    cmd = ["ping", "-c1", "-W1", "-n"] + (["-I", source] if source else []) + [dst]
    return sh(*cmd, netns=names[src], check=False).returncode == 0


def test_guests_reach_the_host_from_their_own_addresses(lab):
    for role in GUESTS:
        assert ping(lab, role, "192.168.91.1"), role
        assert ping(lab, role, "2001:db8:91::1") == (role == "T"), "IPv6 from a global address: only T is trusted"
        sh("ip", "-n", lab[role], "-6", "neigh", "flush", "dev", "eth0")


@pytest.mark.parametrize("role, spoofed, passes", [
    ("A", "192.168.91.50", False),  # a declared NIC: only its address
    ("B", "192.168.91.50", True),  # a pool NIC: the subnet
    ("B", "10.55.0.1", False),  # ... and nothing outside it
    ("T", "10.55.0.1", True),  # trusted: anything
])
def test_a_source_address_the_nic_does_not_have_is_dropped(lab, role, spoofed, passes):
    sh("ip", "-n", lab[role], "addr", "add", spoofed + "/32", "dev", "eth0")
    sh("ip", "-n", lab["H"], "route", "replace", spoofed + "/32", "dev", "hqpbr0")  # the way back, if it got in
    assert ping(lab, role, "192.168.91.1", source=spoofed) == passes


@pytest.mark.parametrize("role, passes", [("A", False), ("B", False), ("T", True)])
def test_a_frame_from_another_mac_is_dropped(lab, role, passes):
    sh("ip", "-n", lab[role], "link", "set", "eth0", "address", "52:54:00:66:66:66")
    assert ping(lab, role, "192.168.91.1") == passes
    sh("ip", "-n", lab[role], "link", "set", "eth0", "address", GUESTS[role][1])
    sh("ip", "-n", lab["H"], "neigh", "flush", "dev", "hqpbr0")
    assert ping(lab, role, "192.168.91.1")


_ARP_REPLY = r"""
import socket, sys
mac, ip, target = bytes.fromhex(sys.argv[1].replace(":", "")), socket.inet_aton(sys.argv[2]), sys.argv[3]
frame = b"\xff" * 6 + mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x02" + mac + ip + b"\xff" * 6
frame += socket.inet_aton(target) + b"\x00" * 18
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
for _ in range(3):
    s.send(frame)
"""


@pytest.mark.parametrize("role, claimed, poisoned", [
    ("A", "192.168.91.20", False),  # A says B's address is at A's MAC
    ("T", "192.168.91.20", True),  # trusted: it gets through (the control)
])
def test_an_arp_claim_for_an_address_the_nic_does_not_have_is_dropped(lab, role, claimed, poisoned):
    host = lab["H"]
    assert ping(lab, "B", "192.168.91.1")  # the host knows B's MAC
    sh("ip", "-n", host, "neigh", "change", claimed, "dev", "hqpbr0", "lladdr", GUESTS["B"][1], "nud", "stale")
    time.sleep(1.2)  # past the entry's locktime (1 s), after which the kernel takes a new lladdr from a reply
    proc = sh(sys.executable, "-c", _ARP_REPLY, GUESTS[role][1], claimed, "192.168.91.1", netns=lab[role])
    assert proc.returncode == 0
    neigh = sh("ip", "-n", host, "neigh", "show", claimed, "dev", "hqpbr0").stdout
    assert (GUESTS[role][1] in neigh) == poisoned, neigh


@pytest.mark.parametrize("role, poisoned", [
    ("B", False),  # a pool NIC is held to the subnet, but not to the host's own address in it
    ("T", True),  # trusted: it gets through (the control)
])
def test_no_guest_claims_the_hosts_address_by_arp_or_as_its_source(lab, role, poisoned):
    """The host's address is the guests' gateway: a guest that took it over (ARP) would see its neighbours' traffic."""
    assert ping(lab, "A", "192.168.91.1")  # A knows the host's MAC
    sh("ip", "-n", lab["A"], "neigh", "change", "192.168.91.1", "dev", "eth0", "lladdr",
       _mac(lab["H"], "hqpbr0"), "nud", "stale")
    time.sleep(1.2)  # past the entry's locktime
    sh(sys.executable, "-c", _ARP_REPLY, GUESTS[role][1], "192.168.91.1", GUESTS["A"][2], netns=lab[role])
    neigh = sh("ip", "-n", lab["A"], "neigh", "show", "192.168.91.1", "dev", "eth0").stdout
    assert (GUESTS[role][1] in neigh) == poisoned, neigh
    sh("ip", "-n", lab[role], "addr", "add", "192.168.91.1/32", "dev", "eth0")  # and as a source address
    assert ping(lab, role, GUESTS["A"][2], source="192.168.91.1") == poisoned


def _mac(netns, ifname):
    return sh("cat", "/sys/class/net/%s/address" % ifname, netns=netns).stdout.strip()


def _with_ipv6(lab, tmp_path):
    """The network gets its IPv6 prefix (the port chains then hold the prefix too)."""
    args = {"networks": [dict(NET, ipv6={"address": "2001:db8:91::1/64"})], "ports": PORTS,
            "ruleset_path": str(tmp_path / "nftables.json"), "state_path": str(tmp_path / "netdevs.json")}
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("nft6", args)], in_netns=lab["H"])
    assert rc == 0 and results["nft6"]["changed"], results
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("again", args)], in_netns=lab["H"])
    assert rc == 0 and not results["again"]["changed"], results  # the raw-payload rules read back the same


@pytest.mark.parametrize("role, poisoned", [("B", False), ("T", True)])
def test_no_guest_claims_the_hosts_ipv6_address_by_a_neighbour_advertisement(lab, tmp_path, role, poisoned):
    host = lab["H"]
    _with_ipv6(lab, tmp_path)
    assert ping(lab, "A", "2001:db8:91::1")  # A knows the host's MAC
    sh(sys.executable, "-c", NA_SCRIPT, GUESTS[role][1], "2001:db8:91::1", netns=lab[role])
    time.sleep(0.3)
    neigh = sh("ip", "-n", lab["A"], "-6", "neigh", "show", "2001:db8:91::1", "dev", "eth0").stdout
    assert (GUESTS[role][1] in neigh) == poisoned, neigh
    if not poisoned:
        assert _mac(host, "hqpbr0") in neigh, neigh


def test_a_vlan_tagged_frame_is_dropped_by_its_own_rule(lab):
    """This kernel has no 8021q to receive a tag: the kernel's own counter of the rule shows the drop."""
    frame = b"\xff" * 6 + bytes.fromhex(GUESTS["A"][1].replace(":", "")) + b"\x81\x00\x00\x05\x08\x06" + b"\x00" * 46
    code = ("import socket, sys\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(('eth0', 0))\n"
            "s.send(bytes.fromhex(sys.argv[1]))\n")
    sh(sys.executable, "-c", code, frame.hex(), netns=lab["A"])
    listing = sh("nft", "list", "table", "bridge", "hostnet_qemu", netns=lab["H"]).stdout
    line = [l for l in listing.splitlines() if "guest 'a' nics[0] (hqpa): no other EtherType" in l][0]
    assert "counter packets 1 " in line, line
    assert socket.AF_PACKET  # the test needs packet sockets; Linux has them


def test_the_bridge_half_is_repaired_when_dropped_and_removed_with_the_rest(lab, tmp_path):
    host = lab["H"]
    args = {"networks": [NET], "ports": PORTS, "ruleset_path": str(tmp_path / "nftables.json"),
            "state_path": str(tmp_path / "netdevs.json")}
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("again", args)], in_netns=host)
    assert rc == 0 and not results["again"]["changed"], results
    sh("nft", "delete", "table", "bridge", "hostnet_qemu", netns=host)  # a hand edit
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("repair", args)], in_netns=host)
    assert rc == 0 and results["repair"]["changed"], results
    assert "port0" in sh("nft", "list", "table", "bridge", "hostnet_qemu", netns=host).stdout
    assert ping(lab, "A", "192.168.91.1")  # A still reaches the host through its port
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("gone", dict(args, state="absent"))], in_netns=host)
    assert rc == 0 and results["gone"]["changed"], results
    tables = sh("nft", "list", "tables", netns=host).stdout
    assert "hostnet_qemu" not in tables, tables


def test_an_uplink_networks_filter_holds_what_its_guests_send_onto_the_lan(netns, tmp_path):
    """The seed's bridge that may reach everything except 157.88.10.20: a LAN namespace behind the bridged NIC."""
    with ExitStack() as stack:
        lan, guest = stack.enter_context(throwaway_netns()), stack.enter_context(throwaway_netns())
        sh("ip", "-n", netns, "link", "add", "hqlan0", "type", "bridge")
        sh("ip", "-n", netns, "link", "add", "hqnic0", "type", "veth", "peer", "name", "eth0", "netns", lan)
        sh("ip", "-n", netns, "link", "add", "hqla", "type", "veth", "peer", "name", "eth0", "netns", guest)
        for port in ("hqnic0", "hqla"):
            sh("ip", "-n", netns, "link", "set", port, "master", "hqlan0", "up")
        sh("ip", "-n", netns, "link", "set", "hqlan0", "up")
        for ns, addrs in ((lan, ["157.88.10.20/16", "157.88.10.21/16"]), (guest, ["157.88.10.50/16"])):
            for addr in addrs:
                sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", guest, "link", "set", "eth0", "address", "52:54:00:91:00:1a")
        names = {"G": guest}
        assert ping(names, "G", "157.88.10.20") and ping(names, "G", "157.88.10.21")  # before: everything
        net = {"name": "lan", "kind": "uplink", "bridge": "hqlan0", "uplink": "hqnic0",
               "filter": {"reject": ["157.88.10.20/32"]}}
        args = {"networks": [net], "ruleset_path": str(tmp_path / "nftables.json"),
                "state_path": str(tmp_path / "netdevs.json"),
                "ports": [{"ifname": "hqla", "mac": "52:54:00:91:00:1a", "network": "lan", "label": "guest 'g' nics[0]"}]}
        rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("nft", args)], in_netns=netns)
        assert rc == 0 and results["nft"]["changed"], results
        sh("ip", "-n", guest, "neigh", "flush", "dev", "eth0")
        assert ping(names, "G", "157.88.10.21") and not ping(names, "G", "157.88.10.20")
        sh("ip", "-n", guest, "link", "set", "eth0", "address", "52:54:00:66:66:66")
        assert not ping(names, "G", "157.88.10.21")  # held to its MAC on the LAN too


def _link_local(netns, ifname):
    return [address for address, _stable_privacy in link_local(netns, ifname)]


_UDP_HEARD = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 5591))
s.settimeout(3)
try:
    print(s.recvfrom(64)[1][0])
except socket.timeout:
    print("nothing")
"""
_UDP_FROM = r"""
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
index = socket.if_nametoindex("eth0")
s.bind((sys.argv[1], 0, 0, index))
for _ in range(5):
    s.sendto(b"hostnet", (sys.argv[2], 5591, 0, index))
"""


@pytest.mark.parametrize("role, seen_by, poisoned", [("A", "B", False), ("B", "A", False), ("T", "A", True)])
def test_no_guest_claims_the_hosts_link_local_address_or_sends_from_it(lab, role, seen_by, poisoned):
    """The kernel forms the host's link-local address on the bridge from the bridge's MAC (EUI-64), and an IPv6
    guest's default router is that address: a guest that claimed it would take its neighbours' traffic out."""
    host_ll = _link_local(lab["H"], "hqpbr0")[0]
    assert _validate.eui64_shaped(host_ll), host_ll  # on a host whose default is random (the lab fixture)
    peer_ll = _link_local(lab[seen_by], "eth0")[0]
    # the kernel formed each guest's own address from its MAC, as the filter expects (and lets through)
    assert _link_local(lab[role], "eth0") == [_validate.eui64(GUESTS[role][1])]
    assert ping(lab, seen_by, host_ll + "%eth0")  # the neighbour knows the host's MAC for it
    sh(sys.executable, "-c", NA_SCRIPT, GUESTS[role][1], host_ll, netns=lab[role])
    time.sleep(0.3)
    neigh = sh("ip", "-n", lab[seen_by], "-6", "neigh", "show", host_ll, "dev", "eth0").stdout
    assert (GUESTS[role][1] in neigh) == poisoned, neigh
    # and as a source: the neighbour hears a datagram from the host's address only from the trusted T
    sh("ip", "-n", lab[role], "addr", "add", host_ll + "/64", "dev", "eth0", "nodad")
    listener = subprocess.Popen(["ip", "netns", "exec", lab[seen_by], sys.executable, "-c", _UDP_HEARD],
                                stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sh(sys.executable, "-c", _UDP_FROM, host_ll, peer_ll, netns=lab[role])
    heard = listener.communicate(timeout=10)[0].strip()
    assert heard == (host_ll if poisoned else "nothing")


_UDP4_HEARD = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 68))
s.settimeout(3)
try:
    print("%s:%d" % s.recvfrom(64)[1])
except socket.timeout:
    print("nothing")
"""
_UDP4_FROM = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
for _ in range(5):
    s.sendto(b"offer", (sys.argv[3], 68))
"""


@pytest.mark.parametrize("role, sport, heard", [("A", 67, False), ("T", 67, True), ("A", 5067, True)])
def test_no_held_guest_answers_as_a_dhcp_server(lab, role, sport, heard):
    """A DHCP offer from a held guest (UDP from port 67) would hand its neighbours itself as gateway and DNS server:
    it does not reach B. The trusted T's does, and so does A's datagram from another port (the control)."""
    listener = subprocess.Popen(["ip", "netns", "exec", lab["B"], sys.executable, "-c", _UDP4_HEARD],
                                stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sh(sys.executable, "-c", _UDP4_FROM, GUESTS[role][2], str(sport), GUESTS["B"][2], netns=lab[role])
    got = listener.communicate(timeout=10)[0].strip()
    assert got == ("%s:%d" % (GUESTS[role][2], sport) if heard else "nothing")


_DHCP_HEARD = r"""
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 67))
s.settimeout(3)
try:
    print(s.recvfrom(512)[0][28:34].hex(":"))
except socket.timeout:
    print("nothing")
"""
_DHCP_FROM = r"""
import socket, sys
# a BOOTREQUEST (op 1, Ethernet, hlen 6) whose chaddr (bytes 28-33) is argv[3]; the magic cookie after the 236 bytes
bootp = bytes([1, 1, 6, 0]) + bytes(24) + bytes.fromhex(sys.argv[3].replace(":", "")) + bytes(202) + b"\x63\x82\x53\x63"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 68))
for _ in range(5):
    s.sendto(bootp, (sys.argv[2], 67))
"""


@pytest.mark.parametrize("role, chaddr, heard", [("A", "A", True), ("A", "B", False), ("B", "A", False), ("T", "B", True)])
def test_dhcp_messages_only_for_the_nics_own_mac(lab, role, chaddr, heard):
    """A DHCP release or decline naming a neighbour's MAC (chaddr) would free or spoil that neighbour's lease at the
    server: a held guest's DHCP messages reach the host only for its own MAC. The trusted T's pass."""
    listener = subprocess.Popen(["ip", "netns", "exec", lab["H"], sys.executable, "-c", _DHCP_HEARD],
                                stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sh(sys.executable, "-c", _DHCP_FROM, GUESTS[role][2], NET["address"].split("/", maxsplit=1)[0], GUESTS[chaddr][1],
       netns=lab[role])
    got = listener.communicate(timeout=10)[0].strip()
    assert got == (GUESTS[chaddr][1] if heard else "nothing")


@pytest.mark.parametrize("role, seen_by, poisoned", [("B", "T", False), ("T", "B", True)])
def test_no_guest_claims_a_neighbours_slaac_address_or_sends_from_it(lab, tmp_path, role, seen_by, poisoned):
    """In the network's prefix a guest forms its SLAAC address from its MAC: a neighbour that claimed A's would
    take A's traffic, from the host and from the others. A itself sends from it (the control); the trusted T may."""
    _with_ipv6(lab, tmp_path)
    slaac = _validate.eui64(GUESTS["A"][1], "2001:db8:91::/64")
    sh("ip", "-n", lab["A"], "addr", "add", slaac + "/64", "dev", "eth0", "nodad")
    assert ping(lab, "A", "2001:db8:91::1", source=slaac)  # A's own passes, and the host now knows it
    sh(sys.executable, "-c", NA_SCRIPT, GUESTS[role][1], slaac, netns=lab[role])
    time.sleep(0.3)
    neigh = sh("ip", "-n", lab["H"], "-6", "neigh", "show", slaac, "dev", "hqpbr0").stdout
    assert (GUESTS[role][1] in neigh) == poisoned, neigh
    if not poisoned:
        assert GUESTS["A"][1] in neigh, neigh
    # and as a source: the neighbour hears a datagram from A's address only from the trusted T
    sh("ip", "-n", lab[role], "addr", "add", slaac + "/128", "dev", "eth0", "nodad")
    listener = subprocess.Popen(["ip", "netns", "exec", lab[seen_by], sys.executable, "-c", _UDP_HEARD],
                                stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sh(sys.executable, "-c", _UDP_FROM, slaac, GUESTS[seen_by][3], netns=lab[role])
    heard = listener.communicate(timeout=10)[0].strip()
    assert heard == (slaac if poisoned else "nothing")
