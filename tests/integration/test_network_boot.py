# -*- coding: utf-8 -*-
"""The boot-time CLI (roles/network/files/hostnet-qemu-network) against the real kernel in a throwaway namespace:
installed with exactly the engine files the role copies (roles/network/vars/main.yml), it converges piece by
piece. A broken saved file, a macvtap whose parent is gone and a tap whose owner was deleted are each named at
the end; everything else (bridges, other taps, the nftables table, the sysctls) is applied anyway.
"""

import json
import os
import shutil
import sys

import yaml

from conftest import ROOT, links, sh

CLI = os.path.join(ROOT, "roles", "network", "files", "hostnet-qemu-network")
NAT = {"name": "natnet", "kind": "nat", "bridge": "hqboot0", "address": "192.168.77.1/24", "uplink": "hqwan0"}


def install(tmp_path):
    """The CLI and its engine files as the role installs them (a missing file fails the import here)."""
    with open(os.path.join(ROOT, "roles", "network", "vars", "main.yml")) as handle:
        files = yaml.safe_load(handle)["__hostnet_network_engine_files"]
    lib = tmp_path / "lib"
    dest = lib / "ansible_collections" / "hostnet" / "qemu" / "plugins" / "module_utils"
    dest.mkdir(parents=True)
    for name in files:
        shutil.copy(os.path.join(ROOT, "plugins", "module_utils", name), str(dest / name))
    shutil.copy(CLI, str(lib / "hostnet-qemu-network"))
    return str(lib / "hostnet-qemu-network")


def saved_state(tmp_path, nft_script):
    """What the role saves: the state JSON of the networks, the ruleset, the guests' device set."""
    from ansible_collections.hostnet.qemu.plugins.module_utils import _nftrules, _nftstate
    etc = tmp_path / "etc"
    (etc / "netdevs.d").mkdir(parents=True)
    (etc / "nftables.json").write_text(nft_script or _nftrules.render([NAT]))
    (etc / "netdevs.json").write_text(_nftstate.render_state([NAT], str(etc / "nftables.json")))
    return etc


def run(cli, netns, etc):
    return sh(sys.executable, cli, str(etc / "netdevs.json"), netns=netns, check=False)


def test_one_broken_piece_does_not_stop_the_rest(tmp_path, netns):
    sh("ip", "-n", netns, "link", "add", "hqwan0", "type", "veth", "peer", "name", "hqwan1")
    cli, etc = install(tmp_path), saved_state(tmp_path, None)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", netns=netns)
    guests = [{"kind": "tap", "name": "hqgood0", "master": "hqboot0"},
              {"kind": "tap", "name": "hqorphan0", "owner": "hnt-deleted-user"},
              {"kind": "macvtap", "name": "hqmv0", "link": "hqgone0", "mode": "bridge"},
              {"kind": "tap", "name": "hqgood1"}]
    (etc / "netdevs.d" / "guests.json").write_text(json.dumps({"devices": guests}))
    (etc / "netdevs.d" / "broken.json").write_text('{"devices": [{"kind": "tap", "na')  # truncated
    proc = run(cli, netns, etc)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    have = links(netns)
    assert "hqboot0" in have and "hqgood0" in have and "hqgood1" in have
    assert have["hqgood0"].get("master") == "hqboot0"
    assert "hqorphan0" not in have and "hqmv0" not in have
    failed = [line for line in proc.stderr.splitlines() if "FAILED: " in line]
    assert len(failed) == 3, proc.stderr
    assert any("broken.json: unreadable" in line and "Traceback" not in proc.stderr for line in failed)
    assert any("device 'hqorphan0'" in line and "hnt-deleted-user" in line for line in failed)
    assert any("device 'hqmv0'" in line and "hqgone0" in line for line in failed)
    assert "3 piece(s) failed; everything else was applied" in proc.stderr
    # the table and, after it, forwarding
    assert "masquerade" in sh("nft", "list", "table", "inet", "hostnet_qemu", netns=netns).stdout
    assert sh("cat", "/proc/sys/net/ipv4/ip_forward", netns=netns).stdout.strip() == "1"


def test_a_bad_ruleset_leaves_forwarding_off_and_is_named(tmp_path, netns):
    sh("ip", "-n", netns, "link", "add", "hqwan0", "type", "veth", "peer", "name", "hqwan1")
    cli, etc = install(tmp_path), saved_state(tmp_path, '{"nftables": [{"add": {"table": ')  # truncated
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", netns=netns)
    proc = run(cli, netns, etc)
    assert proc.returncode == 1
    assert "hqboot0" in links(netns)
    assert "nftables.json: nft -j -f failed" in proc.stderr
    assert "sysctl net.ipv4.ip_forward: not set to 1 because the filter is not in place" in proc.stderr
    assert sh("cat", "/proc/sys/net/ipv4/ip_forward", netns=netns).stdout.strip() == "0"


def test_an_unreadable_state_file_is_one_line(tmp_path, netns):
    cli, etc = install(tmp_path), saved_state(tmp_path, None)
    (etc / "netdevs.json").write_text("{not json")
    proc = run(cli, netns, etc)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if "FAILED" in line][0].startswith(
        "hostnet-qemu-network: FAILED: %s: unreadable (" % (etc / "netdevs.json"))
    # the ruleset beside it is still loaded
    assert "hostnet_qemu" in sh("nft", "list", "tables", netns=netns).stdout


def test_a_clean_state_exits_zero(tmp_path, netns):
    sh("ip", "-n", netns, "link", "add", "hqwan0", "type", "veth", "peer", "name", "hqwan1")
    cli, etc = install(tmp_path), saved_state(tmp_path, None)
    proc = run(cli, netns, etc)
    assert proc.returncode == 0, proc.stderr
    assert "FAILED" not in proc.stderr and "hqboot0" in links(netns)
