# -*- coding: utf-8 -*-
"""Saved state and table handling of the network role, against the real nft in a throwaway namespace.

nftables rulesets are per network namespace, so `ip netns exec NS nft` is the real kernel's nftables
without touching the host's; a foreign table in the same namespace must survive everything.
"""

import json
import os
import stat

import pytest

from conftest import sh
from ansible_collections.hostnet.qemu.plugins.module_utils import _nftstate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

NAT = {"name": "natnet", "kind": "nat", "bridge": "hqnat0", "address": "192.168.50.1/24", "uplink": "wan0"}


@pytest.fixture
def nft(netns, tmp_path):
    """An `nft` command that runs the real nft inside the test's namespace, which holds a foreign table."""
    wrapper = tmp_path / "nft"
    wrapper.write_text('#!/bin/sh\nexec ip netns exec %s nft "$@"\n' % netns)
    wrapper.chmod(0o755)
    sh("nft", "add", "table", "inet", "foreign", netns=netns)
    sh("nft", "add", "chain", "inet", "foreign", "keep", netns=netns)
    return str(wrapper)


def tables(netns):
    return sh("nft", "list", "tables", netns=netns).stdout.split("\n")


def test_present_writes_loads_then_is_idempotent(tmp_path, netns, nft):
    rules, state = str(tmp_path / "etc" / "nftables.json"), str(tmp_path / "etc" / "netdevs.json")
    first = _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)
    assert first["changed"] and [a[0] for a in first["actions"]] == ["write_ruleset", "write", "load"]
    assert not os.path.exists(rules)  # planning writes nothing
    assert "table inet hostnet_qemu" not in tables(netns)
    _nftstate.apply(first, nft=nft)
    assert "table inet hostnet_qemu" in tables(netns) and "table inet foreign" in tables(netns)
    ruleset = sh("nft", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout
    assert "masquerade" in ruleset
    saved = json.loads(open(state).read())
    assert saved["devices"][0]["name"] == "hqnat0" and saved["sysctls"] == {
        "net/ipv4/conf/hqnat0/forwarding": "1", "net/ipv4/conf/wan0/forwarding": "1",
        "net/ipv6/conf/hqnat0/accept_ra": "0"}
    assert stat.S_IMODE(os.stat(rules).st_mode) == 0o600
    again = _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)
    assert not again["changed"]


def test_missing_table_is_reloaded(tmp_path, netns, nft):
    rules, state = str(tmp_path / "r.json"), str(tmp_path / "s.json")
    _nftstate.apply(_nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft), nft=nft)
    sh("nft", "delete", "table", "inet", "hostnet_qemu", netns=netns)
    result = _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)
    assert [a[0] for a in result["actions"]] == ["load"]
    _nftstate.apply(result, nft=nft)
    assert "table inet hostnet_qemu" in tables(netns)


def test_absent_deletes_only_our_table_and_files(tmp_path, netns, nft):
    rules, state = str(tmp_path / "r.json"), str(tmp_path / "s.json")
    _nftstate.apply(_nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft), nft=nft)
    result = _nftstate.plan([], "hostnet_qemu", rules, state, state="absent", nft=nft)
    _nftstate.apply(result, nft=nft)
    assert not os.path.exists(rules) and not os.path.exists(state)
    assert "table inet hostnet_qemu" not in tables(netns)
    assert "table inet foreign" in tables(netns)
    assert "chain keep" in sh("nft", "list", "table", "inet", "foreign", netns=netns).stdout
    assert not _nftstate.plan([], "hostnet_qemu", rules, state, state="absent", nft=nft)["changed"]


def test_only_macvtap_networks_mean_no_table_and_a_stable_state(tmp_path, netns, nft):
    """A macvtap network renders no rules: converging removes a table left by an earlier nat network, then
    a second run changes nothing (a missing table is the goal, not drift)."""
    rules, state = str(tmp_path / "nftables.json"), str(tmp_path / "netdevs.json")
    _nftstate.apply(_nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft), nft=nft)
    assert "table inet hostnet_qemu" in tables(netns)
    macvtap = [{"name": "lanmv", "kind": "macvtap", "link": "eth0", "address": "10.78.0.1/24"}]
    first = _nftstate.plan(macvtap, "hostnet_qemu", rules, state, nft=nft)
    assert [a[0] for a in first["actions"]] == ["write_ruleset", "write", "load"]
    _nftstate.apply(first, nft=nft)
    assert "table inet hostnet_qemu" not in tables(netns) and "table inet foreign" in tables(netns)
    assert not _nftstate.plan(macvtap, "hostnet_qemu", rules, state, nft=nft)["changed"]


