# -*- coding: utf-8 -*-
"""A leasing guest NIC held to its lease (issue 13, section 1), with real dnsmasq and a real DHCP client.

H (the test's namespace) has an isolated network's bridge with DHCP; P and Q are "guests" (namespaces on veths
whose host ends are the ports, as a guest's tap is), neither with a declared address. Q already holds a lease
from an earlier run. The collection pins each to one address (_leasepins, the networks module's step), renders the
network's dnsmasq configuration (_dhcp), and the real nft_networks module loads the port filter. Then real dnsmasq
serves, busybox udhcpc asks (P for another address than its pin), and every verdict is read from the namespaces
and from dnsmasq's own lease file.
"""

import os
import sys
import subprocess
import time
from contextlib import ExitStack

import pytest

from conftest import NA_SCRIPT, addrs, link_local, ping, run_tasks, sh, throwaway_netns
from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _leasepins, _nftnet, _nftports, _nftrules

BUSYBOX = next((p for p in ("/usr/bin/busybox", "/bin/busybox") if os.path.exists(p)), None)
DNSMASQ = "/usr/sbin/dnsmasq"
pytestmark = [
    pytest.mark.skipif(BUSYBOX is None, reason="busybox (udhcpc) is not installed on this machine"),
    pytest.mark.skipif(not os.path.exists(DNSMASQ), reason="dnsmasq (Debian's dnsmasq-base) is not installed on this"
                                                           " machine: .ci/apt-packages.txt lists it"),
]
NET = {"name": "pinnet", "kind": "isolated", "bridge": "hqlpbr0", "address": "192.168.93.1/24",
       "dhcp": {"ranges": [{"start": "192.168.93.100", "end": "192.168.93.199"}], "lease_time": "10m"},
       "dns": {"domain": "lab.test"},
       "ipv6": {"address": "fd00:93::1/64", "dhcp": {"start": "fd00:93::100", "end": "fd00:93::1ff"}}}
GUESTS = {"P": ("hqlpp", "52:54:00:93:00:0a"), "Q": ("hqlpq", "52:54:00:93:00:0b")}
PORTS = [{"ifname": port, "mac": mac, "network": "pinnet", "addresses": [], "trust": False,
          "label": "guest '%s' nics[0]" % role, "hostname": role.lower()} for role, (port, mac) in sorted(GUESTS.items())]
UDHCPC_SCRIPT = '#!/bin/sh\ncase "$1" in bound|renew) ip addr replace "$ip/$mask" dev "$interface";; esac\nexit 0\n'


def pins(tmp_path):
    normalised = _nftnet.normalise([NET])
    return _leasepins.pin(normalised, _nftports.normalise(PORTS, normalised), str(tmp_path / "dnsmasq"),
                          leases_dir=str(tmp_path / "leases"))


