# -*- coding: utf-8 -*-
"""Port forwards into nat networks (module_utils/_forwards.py through _nftnet and _nftrules): validation with
messages naming both claimants, and the rules rendered; the kernel's own parser checks them (nft -c, no change)."""

import json
import shutil
import subprocess

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftnet, _nftrules


def natnet(*forwards, **over):
    net = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0",
           "dhcp": {"hosts": [{"mac": "52:54:00:50:00:20", "address": "192.168.50.20", "name": "web"}]},
           "forwards": list(forwards)}
    net.update(over)
    return net


def rules_of(networks):
    doc = json.loads(_nftrules.render(_nftnet.validate(networks)))["nftables"]
    return [c["add"]["rule"] for c in doc if "add" in c and "rule" in c["add"]]


def test_a_forward_by_guest_name_renders_dnat_accept_and_hairpin():
    rules = rules_of([natnet({"host_port": 8080, "guest": "web", "guest_port": 80},
                             {"proto": "udp", "host_address": "198.51.100.1", "host_port": 5353, "guest": "192.168.50.30"})])
    dnat = [r for r in rules if r["chain"] in ("prerouting", "output")]
    assert len(dnat) == 4
    text = json.dumps(dnat)
    assert '{"dnat": {"addr": "192.168.50.20", "family": "ip", "port": 80}}' in text
    assert '{"dnat": {"addr": "192.168.50.30", "family": "ip", "port": 5353}}' in text
    assert '"result": "type"' in text and '"right": "local"' in text  # only traffic to the host's own addresses
    assert '"right": "198.51.100.1"' in text
    forward = [r for r in rules if r["chain"] == "forward" and "forward tcp" in r["comment"]]
    assert len(forward) == 1 and '"dnat"' in json.dumps(forward[0]["expr"])
    chain = [r["comment"] for r in rules if r["chain"] == "forward"]
    # the accept comes before the network's "only replies enter" drop
    assert chain.index(forward[0]["comment"]) < chain.index("network natnet: only replies enter")
    hairpin = [r for r in rules if r["chain"] == "postrouting" and r["comment"].endswith("(hairpin)")]
    assert len(hairpin) == 2 and {"masquerade": None} in hairpin[0]["expr"]


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (nftables) is not installed on this machine")
def test_the_kernels_parser_accepts_the_rules():
    document = _nftrules.render(_nftnet.validate([natnet({"host_port": 8080, "guest": "web", "guest_port": 80})]),
                                table="hostnet_fwd_test")
    proc = subprocess.run(["nft", "-j", "-c", "-f", "-"], input=document, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("networks, message", [
    ([natnet({"host_port": 8080, "guest": "web"}, {"host_port": 8080, "guest": "192.168.50.30"})],
     "network 'natnet' forwards[1]: tcp port 8080 is already forwarded by network 'natnet' forwards[0]; give one of"
     " them another host_port"),
    ([natnet({"host_port": 8080, "guest": "web"}),
      natnet({"host_address": "198.51.100.1", "host_port": 8080, "guest": "192.168.51.9"}, name="other",
             bridge="hqnat1", address="192.168.51.1/24", dhcp=None)],
     "network 'other' forwards[0]: tcp port 198.51.100.1:8080 is already forwarded by network 'natnet' forwards[0]"),
    ([natnet({"host_port": 8080, "guest": "db"})],
     "network 'natnet': field 'forwards[0].guest' 'db' is not a guest of network 'natnet': give an address of its"
     " subnet (or of its ipv6 prefix) or the name of one of its dhcp.hosts (web)"),
    ([natnet({"host_port": 8080, "guest": "10.9.9.9"})],
     "network 'natnet': field 'forwards[0].guest' 10.9.9.9 is not a guest address of network 'natnet'"
     " (192.168.50.0/24, the host's 192.168.50.1)"),
    ([natnet({"host_port": 8080, "guest": "192.168.50.1"})],
     "field 'forwards[0].guest' 192.168.50.1 is not a guest address of network 'natnet'"),
    ([natnet({"host_port": 0, "guest": "web"})], "network 'natnet': field 'forwards[0].host_port' 0 is out of range"),
    ([natnet({"host_port": 80, "guest": "web", "host_address": "wan0"})],
     "network 'natnet': field 'forwards[0].host_address' 'wan0' is not an IP address; give one of the host's"
     " addresses, or leave it out for all of them"),
    ([natnet({"host_port": 80, "guest": "fd00:50::11"})],
     "network 'natnet': field 'forwards[0].guest' fd00:50::11 is an IPv6 address, but network 'natnet' does not"
     " masquerade IPv6; give it ipv6 with nat (NAT66), or forward to an IPv4 address"),
    ([natnet({"host_port": 80, "guest": "fd00:50::11"}, ipv6={"address": "fd00:50::1/64", "nat": False})],
     "network 'natnet': field 'forwards[0].guest' fd00:50::11 is an IPv6 address, but network 'natnet' does not"
     " masquerade IPv6"),
    ([natnet({"host_port": 80, "guest": "fd00:51::11"}, ipv6={"address": "fd00:50::1/64"})],
     "network 'natnet': field 'forwards[0].guest' fd00:51::11 is not a guest address of network 'natnet'"
     " (fd00:50::/64, the host's fd00:50::1); give an address inside the ipv6 prefix"),
    ([natnet({"host_port": 80, "guest": "fd00:50::1"}, ipv6={"address": "fd00:50::1/64"})],
     "field 'forwards[0].guest' fd00:50::1 is not a guest address of network 'natnet'"),
    ([natnet({"host_port": 80, "guest": "fd00:50::11", "host_address": "198.51.100.1"}, ipv6={"address": "fd00:50::1/64"})],
     "network 'natnet': field 'forwards[0].host_address' 198.51.100.1 is IPv4 and the guest fd00:50::11 is IPv6; give an"
     " address of the guest's family, or leave it out"),
    ([natnet({"host_port": 80, "guest": "fd00:50::11"}, {"host_port": 80, "guest": "fd00:50::12",
                                                         "host_address": "2001:db8:ff::1"}, ipv6={"address": "fd00:50::1/64"})],
     "network 'natnet' forwards[1]: tcp port [2001:db8:ff::1]:80 is already forwarded by network 'natnet' forwards[0];"
     " give one of them another host_port"),
    ([{"name": "iso", "address": "192.168.60.1/24", "forwards": [{"host_port": 80, "guest": "192.168.60.5"}]}],
     "network 'iso': field 'forwards' applies to kind nat (DNAT into a masqueraded network); drop it or set kind: nat"),
])
def test_bad_forwards_name_both_claimants(networks, message):
    errors = _nftnet.check(networks)
    assert any(message in e for e in errors), errors


def test_an_ipv6_forward_renders_ip6_dnat_and_may_share_the_port_of_an_ipv4_one():
    net = natnet({"host_port": 8080, "guest": "web", "guest_port": 80},
                 {"host_port": 8080, "guest": "fd00:50::20", "guest_port": 80}, ipv6={"address": "fd00:50::1/64"})
    assert _nftnet.check([net]) == []
    rules = rules_of([net])
    six = [r for r in rules if "[fd00:50::20]" in r["comment"]]
    assert [r["comment"] for r in six] == ["network natnet: forward tcp *:8080 to [fd00:50::20]:80"] * 3 + [
        "network natnet: forward tcp *:8080 to [fd00:50::20]:80 (hairpin)"]
    text = json.dumps(six)
    assert '{"dnat": {"addr": "fd00:50::20", "family": "ip6", "port": 80}}' in text and '"right": "ipv6"' in text
    assert '"field": "saddr", "protocol": "ip6"' in text and '"addr": "fd00:50::", "len": 64' in text
    assert '"ipv4"' not in text


@pytest.mark.skipif(shutil.which("nft") is None, reason="nft (nftables) is not installed on this machine")
def test_the_kernels_parser_accepts_the_ipv6_rules():
    net = natnet({"host_port": 8080, "guest": "fd00:50::20", "guest_port": 80, "host_address": "2001:db8:ff::1"},
                 ipv6={"address": "fd00:50::1/64"})
    document = _nftrules.render(_nftnet.validate([net]), table="hostnet_fwd6_test")
    proc = subprocess.run(["nft", "-j", "-c", "-f", "-"], input=document, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
