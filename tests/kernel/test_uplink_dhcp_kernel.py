# -*- coding: utf-8 -*-
"""Uplinks with a DHCP client against the real kernel and a real DHCP exchange, in throwaway namespaces.

The "LAN" namespace runs busybox udhcpd on the peer of the veth "NIC" nic0; the "host" namespace runs busybox udhcpc
with the installed boot CLI as its script, exactly as the transient unit hostnet-qemu-dhcp-DEV.service does (there
without -q: here each exchange is one lease and the client quits). Results are read back with `ip -j addr` and
`ip -j route` and proven with real ICMP. The systemd side (the unit, the wait for the lease, the rollback of a move
without one, the boot) is proven in the molecule scenario `network`.
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from conftest import install_boot_cli, links, ping, sh
from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcpclient, _uplinkhost, _uplinkplan
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel

BUSYBOX = next((p for p in ("/usr/bin/busybox", "/bin/busybox") if os.path.exists(p)), None)
pytestmark = pytest.mark.skipif(BUSYBOX is None, reason="busybox (udhcpc, udhcpd) is not installed on this machine")


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    """udhcpc's script: the installed boot CLI behind a launcher of the same name (udhcpc execs a file)."""
    cli = install_boot_cli(tmp_path_factory.mktemp("bootcli"))
    wrap = tmp_path_factory.mktemp("wrap") / "hostnet-qemu-network"
    wrap.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (sys.executable, cli))
    wrap.chmod(0o755)
    return str(wrap)


@pytest.fixture
def lan(netns, tmp_path):
    """(host namespace, LAN namespace): nic0 in the host, bare; udhcpd on its peer 10.77.0.1 offers 10.77.0.50-60."""
    peer = "hnt-" + uuid.uuid4().hex[:8]
    sh("ip", "netns", "add", peer)
    server = None
    try:
        sh("ip", "-n", peer, "link", "set", "lo", "up")
        sh("ip", "-n", netns, "link", "add", "nic0", "type", "veth", "peer", "name", "peer0", "netns", peer)
        sh("ip", "-n", netns, "link", "set", "nic0", "up")
        sh("ip", "-n", peer, "addr", "add", "10.77.0.1/24", "dev", "peer0")
        sh("ip", "-n", peer, "link", "set", "peer0", "up")
        conf = tmp_path / "udhcpd.conf"
        conf.write_text("start 10.77.0.50\nend 10.77.0.60\ninterface peer0\nlease_file %s\npidfile %s\n"
                        "option subnet 255.255.255.0\noption router 10.77.0.1\noption lease 600\nauto_time 1\n"
                        % (tmp_path / "leases", tmp_path / "udhcpd.pid"))
        (tmp_path / "leases").write_text("")
        server = subprocess.Popen(["ip", "netns", "exec", peer, BUSYBOX, "udhcpd", "-f", str(conf)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield netns, peer
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        sh("ip", "netns", "del", peer, check=False)


def lease(netns, script, dev, metric=900, hostname="labhost.example"):
    """One DHCP exchange on `dev` by udhcpc with the collection's script: the unit's command line (plus -q -n: quit
    with the lease, or without one)."""
    env = dict(os.environ, **{_dhcpclient.METRIC_ENV: str(metric)})
    argv = _dhcpclient.command(BUSYBOX, dev, script, hostname) + ["-q", "-n"]
    return sh(*argv, netns=netns, env=env, check=False, timeout=60)


def v4(netns, dev):
    """dev's IPv4 addresses with their valid lifetime, and its IPv4 routes, from `ip -j`."""
    out = json.loads(sh("ip", "-n", netns, "-4", "-j", "addr", "show", "dev", dev).stdout)
    addresses = [("%s/%s" % (a["local"], a["prefixlen"]), a["valid_life_time"])
                 for a in (out[0]["addr_info"] if out else [])]  # without IPv4 addresses ip -4 lists no device
    routes = json.loads(sh("ip", "-n", netns, "-4", "-j", "route", "show", "dev", dev).stdout)
    return addresses, sorted((r["dst"], r.get("gateway"), r.get("protocol"), r.get("metric")) for r in routes
                             if r.get("protocol") != "kernel")


def test_udhcpc_with_the_cli_as_script_puts_the_lease_deconfig_keeps_it_and_a_nak_takes_only_it_away(lan, script, tmp_path):
    host, _peer = lan
    sh("ip", "-n", host, "addr", "add", "198.51.100.2/24", "dev", "nic0")  # the admin's own: never the lease's
    proc = lease(host, script, "nic0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hostnet-qemu-network: bound nic0: add address 10.77.0." in proc.stdout  # the script's line, in the unit's journal
    addresses, routes = v4(host, "nic0")
    got = [a for a in addresses if a[0].startswith("10.77.0.")]
    assert len(got) == 1 and 500 < got[0][1] <= 600, addresses  # the lease's lifetime, not forever
    assert ("198.51.100.2/24", 4294967295) in addresses
    assert routes == [("default", "10.77.0.1", "dhcp", 900)]
    assert ping(host, "10.77.0.1")
    deadline = time.time() + 10  # udhcpd writes its lease file every second (auto_time 1)
    while "labhost" not in sh(BUSYBOX, "dumpleases", "-f", str(tmp_path / "leases"), check=False).stdout:
        assert time.time() < deadline, "the server never recorded the host name the client sends (option 12)"
        time.sleep(0.5)
    again = lease(host, script, "nic0")  # a second exchange: the same address, nothing doubled
    assert again.returncode == 0 and v4(host, "nic0")[1] == routes
    assert [a for a in v4(host, "nic0")[0] if a[0].startswith("10.77.0.")][0][0] == got[0][0]
    kept = v4(host, "nic0")
    proc = sh(script, "deconfig", netns=host, env=dict(os.environ, interface="nic0"), check=False)  # a client's start
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [a[0] for a in v4(host, "nic0")[0]] == [a[0] for a in kept[0]] and v4(host, "nic0")[1] == routes
    assert lease(host, script, "nic0").returncode == 0 and v4(host, "nic0")[1] == routes  # a restarted client
    proc = sh(script, "nak", netns=host, env=dict(os.environ, interface="nic0"), check=False)  # the server takes it back
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert v4(host, "nic0") == ([("198.51.100.2/24", 4294967295)], [])


def test_a_hostile_lease_changes_nothing_and_says_why(lan, script):
    host, _peer = lan
    before = v4(host, "nic0")
    proc = sh(script, "bound", netns=host, check=False,
              env=dict(os.environ, interface="nic0", ip="10.77.0.9;reboot", mask="24", router="10.77.0.1"))
    assert proc.returncode == 1
    assert proc.stdout.strip() == ("hostnet-qemu-network: bound nic0: FAILED: uplink DHCP client on 'nic0': the lease's"
                                   " address '10.77.0.9;reboot'/24 is no IPv4 host address")
    assert v4(host, "nic0") == before


def read(netns):
    with Kernel(netns) as kernel:
        return _uplinkhost.read(kernel)


def test_the_bridge_takes_over_the_nics_lease_and_a_rollback_gives_back_what_is_left(lan, script):
    host, _peer = lan
    assert lease(host, script, "nic0").returncode == 0
    nic_lease = [a for a in v4(host, "nic0")[0] if a[0].startswith("10.77.0.")][0][0]
    live = read(host)
    entry = {"bridge": "br0", "nic": "nic0", "mac": live["links"]["nic0"]["mac"], "dhcp": True,
             "addresses": _uplinkplan.movable_addresses(live, "nic0", dhcp=True),
             "routes": _uplinkplan.movable_routes(live, "nic0", dhcp=True),
             "lease": _uplinkplan.current_lease(live, "nic0")}
    assert entry["addresses"] == [] and entry["routes"] == []  # the lease is not copied
    _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host)
    assert links(host)["nic0"]["master"] == "br0"
    assert v4(host, "nic0") == ([], []) and v4(host, "br0") == ([], [])  # left behind, not moved
    assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host) == []
    # the client on the bridge asks with the NIC's MAC (the bridge carries it, no client id): the same lease
    assert lease(host, script, "br0").returncode == 0
    addresses, routes = v4(host, "br0")
    assert [a[0] for a in addresses] == [nic_lease] and routes == [("default", "10.77.0.1", "dhcp", 900)]
    assert ping(host, "10.77.0.1")
    assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=host) == []  # the lease on the bridge is no change
    time.sleep(1)
    lines = _uplinkhost.converge(entry, _uplinkplan.ORIGINAL, delete_bridge=True, netns=host)
    assert "delete bridge 'br0'" in lines and "br0" not in links(host)
    addresses, routes = v4(host, "nic0")
    assert [a[0] for a in addresses] == [nic_lease] and 500 < addresses[0][1] < 600  # what is left of it
    assert routes == [("default", "10.77.0.1", "dhcp", 900)]
    assert ping(host, "10.77.0.1")


