# -*- coding: utf-8 -*-
"""_forwarding: which interfaces forward, what was there before, what is written back. The live values are a
dict here; tests/kernel/test_forwarding_kernel.py reads and writes the real ones."""

import json

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _forwarding, _nftnet, _nftrules

NAT = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0"}
NAT2 = {"name": "natnet2", "kind": "nat", "bridge": "hqnat1", "address": "192.168.51.1/24", "uplink": "wan0"}
ISO = {"name": "isonet", "kind": "isolated", "bridge": "hqiso0", "address": "192.168.60.1/24"}


@pytest.fixture
def live(monkeypatch, tmp_path):
    """The host's live sysctls (slash keys) and its sysctl configuration files, all under tmp_path."""
    values = {"net/ipv4/conf/default/forwarding": "0"}
    monkeypatch.setattr(_forwarding, "read", lambda key: values.get(_forwarding.canonical(key)))
    monkeypatch.setattr(_forwarding, "SYSCTL_FILES", (str(tmp_path / "sysctl.conf"), str(tmp_path / "sysctl.d" / "*.conf")))
    (tmp_path / "sysctl.d").mkdir()
    return values


def state(tmp_path, before):
    path = tmp_path / "netdevs.json"
    path.write_text(json.dumps({"devices": [], "forwarding_before": before}))
    return str(path)


@pytest.mark.parametrize("key, want", [
    ("net.ipv4.ip_forward", "net/ipv4/ip_forward"),
    ("net/ipv4/conf/eth0.100/forwarding", "net/ipv4/conf/eth0.100/forwarding"),
    ("net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding"),  # sysctl(8)'s dotted spelling
])
def test_keys_are_read_in_slash_form(key, want):
    assert _forwarding.canonical(key) == want
    assert _forwarding.proc_path(key) == "/proc/sys/" + want


def test_a_new_uplink_records_its_live_value_and_is_guarded_when_it_was_off(tmp_path, live):
    live["net/ipv4/conf/wan0/forwarding"] = "0"
    result = _forwarding.plan(_nftnet.normalise([NAT, NAT2, ISO]), str(tmp_path / "none.json"))
    assert result == {"before": {"wan0": "0"}, "restore": {}, "legacy": False, "guarded": ["wan0"]}
    assert _forwarding.uplinks(_nftnet.normalise([NAT, NAT2, ISO])) == {"wan0": ["hqnat0", "hqnat1"]}


def test_an_uplink_that_routed_before_is_not_guarded(tmp_path, live):
    live["net/ipv4/conf/wan0/forwarding"] = "1"
    assert _forwarding.plan(_nftnet.normalise([NAT]), str(tmp_path / "none.json"))["guarded"] == []


def test_an_uplink_still_to_be_created_takes_the_default_for_new_interfaces(tmp_path, live):
    live["net/ipv4/conf/default/forwarding"] = "1"
    assert _forwarding.plan(_nftnet.normalise([NAT]), str(tmp_path / "none.json"))["before"] == {"wan0": "1"}


def test_the_record_wins_over_the_live_value_which_is_the_collections(tmp_path, live):
    live["net/ipv4/conf/wan0/forwarding"] = "1"
    result = _forwarding.plan(_nftnet.normalise([NAT]), state(tmp_path, {"wan0": "0"}))
    assert result["before"] == {"wan0": "0"} and result["guarded"] == ["wan0"]


def test_an_uplink_no_nat_network_uses_is_written_back_once(tmp_path, live):
    path = state(tmp_path, {"wan0": "0", "wan1": "1", "gone0": "0"})
    live.update({"net/ipv4/conf/wan0/forwarding": "1", "net/ipv4/conf/wan1/forwarding": "1"})
    result = _forwarding.plan(_nftnet.normalise([ISO]), path)
    # wan1 was 1 before: nothing to write; gone0 no longer exists: nothing to write
    assert result["restore"] == {"net/ipv4/conf/wan0/forwarding": "0"} and result["before"] == {}
    assert _forwarding.restore_lines(result) == [
        "set net/ipv4/conf/wan0/forwarding = 0 (the value found before a network switched it on)"]
    live["net/ipv4/conf/wan0/forwarding"] = "0"
    assert _forwarding.plan(_nftnet.normalise([ISO]), path)["restore"] == {}


@pytest.mark.parametrize("text", ["{broken", '{"forwarding_before": {"wan0": "yes", "7": 0}}', '[]'])
def test_a_broken_record_counts_as_none(tmp_path, live, text):
    path = tmp_path / "netdevs.json"
    path.write_text(text)
    assert _forwarding.saved(str(path)) == {}


