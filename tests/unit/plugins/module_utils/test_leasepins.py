# -*- coding: utf-8 -*-
"""_leasepins: which address a leasing NIC is pinned to, from which file, and what is left alone.
tests/kernel/test_guest_ports_kernel.py runs real dnsmasq with the pinned configuration and a real DHCP client."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _leasepins, _nftnet, _nftports
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

NOW = 1800000000
NET = {"name": "pool", "kind": "isolated", "bridge": "hqpool0", "address": "192.168.70.1/24",
       "dhcp": {"ranges": [{"start": "192.168.70.100", "end": "192.168.70.102"}],
                "hosts": [{"mac": "52:54:00:00:00:aa", "address": "192.168.70.100"}]}}
MAC = ["52:54:00:00:00:%02x" % n for n in range(5)]


def port(n, **kw):
    base = {"ifname": "vm%d-n0" % n, "mac": MAC[n], "network": "pool", "addresses": [], "trust": False,
            "label": "guest 'vm%d' nics[0]" % n}
    base.update(kw)
    return base


def pins(tmp_path, ports, conf=None, leases=None, networks=(NET,)):
    (tmp_path / "conf").mkdir(exist_ok=True)
    (tmp_path / "leases").mkdir(exist_ok=True)
    if conf is not None:
        (tmp_path / "conf" / "pool.conf").write_text(conf)
    if leases is not None:
        (tmp_path / "leases" / "pool.leases").write_text(leases)
    normalised = _nftnet.normalise(list(networks))
    return _leasepins.pin(normalised, _nftports.normalise(ports, normalised), str(tmp_path / "conf"),
                          leases_dir=str(tmp_path / "leases"), now=NOW)


def hosts(nets):
    return [(h["mac"], h["address"]) for h in nets[0]["dhcp"]["hosts"]]


def test_fresh_nics_take_the_first_free_addresses_of_the_range_in_tap_order_and_are_held_to_them(tmp_path):
    nets, out = pins(tmp_path, [port(2), port(1)])
    assert hosts(nets) == [("52:54:00:00:00:aa", "192.168.70.100"), (MAC[1], "192.168.70.101"),
                           (MAC[2], "192.168.70.102")]
    assert [(p["ifname"], p["pinned"], p["allowed"]) for p in out] == [
        ("vm2-n0", "192.168.70.102", ["192.168.70.102"]), ("vm1-n0", "192.168.70.101", ["192.168.70.101"])]
    assert "dhcp-host=%s,192.168.70.101\n" % MAC[1] in _dhcp.render(nets[0])


def test_a_pin_is_kept_from_the_configuration_then_from_the_lease_and_others_leases_are_not_taken(tmp_path):
    conf = "dhcp-host=%s,192.168.70.102\ndhcp-host=52:54:00:00:00:aa,192.168.70.100\n" % MAC[3].upper()
    leases = ("%d %s 192.168.70.101 vm1 *\n" % (NOW + 60, MAC[1])  # vm1's own lease
              + "%d 52:54:00:00:00:bb 192.168.70.50 helper *\n" % (NOW + 60)  # a NIC the host does not hold
              + "%d 52:54:00:00:00:cc 192.168.70.5 gone *\n" % (NOW - 1)  # expired: free again
              + "duid 00:01:00:01\n1000 12345 fd00::5 x *\n")
    out = pins(tmp_path, [port(1), port(3), port(4)], conf=conf, leases=leases,
               networks=[dict(NET, dhcp=dict(NET["dhcp"], ranges=[{"start": "192.168.70.50",
                                                                  "end": "192.168.70.102"}]))])[1]
    assert [(p["ifname"], p["pinned"]) for p in out] == [
        ("vm1-n0", "192.168.70.101"), ("vm3-n0", "192.168.70.102"), ("vm4-n0", "192.168.70.51")]


def test_the_same_files_give_the_same_pins(tmp_path):
    nets = pins(tmp_path, [port(1), port(2)])[0]
    conf = _dhcp.render(nets[0])
    again, out = pins(tmp_path, [port(2), port(1)], conf=conf)
    assert hosts(again) == hosts(nets)
    assert [(p["ifname"], p["pinned"]) for p in out] == [
        ("vm2-n0", "192.168.70.102"), ("vm1-n0", "192.168.70.101")]


def test_a_pin_claimed_since_by_a_declared_host_or_outside_the_subnet_is_chosen_again(tmp_path):
    conf = "dhcp-host=%s,192.168.70.100\ndhcp-host=%s,10.0.0.5\n" % (MAC[1], MAC[2])
    out = pins(tmp_path, [port(1), port(2)], conf=conf)[1]
    assert [p["pinned"] for p in out] == ["192.168.70.101", "192.168.70.102"]


def test_a_mac_the_network_reserves_is_held_to_that_reservation_and_not_reserved_twice(tmp_path):
    nets, out = pins(tmp_path, [port(0, mac="52:54:00:00:00:aa")])
    assert hosts(nets) == [("52:54:00:00:00:aa", "192.168.70.100")]
    assert out[0]["allowed"] == ["192.168.70.100"]


@pytest.mark.parametrize("kw, network", [
    ({"trust": True}, NET),  # not held: nothing to pin
    ({"addresses": ["192.168.70.7"]}, NET),  # declared: held to it already
    ({}, dict(NET, dhcp={"ranges": [], "hosts": [{"mac": "52:54:00:00:00:aa", "address": "192.168.70.100"}]})),
    ({}, {k: v for k, v in NET.items() if k != "dhcp"}),  # no DHCP here
])
def test_ports_without_a_pool_to_pin_from_are_left_as_they_were(tmp_path, kw, network):
    nets, out = pins(tmp_path, [port(1, **kw)], networks=[network])
    assert out[0]["pinned"] is None
    assert out[0]["allowed"] == _nftports.normalise([port(1, **kw)], _nftnet.normalise([network]))[0]["allowed"]
    assert nets == _nftnet.normalise([network])


def test_a_full_pool_names_every_nic_left_without_an_address(tmp_path):
    with pytest.raises(HostnetError) as err:
        pins(tmp_path, [port(n) for n in range(4)])
    assert str(err.value) == (
        "guest 'vm2' nics[0] (vm2-n0): network 'pool' has no free address left in its DHCP ranges"
        " (192.168.70.100-192.168.70.102) for a NIC that leases; widen dhcp.ranges or give the NIC a static address;"
        " guest 'vm3' nics[0] (vm3-n0): network 'pool' has no free address left in its DHCP ranges"
        " (192.168.70.100-192.168.70.102) for a NIC that leases; widen dhcp.ranges or give the NIC a static address")


def test_broken_files_are_read_as_far_as_they_make_sense():
    assert _leasepins.reserved("dhcp-host=52:54:00:00:00:01,192.168.70.9,vm1\n# dhcp-host=x\ndhcp-host=zz,1.2.3.4") \
        == {"52:54:00:00:00:01": "192.168.70.9"}
    assert _leasepins.leased("garbage\n0 52:54:00:00:00:01 192.168.70.9 * *\n5 nomac 1.2.3.4\n", NOW) \
        == {"52:54:00:00:00:01": "192.168.70.9"}


def test_a_pin_carries_its_guests_name_once_per_network_and_not_a_declared_hosts(tmp_path):
    """The name binds to the MAC in dnsmasq: no other client takes it by DHCP. The first NIC (by tap) with a name
    gets it; a name a declared host has, or a second NIC of the same guest, goes without."""
    declared = dict(NET, dhcp=dict(NET["dhcp"], hosts=[dict(NET["dhcp"]["hosts"][0], name="Web")],
                                   ranges=[{"start": "192.168.70.100", "end": "192.168.70.110"}]))
    nets, _out = pins(tmp_path, [port(1, hostname="db"), port(2, hostname="DB"), port(3, hostname="web"), port(4)],
                      networks=[declared])
    assert [(h["mac"], h["name"]) for h in nets[0]["dhcp"]["hosts"]] == [
        ("52:54:00:00:00:aa", "Web"), (MAC[1], "db"), (MAC[2], None), (MAC[3], None), (MAC[4], None)]
    text = _dhcp.render(dict(nets[0], dns={"enabled": True, "domain": "lab.test", "forward": False}))
    assert "dhcp-host=%s,192.168.70.101,db\n" % MAC[1] in text and "host-record=db,db.lab.test,192.168.70.101\n" in text
    assert "dhcp-host=%s,192.168.70.102\n" % MAC[2] in text


@pytest.mark.parametrize("value", ["a b", "-db", "db-", "a" * 64, "db\n", "db.lab", "", 7])
def test_a_ports_hostname_is_one_dns_label(value):
    with pytest.raises(HostnetError) as info:
        _nftports.normalise([port(1, hostname=value)], _nftnet.normalise([NET]))
    assert str(info.value) == ("invalid ports: guest 'vm1' nics[0]: field 'hostname': %r is not a host name; use one"
                               " DNS label (letters, digits and inner '-', at most 63)" % (value,))


NET6 = dict(NET, ipv6={"address": "fd00:70::1/64", "dhcp": {"start": "fd00:70::100", "end": "fd00:70::101"}})


def test_on_stateful_dhcpv6_every_held_nic_gets_one_address_of_the_range_kept_from_the_configuration(tmp_path):
    """IPv6 addresses are never declared: a NIC with a static IPv4 address is pinned too; trusted NICs are not."""
    ports = [port(2), port(1, addresses=["192.168.70.50"]), port(3, trust=True)]
    nets, out = pins(tmp_path, ports, networks=(NET6,))
    assert nets[0]["ipv6"]["hosts"] == [{"mac": MAC[1], "address": "fd00:70::100"},
                                        {"mac": MAC[2], "address": "fd00:70::101"}]
    want = [("vm2-n0", "fd00:70::101"), ("vm1-n0", "fd00:70::100"), ("vm3-n0", None)]
    assert [(p["ifname"], p["pinned6"]) for p in out] == want
    conf = _dhcp.render(nets[0])
    assert "dhcp-host=%s,[fd00:70::100]\ndhcp-host=%s,[fd00:70::101]\n" % (MAC[1], MAC[2]) in conf
    # the next run reads the pins back from the written configuration, whatever order the ports come in
    again = "dhcp-host=%s,[fd00:70::101]\ndhcp-host=%s,[fd00:70::100]\n" % (MAC[4], MAC[2])
    nets2, out2 = pins(tmp_path, [port(4), port(2)], conf=again, networks=(NET6,))
    assert [(p["ifname"], p["pinned6"]) for p in out2] == [("vm4-n0", "fd00:70::101"), ("vm2-n0", "fd00:70::100")]
    assert nets2[0]["ipv6"]["hosts"][0] == {"mac": MAC[2], "address": "fd00:70::100"}


def test_a_dhcpv6_pin_outside_the_range_is_chosen_again_and_a_full_range_names_the_nics(tmp_path):
    conf = "dhcp-host=%s,[fd00:70::5]\n" % MAC[1]
    _nets, out = pins(tmp_path, [port(1)], conf=conf, networks=(NET6,))
    assert out[0]["pinned6"] == "fd00:70::100"
    # a bracketed value that is no IPv6 address (a hand-edited line) is skipped, not a traceback
    assert _leasepins.reserved6("dhcp-host=%s,[:::::]\ndhcp-host=%s,[FD00:70:0::101]\n" % (MAC[1], MAC[2])) == {
        MAC[2]: "fd00:70::101"}
    _nets, out = pins(tmp_path, [port(1)], conf="dhcp-host=%s,[:::::]\n" % MAC[1], networks=(NET6,))
    assert out[0]["pinned6"] == "fd00:70::100"
    with pytest.raises(HostnetError) as err:
        pins(tmp_path, [port(n, addresses=["192.168.70.5%d" % n]) for n in (1, 2, 3)], networks=(NET6,))
    assert str(err.value) == ("guest 'vm3' nics[0] (vm3-n0): network 'pool' has no free address left in its DHCPv6"
                              " range (fd00:70::100-fd00:70::101); widen ipv6.dhcp")


def test_slaac_networks_and_networks_without_ipv6_pin_no_ipv6_address(tmp_path):
    for net in (NET, dict(NET, ipv6={"address": "fd00:70::1/64"})):
        nets, out = pins(tmp_path, [port(1)], networks=(net,))
        assert out[0]["pinned6"] is None and "hosts" not in (nets[0].get("ipv6") or {})


def test_a_dhcpv6_lease_whose_duid_names_the_mac_is_kept_and_other_leases_are_not_free(tmp_path):
    """dnsmasq's DHCPv6 lines: EXPIRY IAID ADDRESS NAME DUID. dhclient's DUID-LLT (type 1) and a DUID-LL (type 3)
    carry the MAC; a DUID-EN (type 2) does not, and its address is not given to anyone else."""
    llt = "00:01:00:01:2c:3d:4e:5f:" + MAC[1]
    leases = ("duid 00:01:00:01:aa:bb:cc:dd:52:54:00:ff:ff:ff\n"
              "%d 1 fd00:70::101 vm1 %s\n" % (NOW + 600, llt)
              + "%d 7 fd00:70::100 * 00:02:00:00:ab:11:01:02:03:04\n" % (NOW + 600)
              + "%d 2 fd00:70::102 vm2 00:03:00:01:%s\n" % (NOW - 5, MAC[2])  # expired
              + "%d 3 fd00:70::103 vm3 00:03:00:01:%s\n" % (NOW + 600, MAC[3])
              + "broken line\n%d x fd00:70::104 * zz\n" % NOW)
    by_mac, every = _leasepins.leased6(leases, NOW)
    assert by_mac == {MAC[1]: "fd00:70::101", MAC[3]: "fd00:70::103"}
    assert every == {"fd00:70::100", "fd00:70::101", "fd00:70::103"}
    net = dict(NET6, ipv6=dict(NET6["ipv6"], dhcp={"start": "fd00:70::100", "end": "fd00:70::1ff"}))
    _nets, out = pins(tmp_path, [port(n, addresses=["192.168.70.5%d" % n]) for n in (1, 2, 3)], leases=leases,
                      networks=(net,))
    assert [p["pinned6"] for p in out] == ["fd00:70::101", "fd00:70::102", "fd00:70::103"]
