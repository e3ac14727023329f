# -*- coding: utf-8 -*-
"""Forwarding only where asked (issue 13, section 2), against the real kernel in throwaway namespaces.

The host H has a nat network (bridge hqboot0 with a guest namespace behind it, uplink hqwan0 to an "outside"
namespace) and two namespaces of its own that it already routes between (hqp1, hqp2: forwarding switched on by
hand, the user's own router). The real nft_networks module records the uplink and writes the table, the real
boot CLI switches forwarding on after loading it. Reachability is read with ping from the namespaces:

- before and after: p1 and p2 reach each other (the user's routing is untouched);
- before and after: the outside reaches neither p1 nor p2, and p1 does not reach the outside;
- after: the guest reaches the outside (masquerade), and nothing else became reachable.
"""

import json
import os
import sys
from contextlib import ExitStack

import pytest

from conftest import COLLECTIONS, boot_networks, nft_networks, sh, throwaway_netns

NAT = {"name": "natnet", "kind": "nat", "bridge": "hqboot0", "address": "192.168.77.1/24", "uplink": "hqwan0"}
# host side name, host address, namespace address, routes in the namespace
PEERS = (("out", "hqwan0", "198.51.100.1/24", "198.51.100.2/24", ["10.81.0.0/16", "192.168.77.0/24"]),
         ("p1", "hqp1", "10.81.1.1/24", "10.81.1.2/24", ["default"]),
         ("p2", "hqp2", "10.81.2.1/24", "10.81.2.2/24", ["default"]),
         ("g", "hqg0", None, "192.168.77.11/24", ["default"]))


@pytest.fixture
def lab(netns):
    """H (the test's namespace) and its four neighbours, each on a veth; H routes nothing yet."""
    with ExitStack() as stack:
        names = {"H": netns}
        sh("sysctl", "-qw", "net.ipv4.ip_forward=0", netns=netns)
        for role, host_if, host_addr, addr, routes in PEERS:
            names[role] = ns = stack.enter_context(throwaway_netns())
            sh("ip", "-n", netns, "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
            if host_addr:
                sh("ip", "-n", netns, "addr", "add", host_addr, "dev", host_if)
            sh("ip", "-n", netns, "link", "set", host_if, "up")
            sh("ip", "-n", ns, "addr", "add", addr, "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            gateway = (host_addr or NAT["address"]).partition("/")[0]
            for route in routes:
                sh("ip", "-n", ns, "route", "add", route, "via", gateway)
        for host_if in ("hqp1", "hqp2"):  # the user's own router between p1 and p2
            sh("sysctl", "-qw", "net.ipv4.conf.%s.forwarding=1" % host_if, netns=netns)
        yield names


def reach(names, src, dst):
    return sh("ping", "-c1", "-W1", "-n", dst, netns=names[src], check=False).returncode == 0


def paths(names):
    """Every path the proof looks at: (from, to address) -> reachable."""
    return dict(("%s->%s" % (src, dst), reach(names, src, dst)) for src, dst in (
        ("p1", "10.81.2.2"), ("p2", "10.81.1.2"), ("out", "10.81.1.2"), ("out", "10.81.2.2"), ("p1", "198.51.100.2"),
        ("out", "192.168.77.11"), ("g", "198.51.100.2"), ("g", "10.81.1.2")))


def forwarding(netns, name):
    return sh("sysctl", "-n", "net.ipv4.conf.%s.forwarding" % name, netns=netns).stdout.strip()


def converge(tmp_path, netns, networks, state="present"):
    return nft_networks(tmp_path, netns, networks, state=state)


def boot(tmp_path, netns):
    boot_networks(tmp_path, netns)
    sh("ip", "-n", netns, "link", "set", "hqg0", "master", "hqboot0")


def in_host(netns, code):
    """Python with the collection's module_utils, run inside H (what the networks module does, without systemd)."""
    env = dict(os.environ, PYTHONPATH=COLLECTIONS)
    return sh(sys.executable, "-c", "from ansible_collections.hostnet.qemu.plugins.module_utils import _forwarding, "
              "_nftnet\n" + code, netns=netns, env=env).stdout


def test_a_nat_network_forwards_for_its_guests_and_nothing_new(tmp_path, lab):
    host = lab["H"]
    before = paths(lab)
    assert before == {"p1->10.81.2.2": True, "p2->10.81.1.2": True, "out->10.81.1.2": False, "out->10.81.2.2": False,
                      "p1->198.51.100.2": False, "out->192.168.77.11": False, "g->198.51.100.2": False,
                      "g->10.81.1.2": False}
    result = converge(tmp_path, host, [NAT])
    assert result["changed"] and result["sysctls"] == {"net/ipv4/conf/hqboot0/forwarding": "1",
                                                       "net/ipv4/conf/hqwan0/forwarding": "1",
                                                       "net/ipv6/conf/hqboot0/accept_ra": "0"}
    saved = json.loads((tmp_path / "etc" / "netdevs.json").read_text())
    assert saved["forwarding_before"] == {"hqwan0": "0"}
    boot(tmp_path, host)
    assert [forwarding(host, i) for i in ("all", "hqwan0", "hqboot0", "hqp1", "hqp2")] == ["0", "1", "1", "1", "1"]
    after = paths(lab)
    assert after == dict(before, **{"g->198.51.100.2": True}), "only the guest's way out is new"
    table = sh("nft", "list", "chain", "inet", "hostnet_qemu", "forward", netns=host).stdout
    assert 'iifname "hqwan0" oifname != "hqboot0"' in table and "drop" in table
    # a second run keeps the record: the uplink's live 1 is the collection's, not the host's
    again = converge(tmp_path, host, [NAT])
    assert not again["changed"]
    assert json.loads((tmp_path / "etc" / "netdevs.json").read_text())["forwarding_before"] == {"hqwan0": "0"}
    # the network goes: the uplink is switched back (the networks module's first step), the table deleted
    out = in_host(host, "import json\nr = _forwarding.plan([], %r)\n_forwarding.apply_restore(r)\nprint(json.dumps(r))"
                  % str(tmp_path / "etc" / "netdevs.json"))
    assert json.loads(out)["restore"] == {"net/ipv4/conf/hqwan0/forwarding": "0"}
    sh("ip", "-n", host, "link", "del", "hqboot0")  # the networks module's engine step
    converge(tmp_path, host, [NAT], state="absent")
    assert forwarding(host, "hqwan0") == "0" and forwarding(host, "hqp1") == "1"
    assert paths(lab) == before


def test_an_uplink_that_already_routed_is_left_unguarded_and_is_not_switched_off(tmp_path, lab):
    host = lab["H"]
    sh("sysctl", "-qw", "net.ipv4.conf.hqwan0.forwarding=1", netns=host)
    assert reach(lab, "out", "10.81.1.2")  # the host already routed the outside to p1
    converge(tmp_path, host, [NAT])
    assert json.loads((tmp_path / "etc" / "netdevs.json").read_text())["forwarding_before"] == {"hqwan0": "1"}
    boot(tmp_path, host)
    assert 'iifname "hqwan0" oifname !=' not in sh("nft", "list", "chain", "inet", "hostnet_qemu", "forward",
                                                   netns=host).stdout
    assert reach(lab, "out", "10.81.1.2") and reach(lab, "g", "198.51.100.2")
    out = in_host(host, "import json\nprint(json.dumps(_forwarding.plan([], %r)))" % str(tmp_path / "etc" / "netdevs.json"))
    assert json.loads(out)["restore"] == {}  # it was 1 before: nothing to write back