@pytest.mark.parametrize("other, before", [
    (None, "0"),  # only the collection asked for it: it was off
    ("net.ipv4.ip_forward = 1\n", "1"),  # the host's own configuration routes
    ("net.ipv4.conf.all.forwarding=1\n", "1"),
    ("-net.ipv4.conf.wan0.forwarding = 1\n", "1"),
    ("net/ipv4/conf/wan0/forwarding = 1\n", "1"),
    ("net.ipv4.conf.wan1.forwarding = 1\n# net.ipv4.ip_forward = 1\n", "0"),
])
def test_after_an_older_releases_global_switch_the_hosts_own_configuration_says_what_was_there(
        tmp_path, live, other, before):
    mine = tmp_path / "sysctl.d" / "60-hostnet-qemu-network.conf"
    mine.write_text("# Managed by Ansible\nnet.ipv4.ip_forward = 1\n")
    if other:
        (tmp_path / "sysctl.d" / "10-user.conf").write_text(other)
    live["net/ipv4/conf/wan0/forwarding"] = "1"  # set by the older release's global switch
    result = _forwarding.plan(_nftnet.normalise([NAT]), str(tmp_path / "none.json"), str(mine))
    assert result["legacy"] and result["before"] == {"wan0": before}


def test_the_guard_drops_what_enters_by_the_uplink_unless_it_goes_to_its_bridges():
    doc = json.loads(_nftrules.render([NAT, NAT2, ISO], guarded=["wan0", "eth9"]))["nftables"]
    rules = [c["add"]["rule"] for c in doc if "rule" in c.get("add", {})]
    guards = [r for r in rules if r.get("comment", "").startswith("uplink ")]
    assert guards == [dict(rules[0], expr=[
        {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wan0"}},
        {"match": {"op": "!=", "left": {"meta": {"key": "oifname"}}, "right": {"set": ["hqnat0", "hqnat1"]}}},
        {"counter": None}, {"drop": None}])]
    assert guards[0] is rules[0], "the guard comes before every accept"
    assert guards[0]["comment"] == "uplink wan0: forwarding is on for the networks behind it only"
    assert "uplink" not in json.dumps(json.loads(_nftrules.render([NAT])))


PROXY_NDP = {"name": "rtnet", "kind": "routed", "bridge": "hqrt0", "address": "10.66.0.1/24", "uplink": "wan0",
             "ipv6": {"address": "fd00:66::1/64"},
             "routes": [{"to": "2001:db8:ff::66/128", "via": "fd00:66::11", "proxy_arp": True}]}
ROUTER6 = ["net/ipv6/conf/wan0/accept_ra", "net/ipv6/conf/wan0/forwarding", "net/ipv6/conf/wan0/proxy_ndp"]


@pytest.mark.parametrize("accept_ra, want_ra", [("1", "2"), ("0", None), ("2", None)])
def test_a_proxy_ndp_uplink_answers_as_a_router_and_keeps_its_router_advertisements(tmp_path, live, accept_ra, want_ra):
    live.update(dict(zip(ROUTER6, [accept_ra, "0", "0"])))
    live.update({"net/ipv4/conf/wan0/forwarding": "0", "net/ipv6/conf/wan0/force_forwarding": "0"})
    normalised = _nftnet.normalise([PROXY_NDP])
    result = _forwarding.plan(normalised, str(tmp_path / "none.json"))
    assert result["before"] == {"wan0": "0", "ipv6/wan0": "0", "ndp/wan0": "0", "router6/wan0": "0",
                                "ra/wan0": accept_ra}
    assert result["guarded"] == ["ipv6/wan0", "wan0"]  # the three NDP records are no guard
    wanted = _forwarding.sysctls(normalised, result["before"])
    assert dict((k, wanted.get(k)) for k in ROUTER6) == dict(zip(ROUTER6, [want_ra, "1", "1"]))
    # without proxy_arp the uplink is no router and its accept_ra is left alone
    plain = _nftnet.normalise([dict(PROXY_NDP, routes=[{"to": "fd00:67::/64", "via": "fd00:66::11"}])])
    assert not set(ROUTER6) & set(_forwarding.sysctls(plain, result["before"]))


def test_a_proxy_ndp_uplinks_three_values_are_written_back_when_the_route_goes(tmp_path, live):
    path = state(tmp_path, {"wan0": "0", "ipv6/wan0": "0", "ndp/wan0": "0", "router6/wan0": "0", "ra/wan0": "1"})
    live.update(dict(zip(ROUTER6, ["2", "1", "1"])))
    live.update({"net/ipv4/conf/wan0/forwarding": "1", "net/ipv6/conf/wan0/force_forwarding": "1"})
    still_routed = _nftnet.normalise([dict(PROXY_NDP, routes=[])])
    assert _forwarding.plan(still_routed, path)["restore"] == dict(zip(ROUTER6, ["1", "0", "0"]))
    assert _forwarding.plan([], path)["restore"] == dict(zip(ROUTER6, ["1", "0", "0"]), **{
        "net/ipv4/conf/wan0/forwarding": "0", "net/ipv6/conf/wan0/force_forwarding": "0"})