def test_a_ruleset_nft_refuses_is_never_saved(tmp_path, netns, nft):
    """nft -c runs before the new script replaces the saved one: the old file and the live table stay, and the
    next run still sees the change to make (never "ok" over a broken file)."""
    rules, state = str(tmp_path / "r.json"), str(tmp_path / "s.json")
    _nftstate.apply(_nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft), nft=nft)
    before_file, before_live = open(rules).read(), sh("nft", "-s", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout
    result = _nftstate.plan([dict(NAT, address="192.168.51.1/24")], "hostnet_qemu", rules, state, nft=nft)
    chain = {"family": "inet", "table": "hostnet_qemu", "name": "c", "type": "filter", "hook": "bogus", "prio": 0}
    bogus = json.dumps({"nftables": [{"add": {"chain": chain}}]})
    result["actions"] = [("write_ruleset", rules, bogus, 0o600)] + [
        a for a in result["actions"] if a[0] != "write_ruleset"]
    with pytest.raises(HostnetError) as info:
        _nftstate.apply(result, nft=nft)
    assert "nft refused the new ruleset (nft -c)" in str(info.value) and "nothing was saved or loaded" in str(info.value)
    assert open(rules).read() == before_file
    assert sh("nft", "-s", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout == before_live
    assert not [name for name in os.listdir(str(tmp_path)) if ".check-" in name]
    again = _nftstate.plan([dict(NAT, address="192.168.51.1/24")], "hostnet_qemu", rules, state, nft=nft)
    assert again["changed"] and "write_ruleset" in [a[0] for a in again["actions"]]


@pytest.mark.parametrize("damage", [
    ["flush", "chain", "inet", "hostnet_qemu", "forward"],
    ["add", "rule", "inet", "hostnet_qemu", "forward", "accept"],
])
def test_a_hand_edited_or_flushed_table_is_repaired(tmp_path, netns, nft, damage):
    rules, state = str(tmp_path / "r.json"), str(tmp_path / "s.json")
    _nftstate.apply(_nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft), nft=nft)
    good = sh("nft", "-s", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout
    sh("nft", *damage, netns=netns)
    assert sh("nft", "-s", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout != good
    result = _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)
    assert result["changed"] and [a[0] for a in result["actions"]] == ["load"]
    assert result["diff"][0]["before_header"] == "live tables inet/bridge hostnet_qemu"
    _nftstate.apply(result, nft=nft)
    assert sh("nft", "-s", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout == good
    assert not _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)["changed"]


def test_the_json_ruleset_reads_back_as_the_intended_rules(tmp_path, netns, nft):
    """The kernel's own listing of the loaded JSON: every rule where it belongs, in order."""
    iso = {"name": "isonet", "kind": "isolated", "bridge": "hqiso0", "address": "192.168.60.1/24"}
    nat = dict(NAT, filter={"reject": ["10.0.0.5/32"], "allow": ["10.0.0.0/24", "fd00::/64"]})
    rules, state = str(tmp_path / "nftables.json"), str(tmp_path / "netdevs.json")
    _nftstate.apply(_nftstate.plan([iso, nat], "hostnet_qemu", rules, state, nft=nft), nft=nft)
    listing = [line.strip() for line in
               sh("nft", "-s", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout.splitlines()]
    want = [
        'iifname "hqiso0" oifname "hqiso0" counter accept comment "network isonet: within the network"',
        'iifname "hqiso0" counter drop comment "network isonet: isolated, nothing leaves"',
        'oifname "hqiso0" counter drop comment "network isonet: isolated, nothing enters"',
        'iifname "hqnat0" oifname "hqnat0" counter accept comment "network natnet: within the network"',
        'iifname "wan0" oifname "hqnat0" ct state established,related accept comment "network natnet: replies"',
        'oifname "hqnat0" counter drop comment "network natnet: only replies enter"',
        'iifname "hqnat0" ip daddr 10.0.0.5 counter reject with icmpx admin-prohibited comment "network natnet: reject"',
        'iifname "hqnat0" oifname "wan0" ip daddr 10.0.0.0/24 counter accept comment "network natnet: allow"',
        'iifname "hqnat0" oifname "wan0" ip6 daddr fd00::/64 counter accept comment "network natnet: allow"',
        'iifname "hqnat0" counter reject with icmpx admin-prohibited comment "network natnet: not in allow"',
        'oifname "wan0" ip saddr 192.168.50.0/24 counter masquerade comment "network natnet"',
    ]
    assert [line for line in listing if line in want] == want, "\n".join(listing)
    assert "type filter hook forward priority filter; policy accept;" in listing
    assert "type nat hook postrouting priority srcnat; policy accept;" in listing


def test_an_older_nft_syntax_ruleset_is_replaced_and_removed(tmp_path, netns, nft):
    old = tmp_path / "nftables.nft"
    old.write_text("table inet hostnet_qemu\ndelete table inet hostnet_qemu\n")
    (tmp_path / "nftables.nft.live").write_text("x\n")
    rules, state = str(tmp_path / "nftables.json"), str(tmp_path / "netdevs.json")
    result = _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)
    assert ("remove", str(old)) in result["actions"]
    _nftstate.apply(result, nft=nft)
    assert sorted(os.listdir(str(tmp_path))) == ["netdevs.json", "nft", "nftables.json", "nftables.json.live"]
    assert not _nftstate.plan([NAT], "hostnet_qemu", rules, state, nft=nft)["changed"]
