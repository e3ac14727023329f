# -*- coding: utf-8 -*-
"""IPv6 on managed networks (issue 13, section 4): the checks, the bridge's address, dnsmasq's router
advertisements, NAT66, the per-interface forwarding switches and their record. The kernel proof is
tests/kernel/test_ipv6_kernel.py; scenario network has guests form SLAAC addresses from dnsmasq."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _forwarding, _net6, _nftnet, _nftrules

LINKS = {"wan0": None, "eth0": None}
NAT = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0",
       "dns": {}, "ipv6": {"address": "fd00:50::1/64"}}
RT = {"name": "rtnet", "kind": "routed", "bridge": "hqrt0", "address": "10.66.0.1/24", "uplink": "wan0",
      "ipv6": {"address": "fd00:66::1/64"}}
ISO = {"name": "isonet", "bridge": "hqiso0", "ipv6": {"address": "fd00:60::1/64"}}


def normalised(*networks):
    return _nftnet.normalise(_nftnet.validate(list(networks), LINKS))


def test_the_bridge_takes_the_address_and_nat66_is_the_default_of_kind_nat_only():
    nets = dict((n["name"], n) for n in normalised(NAT, RT, ISO))
    assert nets["natnet"]["ipv6"] == {"address": "fd00:50::1/64", "prefix": "fd00:50::/64", "nat": True, "dhcp": None}
    assert nets["rtnet"]["ipv6"]["nat"] is False and nets["isonet"]["ipv6"]["nat"] is False
    devices = dict((d["name"], d) for d in _nftnet.devices(_nftnet.validate([NAT, ISO], LINKS)))
    assert devices["hqnat0"]["addresses"] == ["192.168.50.1/24", "fd00:50::1/64"]
    assert devices["hqiso0"]["addresses"] == ["fd00:60::1/64"]
    assert normalised(dict(RT, ipv6={"address": "fd00:66::1/64", "nat": True}))[0]["ipv6"]["nat"] is True


def test_nat66_masquerades_the_prefix_and_a_routed_prefix_is_not():
    doc = json.loads(_nftrules.render([NAT, RT]))["nftables"]
    post = [c["add"]["rule"] for c in doc if c.get("add", {}).get("rule", {}).get("chain") == "postrouting"]
    assert [r["comment"] for r in post] == ["network natnet", "network natnet: IPv6"]
    assert post[1]["expr"][1] == {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}},
                                            "right": {"prefix": {"addr": "fd00:50::", "len": 64}}}}


def test_dnsmasq_advertises_the_prefix_stateless_with_dns_and_no_default_route_on_an_isolated_network():
    confs = dict((i["name"], i["conf"]) for i in _dhcp.instances(normalised(NAT, RT, ISO)))
    assert set(confs) == {"natnet", "rtnet", "isonet"}  # router advertisements need dnsmasq even without DHCP
    nat = confs["natnet"].splitlines()
    assert "enable-ra" in nat and "dhcp-range=::,constructor:hqnat0,ra-stateless,64" in nat
    # advertisements every 10 s (dnsmasq's own interval is up to ten minutes), the host the default router
    assert [line for line in nat if line.startswith("ra-param")] == ["ra-param=hqnat0,10,1800"]
    iso = confs["isonet"].splitlines()
    assert "dhcp-range=::,constructor:hqiso0,ra-only,64" in iso and "ra-param=hqiso0,10,0" in iso and "port=0" in iso
    assert "enable-ra" not in _dhcp.instances(normalised(dict(NAT, ipv6=None)))[0]["conf"]


def test_stateful_dhcpv6_from_a_range_of_the_prefix_instead_of_slaac():
    stateful = dict(ISO, ipv6={"address": "fd00:60::1/64", "dhcp": {"start": "FD00:60::0100", "end": "fd00:60::1ff"}})
    net = normalised(stateful)[0]
    assert net["ipv6"]["dhcp"] == {"start": "fd00:60::100", "end": "fd00:60::1ff"}
    conf = _dhcp.instances([net])[0]["conf"].splitlines()
    assert "enable-ra" in conf and "dhcp-range=fd00:60::100,fd00:60::1ff,64,3600" in conf
    assert not [line for line in conf if "constructor" in line]  # no SLAAC prefix: the managed flag, addresses by DHCPv6
    assert "dhcp-leasefile=/var/lib/hostnet-qemu/dnsmasq/isonet.leases" in conf  # its own, also without IPv4 DHCP
    assert "ra-param=hqiso0,10,0" in conf  # isolated: still no default route
    with_v4 = dict(stateful, address="192.168.60.1/24", dhcp={"lease_time": "10m"})
    assert "dhcp-range=fd00:60::100,fd00:60::1ff,64,600" in _dhcp.instances(normalised(with_v4))[0]["conf"].splitlines()


@pytest.mark.parametrize("dhcp, want", [
    ({"start": "fd00:60::100", "end": "fd00:60::1"}, "fd00:60::100-fd00:60::1 starts after it ends; swap start and end"),
    ({"start": "fd00:61::100", "end": "fd00:61::1ff"}, "fd00:61::100-fd00:61::1ff is not inside the prefix fd00:60::/64;"
                                                       " give a range of it"),
    ({"start": "fd00:60::", "end": "fd00:60::ff"}, "fd00:60::-fd00:60::ff contains the host's own address (field"
                                                   " 'ipv6.address') fd00:60::1; give a range without it"),
    ({"start": "fd00:60::", "end": "fd00:60::0"}, "fd00:60::-fd00:60:: contains the prefix's subnet-router anycast"
                                                  " address fd00:60::; give a range without it"),
    ({"start": "192.168.60.100", "end": "fd00:60::1ff"}, "field 'ipv6.dhcp.start' '192.168.60.100' is not an IPv6"
                                                         " address; give one of fd00:60::/64, e.g. fd00:60::100"),
    ({"start": "fd00:60::100/64", "end": "fd00:60::1ff"}, "field 'ipv6.dhcp.start' 'fd00:60::100/64' is not an IPv6"),
    ({"start": "fd00:60::100"}, "ipv6.dhcp: missing required"),
    ({"start": "fd00:60::2", "end": "fd00:60::ffff:ffff:ffff:ffff"},
     "network 'isonet': field 'ipv6.dhcp' fd00:60::2-fd00:60::ffff:ffff:ffff:ffff contains addresses formed from a MAC"
     " (ff:fe in the middle of the interface identifier, e.g. fd00:60::ff:fe00:0), which the guest ports keep for"
     " the NIC with that MAC; give a range without them, e.g. fd00:60::100-fd00:60::1ff"),
    ({"start": "fd00:60::5054:ff:fe00:9", "end": "fd00:60::5054:ff:fe00:9"}, "e.g. fd00:60::5054:ff:fe00:9)"),
    ({"start": "fd00:60::ff:ff00:0", "end": "fd00:60::1:ff:fe00:0"}, "e.g. fd00:60::1ff:fe00:0)"),
])
def test_bad_dhcpv6_range(dhcp, want):
    msgs = _nftnet.check([dict(ISO, ipv6={"address": "fd00:60::1/64", "dhcp": dhcp})], LINKS)
    assert any(want in m for m in msgs), msgs


@pytest.mark.parametrize("start, end", [("fd00:60::100", "fd00:60::1ff"), ("fd00:60::ff:fd00:0", "fd00:60::ff:fdff:ffff"),
                                        ("fd00:60::ff:ff00:0", "fd00:60::1ff:fdff:ffff")])
def test_a_dhcpv6_range_beside_the_addresses_formed_from_a_mac_is_good(start, end):
    assert _nftnet.check([dict(ISO, ipv6={"address": "fd00:60::1/64", "dhcp": {"start": start, "end": end}})], LINKS) == []


def test_forwarding_switches_record_and_guard_ipv6_per_uplink(tmp_path, monkeypatch):
    live = {"net/ipv4/conf/wan0/forwarding": "1", "net/ipv6/conf/wan0/force_forwarding": "0",
            "net/ipv6/conf/all/forwarding": "0"}
    monkeypatch.setattr(_forwarding, "read", live.get)
    nets = normalised(NAT, RT, ISO)
    assert _forwarding.sysctls(nets) == {
        "net/ipv4/conf/hqnat0/forwarding": "1", "net/ipv4/conf/hqrt0/forwarding": "1",
        "net/ipv4/conf/wan0/forwarding": "1", "net/ipv4/conf/hqiso0/forwarding": "0",
        "net/ipv6/conf/hqnat0/force_forwarding": "1", "net/ipv6/conf/hqrt0/force_forwarding": "1",
        "net/ipv6/conf/wan0/force_forwarding": "1", "net/ipv6/conf/hqnat0/accept_ra": "0",
        "net/ipv6/conf/hqrt0/accept_ra": "0", "net/ipv6/conf/hqiso0/accept_ra": "0"}
    result = _forwarding.plan(nets, str(tmp_path / "netdevs.json"))
    assert result["before"] == {"wan0": "1", "ipv6/wan0": "0"} and result["guarded"] == ["ipv6/wan0"]
    doc = json.loads(_nftrules.render([NAT, RT], guarded=result["guarded"]))["nftables"]
    first = [c["add"]["rule"] for c in doc if "rule" in c.get("add", {})][0]
    assert first["comment"] == "uplink wan0: IPv6 forwarding is on for the networks behind it only"
    assert first["expr"][0] == {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}}
    live["net/ipv6/conf/all/forwarding"] = "1"  # a host that routes IPv6 everywhere: nothing to guard
    assert _forwarding.guarded(result["before"]) == []
    (tmp_path / "netdevs.json").write_text(json.dumps({"forwarding_before": result["before"]}))
    live["net/ipv6/conf/wan0/force_forwarding"] = "1"
    gone = _forwarding.plan(normalised(dict(NAT, ipv6=None)), str(tmp_path / "netdevs.json"))
    assert gone["restore"] == {"net/ipv6/conf/wan0/force_forwarding": "0"}


@pytest.mark.parametrize("net, want", [
    (dict(NAT, ipv6={"address": "192.168.9.1/24"}), "network 'natnet': field 'ipv6.address' '192.168.9.1/24' is not an"
                                                    " IPv6 address with its prefix length; give the host's address,"
                                                    " e.g. fd00:50::1/64"),
    (dict(NAT, ipv6={"address": "fd00:50::1"}), "network 'natnet': field 'ipv6.address' 'fd00:50::1' is not an IPv6"),
    (dict(NAT, ipv6={"address": "fd00:50::1/56"}), "network 'natnet': field 'ipv6.address' fd00:50::1/56: the prefix"
                                                   " must be a /64 (guests form their addresses from it by SLAAC); give"
                                                   " e.g. fd00:50::1/64"),
    (dict(NAT, ipv6={"address": "fd00:50::/64"}), "network 'natnet': field 'ipv6.address' fd00:50::/64 is not a host"
                                                  " address of its prefix; give e.g. fd00:50::1/64"),
    (dict(NAT, ipv6={"address": "fe80::1/64"}), "network 'natnet': field 'ipv6.address' fe80::1/64 is not a host"),
    (dict(NAT, ipv6={"address": "fd00::50::1/64"}), "network 'natnet': field 'ipv6.address' 'fd00::50::1/64' is not"),
    (dict(ISO, ipv6={"address": "fd00:60::1/64", "nat": True}), "network 'isonet': field 'ipv6.nat' applies to kinds"
                                                                " nat and routed (an isolated network forwards"
                                                                " nothing); drop it"),
    ({"name": "lan", "kind": "uplink", "uplink": "eth0", "ipv6": {"address": "fd00:1::1/64"}},
     "network 'lan': field 'ipv6' applies to kinds isolated, nat and routed (the guests of an uplink network take"
     " IPv6 from the LAN); drop it"),
    (dict(NAT, ipv6={"address": "fd00:50::1/64", "nat": "maybe"}), "network 'natnet': ipv6.nat: 'maybe' is not a"
                                                                   " boolean; use true or false"),
    (dict(NAT, ipv6={"nat": True}), "network 'natnet': ipv6: missing required"),
])
def test_bad_ipv6(net, want):
    msgs = _nftnet.check([net], LINKS)
    assert any(m.startswith(want) for m in msgs), msgs


def test_overlapping_prefixes_name_both_networks():
    msgs = _nftnet.check([NAT, dict(ISO, ipv6={"address": "fd00:50::2/64"})], LINKS)
    assert "network 'isonet': ipv6 prefix fd00:50::/64 overlaps prefix fd00:50::/64 of network 'natnet'; give each" \
           " network its own prefix" in msgs
    assert _nftnet.check([NAT, dict(ISO, state="absent", ipv6={"address": "fd00:50::2/64"})], LINKS) == []


def test_the_host_must_forward_ipv6_per_interface(tmp_path):
    (tmp_path / "net/ipv6/conf/default").mkdir(parents=True)
    nets = normalised(NAT, ISO)
    errors = _net6.on_host(nets, proc=str(tmp_path))
    assert len(errors) == 1 and errors[0].startswith(
        "network 'natnet': field 'ipv6' on a nat network needs IPv6 forwarding for single interfaces"
        " (net.ipv6.conf.IF.force_forwarding, Linux 6.17 and later)"), errors
    (tmp_path / "net/ipv6/conf/default/force_forwarding").write_text("0\n")
    assert _net6.on_host(nets, proc=str(tmp_path)) == []
    assert _net6.on_host(nets, proc=str(tmp_path / "none"))[0].startswith(
        "network 'natnet': field 'ipv6': IPv6 is disabled on this host")
