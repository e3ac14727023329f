# -*- coding: utf-8 -*-
"""The boot-time CLI (module_utils/_bootcli.py) against the real kernel in a throwaway namespace: installed
exactly as the networks module installs it (_bootfiles.files: the launcher and the derived import closure), it
converges piece by piece. A broken saved file, a macvtap whose parent is gone and a tap whose owner was deleted
are each named at the end; everything else (bridges, other taps, the nftables table, the sysctls) is applied
anyway.
"""

import json
import os
import sys

from conftest import install_boot_cli, links, sh

NAT = {"name": "natnet", "kind": "nat", "bridge": "hqboot0", "address": "192.168.77.1/24", "uplink": "hqwan0"}


def install(tmp_path):
    return install_boot_cli(tmp_path / "lib")


def saved_state(tmp_path, nft_script):
    """What the role saves: the state JSON of the networks, the ruleset, the guests' device set."""
    from ansible_collections.hostnet.qemu.plugins.module_utils import _nftrules, _nftstate
    etc = tmp_path / "etc"
    (etc / "netdevs.d").mkdir(parents=True)
    (etc / "nftables.json").write_text(nft_script or _nftrules.render([NAT]))
    (etc / "netdevs.json").write_text(_nftstate.render_state([NAT], str(etc / "nftables.json")))
    return etc


def forwarding(netns):
    """conf/IF/forwarding of every interface but lo and default, read by sysctl(8) in the namespace."""
    out = sh("sysctl", "-a", "-r", r"^net\.ipv4\.conf\..*\.forwarding$", netns=netns).stdout
    values = dict((line.split(".")[3], line.split("=")[1].strip()) for line in out.splitlines())
    return dict((k, v) for k, v in values.items() if k not in ("lo", "default"))


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
    assert forwarding(netns) == {"all": "0", "hqboot0": "1", "hqwan0": "1", "hqwan1": "0", "hqgood0": "0", "hqgood1": "0"}


def test_a_bad_ruleset_leaves_forwarding_off_and_is_named(tmp_path, netns):
    sh("ip", "-n", netns, "link", "add", "hqwan0", "type", "veth", "peer", "name", "hqwan1")
    cli, etc = install(tmp_path), saved_state(tmp_path, '{"nftables": [{"add": {"table": ')  # truncated
    sh("sysctl", "-qw", "net.ipv4.ip_forward=0", netns=netns)
    proc = run(cli, netns, etc)
    assert proc.returncode == 1
    assert "hqboot0" in links(netns)
    assert "nftables.json: nft -j -f failed" in proc.stderr
    assert "sysctl net/ipv4/conf/hqwan0/forwarding: not set to 1 because the filter is not in place" in proc.stderr
    assert forwarding(netns) == {"all": "0", "hqboot0": "0", "hqwan0": "0", "hqwan1": "0"}


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


def test_the_installed_cli_imports_without_ansible_and_only_from_its_own_copy(tmp_path):
    """Isolated mode (no PYTHONPATH, no user site): what the unit runs finds every module in its copy."""
    cli = install(tmp_path)
    lib = os.path.dirname(cli)
    code = ("import sys\n"
            "sys.modules['ansible'] = None  # an import of ansible fails at once\n"
            "sys.path.insert(0, %r)\n"
            "from ansible_collections.hostnet.qemu.plugins.module_utils import _bootcli\n"
            "mods = [m for n, m in sys.modules.items() if n.startswith('ansible_collections.hostnet')]\n"
            "bad = [m.__name__ for m in mods if getattr(m, '__file__', None) and not m.__file__.startswith(%r)]\n"
            "print(len(mods), bad)\n" % (lib, lib))
    proc = sh(sys.executable, "-I", "-c", code, check=False)
    assert proc.returncode == 0, proc.stderr
    count, bad = proc.stdout.split(" ", 1)
    assert int(count) >= 10 and bad.strip() == "[]"