@pytest.fixture
def lab(netns, tmp_path):
    (tmp_path / "dnsmasq").mkdir()
    (tmp_path / "leases").mkdir()
    (tmp_path / "leases").chmod(0o777)  # dnsmasq writes it as its own user
    expiry = int(time.time()) + 600
    (tmp_path / "leases" / "pinnet.leases").write_text("%d %s 192.168.93.150 q *\n" % (expiry, GUESTS["Q"][1]))
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    with ExitStack() as stack:
        names = {"H": netns, "script": str(script)}
        sh("ip", "-n", netns, "link", "add", NET["bridge"], "type", "bridge")
        sh("ip", "-n", netns, "addr", "add", NET["address"], "dev", NET["bridge"])
        sh("ip", "-n", netns, "addr", "add", NET["ipv6"]["address"], "dev", NET["bridge"], "nodad")
        sh("ip", "-n", netns, "link", "set", NET["bridge"], "up")
        for role, (port, mac) in GUESTS.items():
            names[role] = ns = stack.enter_context(throwaway_netns())
            sh("ip", "-n", netns, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", netns, "link", "set", port, "master", NET["bridge"], "up")
            sh("ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
        networks, ports = pins(tmp_path)
        conf = _dhcp.instances(networks)[0]["conf"]
        conf = conf.replace("dhcp-leasefile=%s/" % _dhcp.LEASES_DIR, "dhcp-leasefile=%s/" % (tmp_path / "leases"))
        (tmp_path / "dnsmasq" / "pinnet.conf").write_text(conf)
        # what the networks module hands the table: each port held to its pin
        held = [dict(p, addresses=[q["pinned"] for q in ports if q["ifname"] == p["ifname"]]) for p in PORTS]
        args = {"networks": [NET], "ports": held, "ruleset_path": str(tmp_path / "nftables.json"),
                "state_path": str(tmp_path / "netdevs.json")}
        rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("nft", args)], in_netns=netns)
        assert rc == 0 and results["nft"]["changed"], results
        server = subprocess.Popen(["ip", "netns", "exec", netns, DNSMASQ, "--keep-in-foreground",
                                   "--conf-file=%s" % (tmp_path / "dnsmasq" / "pinnet.conf")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        stack.callback(lambda: (server.terminate(), server.wait(timeout=10)))
        names["pins"] = dict((p["ifname"], p["pinned"]) for p in ports)
        names["pins6"] = dict((p["ifname"], p["pinned6"]) for p in ports)
        yield names


def lease(lab, role, requested=None, hostname=None):
    """One DHCP exchange of `role` by busybox udhcpc (asking for `requested`, under `hostname`); its eth0's IPv4
    addresses after."""
    argv = [BUSYBOX, "udhcpc", "-f", "-q", "-n", "-t", "5", "-T", "1", "-i", "eth0", "-s", lab["script"]]
    argv += (["-r", requested] if requested else []) + (["-x", "hostname:" + hostname] if hostname else [])
    proc = sh(*argv, netns=lab[role], check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [a for a in addrs(lab[role], "eth0") if ":" not in a]


def test_each_leasing_nic_gets_its_pin_from_dnsmasq_and_sends_only_from_it(lab, tmp_path):
    assert lab["pins"] == {"hqlpp": "192.168.93.100", "hqlpq": "192.168.93.150"}  # Q keeps the lease it had
    assert lease(lab, "P", requested="192.168.93.177") == ["192.168.93.100/24"]  # asked for another: got its pin
    assert lease(lab, "Q") == ["192.168.93.150/24"]
    assert ping(lab["P"], "192.168.93.1") and ping(lab["Q"], "192.168.93.1")
    # a free address of the subnet is no longer P's to take (held to the lease, not to the subnet) ...
    sh("ip", "-n", lab["P"], "addr", "add", "192.168.93.177/24", "dev", "eth0")
    sh("ip", "-n", lab["P"], "addr", "del", "192.168.93.100/24", "dev", "eth0")
    assert not ping(lab["P"], "192.168.93.1")
    # ... nor Q's address
    sh("ip", "-n", lab["P"], "addr", "replace", "192.168.93.150/24", "dev", "eth0")
    sh("ip", "-n", lab["Q"], "link", "set", "eth0", "down")
    assert not ping(lab["P"], "192.168.93.1")
    # dnsmasq's own lease file, read back as the next run reads it, gives the same pins
    leases = (tmp_path / "leases" / "pinnet.leases").read_text()
    assert "%s 192.168.93.100 " % GUESTS["P"][1] in leases, leases
    again = pins(tmp_path)[1]
    assert dict((p["ifname"], p["pinned"]) for p in again) == lab["pins"]


_RELEASE = r"""
import socket, sys
# a DHCPRELEASE of ciaddr argv[2] whose chaddr is the sender's own MAC (argv[3]) and whose client identifier
# (option 61) is the neighbour's (argv[4]): the port lets it through, dnsmasq must not match the lease by it
mac = lambda text: bytes.fromhex(text.replace(":", ""))
bootp = (bytes([1, 1, 6, 0]) + b"\x12\x34\x56\x78" + bytes(4) + socket.inet_aton(sys.argv[2]) + bytes(12)
         + mac(sys.argv[3]) + bytes(10) + bytes(192) + b"\x63\x82\x53\x63"
         + bytes([53, 1, 7]) + bytes([54, 4]) + socket.inet_aton(sys.argv[5]) + bytes([61, 7, 1]) + mac(sys.argv[4])
         + bytes([255]))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 68))
for _ in range(3):
    s.sendto(bootp, (sys.argv[5], 67))
"""


def test_no_guest_releases_a_neighbours_lease_by_its_client_identifier(lab, tmp_path):
    """udhcpc sends a client identifier (01 + its MAC), and dnsmasq finds a lease by it before the MAC: P could
    release Q's lease with its own MAC as chaddr (which its port allows) and Q's identifier. The network's dnsmasq
    ignores client identifiers (dhcp-ignore-clid), so it goes by the MAC, which the port holds."""
    assert lease(lab, "P") == ["192.168.93.100/24"] and lease(lab, "Q") == ["192.168.93.150/24"]
    leases = tmp_path / "leases" / "pinnet.leases"
    assert "%s 192.168.93.150 " % GUESTS["Q"][1] in leases.read_text()
    sh(sys.executable, "-c", _RELEASE, "192.168.93.100", "192.168.93.150", GUESTS["P"][1], GUESTS["Q"][1],
       "192.168.93.1", netns=lab["P"])
    time.sleep(1)
    assert "%s 192.168.93.150 " % GUESTS["Q"][1] in leases.read_text(), leases.read_text()
    # the control: Q's own release (its MAC, its identifier) does release it
    sh(sys.executable, "-c", _RELEASE, "192.168.93.150", "192.168.93.150", GUESTS["Q"][1], GUESTS["Q"][1],
       "192.168.93.1", netns=lab["Q"])
    time.sleep(1)
    assert "192.168.93.150" not in leases.read_text(), leases.read_text()


_RESOLVE = r"""
import socket, struct, sys
query = (struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
         + b"".join(bytes([len(p)]) + p.encode() for p in sys.argv[1].split(".")) + b"\0" + struct.pack(">HH", 1, 1))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(query, (sys.argv[2], 53))
reply = s.recv(512)
print(socket.inet_ntoa(reply[-4:]) if struct.unpack(">H", reply[6:8])[0] else "none")
"""


def resolve(lab, name):
    return sh(sys.executable, "-c", _RESOLVE, name, "192.168.93.1", netns=lab["H"]).stdout.strip()


def test_no_guest_takes_a_neighbours_name_by_dhcp(lab, tmp_path):
    """dnsmasq gives a DHCP client the host name it asks for, and takes it from a lease that had it: a guest that
    asked for its neighbour's name would get the neighbour's DNS answers. Each pin is written with its guest's name,
    which binds the name to the MAC."""
    assert "dhcp-host=52:54:00:93:00:0b,192.168.93.150,q\n" in (tmp_path / "dnsmasq" / "pinnet.conf").read_text()
    assert resolve(lab, "q.lab.test") == "192.168.93.150"  # from the reservation, before Q ever leased
    assert lease(lab, "Q", hostname="q") == ["192.168.93.150/24"]
    assert lease(lab, "P", hostname="q") == ["192.168.93.100/24"]  # P asks for Q's name
    assert resolve(lab, "q.lab.test") == "192.168.93.150" and resolve(lab, "p.lab.test") == "192.168.93.100"
    leases = (tmp_path / "leases" / "pinnet.leases").read_text()
    assert " 192.168.93.100 p " in leases and " 192.168.93.150 q " in leases, leases


_SOLICIT = r"""
import os, socket, struct, sys
# a DHCPv6 Solicit (type 1) with client identifier DUID-LL naming the MAC argv[1] and one IA_NA; prints the
# addresses of the Advertise's IA_NA
option = lambda code, data: struct.pack("!HH", code, len(data)) + data
duid = b"\x00\x03\x00\x01" + bytes.fromhex(sys.argv[1].replace(":", ""))
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", 546))
s.settimeout(2)
solicit = b"\x01" + os.urandom(3) + option(1, duid) + option(3, struct.pack("!III", 1, 0, 0)) + option(8, b"\0\0")
for _ in range(5):
    s.sendto(solicit, ("ff02::1:2", 547, 0, socket.if_nametoindex("eth0")))
    try:
        reply = s.recv(2048)
    except socket.timeout:
        continue
    found, i = [], 4
    while i + 4 <= len(reply):
        code, length = struct.unpack("!HH", reply[i:i + 4])
        body, j = reply[i + 4:i + 4 + length], 12
        while code == 3 and j + 4 <= len(body):
            sub, sublength = struct.unpack("!HH", body[j:j + 4])
            if sub == 5:
                found.append(socket.inet_ntop(socket.AF_INET6, body[j + 4:j + 20]))
            j += 4 + sublength
        i += 4 + length
    print(" ".join(found))
    break
else:
    print("nothing")
"""


def offered6(lab, role, duid_mac):
    link_local(lab[role], "eth0")  # a DHCPv6 client sends from its link-local address, once duplicate detection is over
    return sh(sys.executable, "-c", _SOLICIT, duid_mac, netns=lab[role], timeout=30).stdout.strip()


def test_on_stateful_dhcpv6_each_nic_is_offered_its_pin_by_its_mac_and_sends_and_claims_only_it(lab, tmp_path):
    """With stateful DHCPv6 (no SLAAC) each held NIC is pinned to one address of the range: dnsmasq offers it by
    the MAC it finds in the neighbour table, not by the DUID the client writes, and the port lets nothing else of
    the prefix through, as a source or as a neighbour advertisement's target."""
    assert lab["pins6"] == {"hqlpp": "fd00:93::100", "hqlpq": "fd00:93::101"}
    conf = (tmp_path / "dnsmasq" / "pinnet.conf").read_text()
    assert "dhcp-host=52:54:00:93:00:0a,[fd00:93::100]\ndhcp-host=52:54:00:93:00:0b,[fd00:93::101]\n" in conf
    # the table as the networks module loads it: each port held to its pins (nft_networks takes IPv4 addresses only)
    ruleset = tmp_path / "pinned.json"
    ruleset.write_text(_nftrules.render([NET], ports=pins(tmp_path)[1]))  # read back from the written file
    sh("nft", "-j", "-f", str(ruleset), netns=lab["H"])
    assert offered6(lab, "P", GUESTS["Q"][1]) == "fd00:93::100"  # P names Q's MAC in its DUID: still P's pin
    assert offered6(lab, "Q", GUESTS["Q"][1]) == "fd00:93::101"
    for role, address in (("P", "fd00:93::100"), ("Q", "fd00:93::101")):
        sh("ip", "-n", lab[role], "addr", "add", address + "/64", "dev", "eth0", "nodad")
        assert ping(lab[role], "fd00:93::1"), role  # from its pin (the host learns Q's MAC for it)
    # another address of the range is not P's, though it is in the prefix
    sh("ip", "-n", lab["P"], "addr", "add", "fd00:93::150/64", "dev", "eth0", "nodad")
    sh("ip", "-n", lab["P"], "addr", "del", "fd00:93::100/64", "dev", "eth0")
    assert not ping(lab["P"], "fd00:93::1")
    # nor may P claim Q's pin by a neighbour advertisement
    sh(sys.executable, "-c", NA_SCRIPT, GUESTS["P"][1], "fd00:93::101", netns=lab["P"])
    time.sleep(0.3)
    neigh = sh("ip", "-n", lab["H"], "-6", "neigh", "show", "fd00:93::101", "dev", NET["bridge"]).stdout
    assert GUESTS["Q"][1] in neigh and GUESTS["P"][1] not in neigh, neigh


def test_a_real_dhcpv6_client_takes_its_pin(lab, lab_image, tmp_path):
    """ISC dhclient -6 (from the lab image, run in each guest's namespace) leases and configures the NIC's pin."""
    for role, port in (("Q", "hqlpq"), ("P", "hqlpp")):
        link_local(lab[role], "eth0")
        proc = subprocess.run(["podman", "run", "--rm", "--network", "ns:/run/netns/%s" % lab[role], "--cap-add",
                               "NET_ADMIN,NET_RAW", lab_image, "timeout", "60", "dhclient", "-6", "-1", "-v",
                               "-lf", "/tmp/leases6", "-pf", "/tmp/dhclient6.pid", "eth0"],
                              capture_output=True, text=True, check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert [a for a in addrs(lab[role], "eth0") if a.startswith("fd00:93:")] == [lab["pins6"][port] + "/128"]
    # dnsmasq's lease file names dhclient by its DUID-LLT, which carries the MAC: without the pins in the
    # configuration (a guest that leased before them), the next run pins each NIC to the address it holds
    conf = tmp_path / "dnsmasq" / "pinnet.conf"
    conf.write_text("".join(line for line in conf.read_text().splitlines(True) if ",[fd00:93::" not in line))
    leases = (tmp_path / "leases" / "pinnet.leases").read_text()
    assert _leasepins.leased6(leases, time.time())[0] == {GUESTS["P"][1]: "fd00:93::100", GUESTS["Q"][1]: "fd00:93::101"}
    normalised = _nftnet.normalise([NET])  # Q alone: without its lease it would get ::102, the first one nobody holds
    only_q = _leasepins.pin(normalised, _nftports.normalise([p for p in PORTS if p["ifname"] == "hqlpq"], normalised),
                            str(conf.parent), leases_dir=str(tmp_path / "leases"))[1]
    assert [p["pinned6"] for p in only_q] == ["fd00:93::101"]
