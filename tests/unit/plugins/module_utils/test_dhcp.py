# -*- coding: utf-8 -*-
"""DHCP/DNS of the network role: validation (through _nftnet.check), defaults and the dnsmasq configuration."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _nftnet

LINKS = frozenset(("lo", "eth0", "wan0", "eth1"))
NAT = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0",
       "dhcp": {"ranges": [{"start": "192.168.50.100", "end": "192.168.50.150"}], "lease_time": "1h",
                "hosts": [{"mac": "52:54:00:AA:00:01", "address": "192.168.50.20", "name": "static1"}]},
       "dns": {"domain": "lab.test"}}
ISO = {"name": "isonet", "bridge": "hqiso0", "address": "192.168.60.1/24", "dhcp": {}}


def errors(*nets):
    return _nftnet.check(list(nets), LINKS)


def with_dhcp(net, **dhcp):
    out = dict(net)
    out["dhcp"] = dict(net.get("dhcp") or {}, **dhcp)
    return out


def conf(*nets):
    return dict((i["name"], i["conf"]) for i in _dhcp.instances(_nftnet.normalise(list(nets))))


def test_valid():
    assert errors(NAT, ISO) == []


# --- bad input: exact messages naming network, field and fix -------------------------------------------------

def test_ranges_overlap_within_a_network():
    msgs = errors(with_dhcp(NAT, ranges=[{"start": "192.168.50.100", "end": "192.168.50.150"},
                                         {"start": "192.168.50.140", "end": "192.168.50.160"}]))
    assert msgs == ["network 'natnet': field 'dhcp.ranges[1]' 192.168.50.140-192.168.50.160 overlaps field"
                    " 'dhcp.ranges[0]' 192.168.50.100-192.168.50.150; give ranges that do not overlap"]


def test_ranges_overlap_across_networks():
    # the subnets overlap too (reported by _nftnet); the ranges are named on their own
    other = {"name": "other", "bridge": "hqo0", "address": "192.168.50.2/23",
             "dhcp": {"ranges": [{"start": "192.168.50.120", "end": "192.168.50.130"}]}}
    msgs = errors(NAT, other)
    assert ("network 'other': field 'dhcp.ranges[0]' 192.168.50.120-192.168.50.130 overlaps field 'dhcp.ranges[0]'"
            " 192.168.50.100-192.168.50.150 of network 'natnet'; give each network ranges inside its own subnet") in msgs
    assert any("overlaps subnet 192.168.50.0/24 of network 'natnet'" in m for m in msgs)


def test_absent_network_ranges_do_not_count():
    other = {"name": "other", "bridge": "hqo0", "address": "192.168.50.2/23", "state": "absent",
             "dhcp": {"ranges": [{"start": "192.168.50.120", "end": "192.168.50.130"}]}}
    assert errors(NAT, other) == []


def test_range_outside_subnet():
    msgs = errors(with_dhcp(NAT, ranges=[{"start": "192.168.50.200", "end": "192.168.51.10"}]))
    assert msgs == ["network 'natnet': field 'dhcp.ranges[0]' 192.168.50.200-192.168.51.10 is not inside the subnet"
                    " 192.168.50.0/24; give a range inside 192.168.50.0/24 (host addresses"
                    " 192.168.50.1-192.168.50.254) that leaves out the host's 192.168.50.1"]


@pytest.mark.parametrize("start,end,what", [
    ("192.168.50.1", "192.168.50.50", "host's own address (field 'address') 192.168.50.1"),
    ("192.168.50.0", "192.168.50.0", "subnet's network address 192.168.50.0"),
    ("192.168.50.200", "192.168.50.255", "subnet's broadcast address 192.168.50.255"),
])
def test_range_contains_host_network_or_broadcast(start, end, what):
    msgs = errors(with_dhcp(NAT, ranges=[{"start": start, "end": end}]))
    assert msgs == ["network 'natnet': field 'dhcp.ranges[0]' %s-%s contains the %s; give a range inside"
                    " 192.168.50.0/24 (host addresses 192.168.50.1-192.168.50.254) that leaves out the host's"
                    " 192.168.50.1" % (start, end, what)]


def test_range_reversed_and_not_addresses():
    msgs = errors(with_dhcp(NAT, ranges=[{"start": "192.168.50.150", "end": "192.168.50.100"},
                                         {"start": "192.168.50.x", "end": "fe80::1"}]))
    assert msgs == [
        "network 'natnet': field 'dhcp.ranges[0]' 192.168.50.150-192.168.50.100 starts after it ends; swap start and end",
        "network 'natnet': field 'dhcp.ranges[1].start' '192.168.50.x' is not an IPv4 address; give e.g. 192.168.50.254",
        "network 'natnet': field 'dhcp.ranges[1].end' 'fe80::1' is not an IPv4 address; give e.g. 192.168.50.254",
    ]


def test_static_host_outside_subnet():
    msgs = errors(with_dhcp(NAT, hosts=[{"mac": "52:54:00:00:00:01", "address": "192.168.51.5"}]))
    assert msgs == ["network 'natnet': field 'dhcp.hosts[0].address' 192.168.51.5 is not inside the subnet"
                    " 192.168.50.0/24; give a host address inside it (192.168.50.1-192.168.50.254)"]


@pytest.mark.parametrize("mac", ["52:54:00:zz:00:01", "01:00:5e:00:00:01", "00:00:00:00:00:00", "52:54:00:00:01",
                                 "5254.0000.0001", 525400000001])
def test_static_host_bad_mac(mac):
    msgs = errors(with_dhcp(NAT, hosts=[{"mac": mac, "address": "192.168.50.5"}]))
    assert msgs == ["network 'natnet': field 'dhcp.hosts[0].mac' %r is not a unicast MAC address; give the guest"
                    " NIC's MAC, e.g. 52:54:00:12:34:56" % (str(mac),)]


def test_static_hosts_duplicates_and_host_address():
    msgs = errors(with_dhcp(NAT, hosts=[
        {"mac": "52:54:00:00:00:01", "address": "192.168.50.5", "name": "a"},
        {"mac": "52-54-00-00-00-01", "address": "192.168.50.5", "name": "A"},
        {"mac": "52:54:00:00:00:03", "address": "192.168.50.1", "name": "not_a_label"},
    ]))
    assert msgs == [
        "network 'natnet': field 'dhcp.hosts[1].mac' 52:54:00:00:00:01 is also the MAC of field 'dhcp.hosts[0]';"
        " give each host its own MAC",
        "network 'natnet': field 'dhcp.hosts[1].address' 192.168.50.5 is also the address of field 'dhcp.hosts[0]';"
        " give each host its own",
        "network 'natnet': field 'dhcp.hosts[1].name' 'A' is also the name of field 'dhcp.hosts[0]'; give each host"
        " its own name",
        "network 'natnet': field 'dhcp.hosts[2].address' 192.168.50.1 is the host's own address (field 'address');"
        " give the guest another address",
        "network 'natnet': field 'dhcp.hosts[2].name' 'not_a_label' is not a host name (one label of letters, digits"
        " and '-', at most 63); give e.g. vm1",
    ]


def test_dhcp_without_address():
    msgs = errors({"name": "bare", "dhcp": {}})
    assert msgs == ["network 'bare': field 'dhcp' needs field 'address' (dnsmasq serves from the host's address on"
                    " the bridge, which is the guests' DNS server and, on nat, their gateway); add e.g."
                    " address: 192.168.50.1/24, or drop dhcp"]


def test_dns_without_address():
    msgs = errors({"name": "bare", "dns": {"domain": "x.test"}})
    assert len(msgs) == 1 and msgs[0].startswith("network 'bare': field 'dns' needs field 'address'")


@pytest.mark.parametrize("kind,extra,why", [
    ("macvtap", {"link": "eth1", "address": "192.168.1.50/24"}, "the host's macvlan sits on the parent's real LAN"),
    ("uplink", {"uplink": "eth1"}, "the bridge is the NIC's real LAN"),
])
def test_dhcp_refused_on_real_lans(kind, extra, why):
    net = dict({"name": "lan", "kind": kind, "dhcp": {}}, **extra)
    msgs = _nftnet.check([net], None)
    assert ("network 'lan': field 'dhcp' does not apply to kind %s (%s, where a second DHCP server would answer other"
            " machines); drop it, or use kind nat or isolated" % (kind, why)) in msgs


def test_ipv6_address():
    msgs = errors({"name": "v6", "address": "fd00::1/64", "dhcp": {}})
    assert msgs == ["network 'v6': field 'dhcp' needs an IPv4 field 'address' (DHCPv4 only here), got fd00::1/64;"
                    " give an IPv4 address, or drop dhcp"]


def test_subnet_too_small():
    msgs = errors({"name": "p2p", "address": "10.9.0.0/31", "dhcp": {}})
    assert msgs == ["network 'p2p': field 'dhcp': the subnet 10.9.0.0/31 has no room for guests next to the host's"
                    " address; use a /30 or larger subnet"]


@pytest.mark.parametrize("lease,problem", [
    ("30s", "is shorter than dnsmasq's minimum of two minutes; give at least 2m (e.g. 1h)"),
    ("1 hour", "is not a lease time; give seconds or a number with s, m, h, d or w (e.g. 1h, 45m), or infinite"),
    (True, "is not a lease time"),
])
def test_bad_lease_time(lease, problem):
    msgs = errors(with_dhcp(NAT, lease_time=lease))
    assert len(msgs) == 1 and msgs[0].startswith("network 'natnet': field 'dhcp.lease_time' %r %s" % (lease, problem))


@pytest.mark.parametrize("fields, message", [
    ({"dhcp": {"range": []}}, "network 'natnet': dhcp: unknown field(s) range; known fields: hosts, lease_time, ranges"),
    ({"dns": {"enable": True}}, "network 'natnet': dns: unknown field(s) enable; known fields: domain, enabled, forward"),
    ({"dns": {"forward": "maybe"}}, "network 'natnet': dns.forward: 'maybe' is not a boolean; use true or false"),
    ({"dhcp": {"ranges": "192.168.50.100"}}, "network 'natnet': dhcp.ranges: the string '192.168.50.100' is not a list"),
    ({"dhcp": {"ranges": [{"start": "192.168.50.100"}]}}, "network 'natnet': dhcp.ranges[0]: missing required field(s) end"),
    ({"dhcp": {"hosts": [{"mac": "52:54:00:00:00:01", "address": "192.168.50.5", "ip": "x"}]}},
     "network 'natnet': dhcp.hosts[0]: unknown field(s) ip"),
    ({"dhcp": "yes"}, "network 'natnet': dhcp: 'yes' is not a mapping"),
    ({"dhcp": {"hosts": [{"mac": "52:54:00:00:00:01", "address": "192.168.50.5", "name": "vm1,lan"}]}},
     "network 'natnet': field 'dhcp.hosts[0].name' 'vm1,lan' is not a host name"),
    ({"dns": {"domain": "lab\nserver=8.8.8.8"}},
     "network 'natnet': dns.domain: 'lab\\nserver=8.8.8.8' contains the control character"),
])
def test_unknown_keys_and_types(fields, message):
    msgs = errors(dict(NAT, **fields))
    assert len(msgs) == 1 and msgs[0].startswith(message), msgs


def test_dns_booleans_are_ansible_booleans():
    net = _nftnet.normalise(_nftnet.validate([dict(NAT, dns={"forward": "no"})]))[0]
    assert net["dns"]["forward"] is False
    assert _nftnet.normalise(_nftnet.validate([dict(NAT, dns={"enabled": "false"})]))[0]["dns"] is None


def test_bad_domain_and_instance_name():
    msgs = errors(dict(NAT, dns={"domain": "-bad.test"}))
    assert any("field 'dns.domain' '-bad.test' is not a domain name" in m for m in msgs)
    msgs = errors(dict(NAT, name="nat net", bridge="hqnat0"))
    assert msgs == ["hostnet_network_networks[0]: name: 'nat net' is not a valid name; use 1 to 64 letters, digits, "
                    "'_', '.' or '-', starting with a letter or digit"]


def test_every_problem_at_once():
    bad = with_dhcp(NAT, ranges=[{"start": "192.168.50.1", "end": "192.168.50.50"},
                                 {"start": "192.168.50.40", "end": "192.168.50.60"}],
                    hosts=[{"mac": "zz", "address": "10.0.0.1"}])
    assert len(errors(bad)) == 4


# --- normalisation and defaults -------------------------------------------------------------------------------

def test_defaults_on_isolated():
    net = _nftnet.normalise([ISO])[0]
    assert net["dhcp"] == {"ranges": [{"start": "192.168.60.128", "end": "192.168.60.254"}], "hosts": [],
                           "lease_time": "3600", "router": None, "domain": None}
    assert net["dns"] == {"domain": None, "forward": False}


def test_defaults_on_nat():
    net = _nftnet.normalise([NAT])[0]
    assert net["dhcp"]["router"] == "192.168.50.1"
    assert net["dhcp"]["hosts"] == [{"mac": "52:54:00:aa:00:01", "address": "192.168.50.20", "name": "static1"}]
    assert net["dns"] == {"domain": "lab.test", "forward": True}


def test_no_dhcp_no_dns_no_instance():
    plain = {"name": "plain", "address": "192.168.70.1/24"}
    assert _nftnet.normalise([plain])[0]["dhcp"] is None
    assert conf(plain, dict(NAT, state="absent"), dict(ISO, dhcp=None, dns={"enabled": False})) == {}


@pytest.mark.parametrize("address,expected", [
    ("10.0.0.1/24", ("10.0.0.128", "10.0.0.254")),
    ("10.0.0.200/24", ("10.0.0.201", "10.0.0.254")),
    ("10.0.0.254/24", ("10.0.0.128", "10.0.0.253")),
    ("10.0.0.1/30", ("10.0.0.2", "10.0.0.2")),
    ("10.0.0.2/30", ("10.0.0.1", "10.0.0.1")),
])
def test_default_range_leaves_out_the_host(address, expected):
    net = _nftnet.normalise([{"name": "n", "address": address, "dhcp": {}}])[0]
    assert (net["dhcp"]["ranges"][0]["start"], net["dhcp"]["ranges"][0]["end"]) == expected


def test_static_hosts_only_means_no_pool():
    text = conf(with_dhcp(NAT, ranges=[]))["natnet"]
    assert "dhcp-range=192.168.50.0,static,255.255.255.0,3600\n" in text
    text = conf(dict(NAT, dhcp={"hosts": NAT["dhcp"]["hosts"]}))["natnet"]
    assert "dhcp-range=192.168.50.0,static,255.255.255.0,3600\n" in text


@pytest.mark.parametrize("lease,rendered", [("1h", "3600"), (3600, "3600"), ("2d", "172800"), ("infinite", "infinite")])
def test_lease_time_spellings_render_alike(lease, rendered):
    text = conf(with_dhcp(NAT, lease_time=lease))["natnet"]
    assert "dhcp-range=192.168.50.100,192.168.50.150,255.255.255.0,%s\n" % rendered in text


# --- the dnsmasq configuration --------------------------------------------------------------------------------

def test_nat_conf():
    text = conf(NAT)["natnet"]
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        "interface=hqnat0", "except-interface=lo", "bind-dynamic", "user=dnsmasq", "group=nogroup", "pid-file=",
        "no-hosts", "domain-needed", "bogus-priv", "domain=lab.test", "local=/lab.test/",
        "host-record=static1,static1.lab.test,192.168.50.20",
        "dhcp-ignore-clid", "dhcp-range=192.168.50.100,192.168.50.150,255.255.255.0,3600",
        "dhcp-host=52:54:00:aa:00:01,192.168.50.20,static1",
        "dhcp-option=option:router,192.168.50.1", "dhcp-option=option:dns-server,192.168.50.1",
        "dhcp-authoritative", "dhcp-leasefile=/var/lib/hostnet-qemu/dnsmasq/natnet.leases",
    ]


def test_isolated_conf_dns_off_no_router():
    text = conf(dict(ISO, dns={"enabled": False, "domain": "iso.test"}))["isonet"]
    assert "port=0\n" in text
    assert "dhcp-option=3\n" in text and "dhcp-option=6\n" in text  # no router, no DNS server
    assert "domain=iso.test\n" in text and "local=" not in text
    assert "no-resolv" not in text and "host-record" not in text


def test_isolated_dns_does_not_forward_unless_asked():
    assert "\nno-resolv\n" in conf(ISO)["isonet"]
    assert "no-resolv" not in conf(dict(ISO, dns={"forward": True}))["isonet"]
    assert "\nno-resolv\n" in conf(dict(NAT, dns={"forward": False}))["natnet"]


def test_dns_only():
    text = conf(dict(ISO, dhcp=None, dns={"domain": "iso.test"}))["isonet"]
    assert "port=0" not in text and "dhcp-" not in text and "interface=hqiso0\n" in text


def test_bound_to_the_bridge_only():
    for text in conf(NAT, ISO).values():
        interfaces = [line for line in text.splitlines() if line.startswith(("interface=", "listen-address="))]
        assert len(interfaces) == 1
        assert "\nbind-dynamic\n" in text and "\nexcept-interface=lo\n" in text


def test_instances():
    inst = _dhcp.instances(_nftnet.normalise([NAT, ISO, {"name": "plain", "address": "192.168.70.1/24"}]))
    assert [(i["name"], i["bridge"], i["unit"]) for i in inst] == [
        ("natnet", "hqnat0", "hostnet-qemu-dnsmasq@natnet.service"),
        ("isonet", "hqiso0", "hostnet-qemu-dnsmasq@isonet.service"),
    ]