def test_the_preflight_names_another_dhcp_client_on_the_nic_and_offers_dhcp_client(lan, script, tmp_path):
    host, _peer = lan
    assert lease(host, script, "nic0").returncode == 0
    uplink = {"name": "lan", "bridge": "br0", "nic": "nic0", "state": "present", "via": "bridge"}
    [message] = _uplinkhost.check_host([uplink], netns=host, root=str(tmp_path))
    assert message.startswith("network 'lan': field 'uplink' 'nic0' has the dynamic address 10.77.0.")
    assert message.endswith(" s left): bridge 'br0' would get a static copy that no DHCP client renews; set dhcp_client:"
                            " true (the collection runs one on the bridge), or give nic0 a static address, or run the"
                            " DHCP client on bridge 'br0' yourself, then rerun")
    dhcp = dict(uplink, dhcp=True)
    assert _uplinkhost.check_host([dhcp], netns=host, root=str(tmp_path)) == []
    other = subprocess.Popen(["ip", "netns", "exec", host, BUSYBOX, "udhcpc", "-f", "-i", "nic0", "-s", "/bin/true"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while not _dhcpclient.foreign_clients("nic0") and time.time() < deadline:
            time.sleep(0.1)
        assert _uplinkhost.check_host([dhcp], netns=host, root=str(tmp_path)) == [
            "network 'lan': field 'uplink' 'nic0' has a DHCP client of its own (pid %d: %s udhcpc -f -i nic0 -s"
            " /bin/true), which would renew the lease on the NIC against the collection's client on bridge 'br0'; stop"
            " it (its address stays until the lease runs out, and the move asks for it again on the bridge), then"
            " rerun" % (other.pid, BUSYBOX)]
    finally:
        other.terminate()
        other.wait(timeout=10)
