"""The device modules through ansible-playbook against localhost, inside a throwaway namespace.

Four steps per module: check mode (changed, nothing written), apply (changed), apply again (unchanged),
check again (unchanged). Bad inputs: one exact message each, and the namespace untouched.
"""

import json
import subprocess
import sys

import pytest

from conftest import run_playbook, snapshot

FOUR_STEPS = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: step
      {module}:
{args}
"""


def _yaml_args(args, indent=8):
    return "\n".join(" " * indent + "%s: %s" % (k, json.dumps(v)) for k, v in args.items())


def four_steps(tmp_path, netns, module, args):
    text = FOUR_STEPS.format(module=module, args=_yaml_args(dict(args, netns=netns)))
    start = snapshot(netns)
    rc, res, _stats = run_playbook(text, tmp_path, check=True)
    assert rc == 0, res
    assert res["step"]["changed"] is True
    assert res["step"]["plan"], "check mode must report the plan"
    assert snapshot(netns) == start, "check mode wrote to the kernel"
    rc, res, _stats = run_playbook(text, tmp_path)
    assert rc == 0 and res["step"]["changed"] is True, res
    applied = snapshot(netns)
    assert applied != start
    rc, res2, _stats = run_playbook(text, tmp_path)
    assert rc == 0 and res2["step"]["changed"] is False and res2["step"]["plan"] == [], (res2["step"].get("plan"), res2)
    rc, res3, _stats = run_playbook(text, tmp_path, check=True)
    assert rc == 0 and res3["step"]["changed"] is False, res3
    assert snapshot(netns) == applied
    return res, applied


def test_bridge_four_steps(tmp_path, netns, veth):
    res, kernel = four_steps(tmp_path, netns, "hostnet.qemu.bridge",
                             {"name": "vmnet0", "stp": False, "addresses": ["192.0.2.1/24", "2001:db8::1/64"],
                              "ports": [veth]})
    assert kernel[veth]["master"] == "vmnet0"
    assert [a for a in kernel["vmnet0"]["addresses"] if not a.startswith("fe80")] == ["192.0.2.1/24", "2001:db8::1/64"]
    assert res["step"]["interface"]["ports"] == [veth]
    assert res["step"]["diff"]["before"]["vmnet0"] is None


def test_tap_four_steps(tmp_path, netns):
    res, kernel = four_steps(tmp_path, netns, "hostnet.qemu.tap",
                             {"name": "vm1-net0", "owner": "nobody", "group": "nogroup", "mac": "52:54:00:00:00:aa"})
    assert kernel["vm1-net0"]["linkinfo"]["info_data"]["user"] in ("nobody", 65534)
    assert kernel["vm1-net0"]["address"] == "52:54:00:00:00:aa"
    assert res["step"]["owner"] == 65534 and res["step"]["group"] == 65534
    assert res["step"]["flags"] == ["tap", "persist"]


def test_macvtap_four_steps(tmp_path, netns, veth):
    res, kernel = four_steps(tmp_path, netns, "hostnet.qemu.macvtap",
                             {"name": "mv0", "link": veth, "mode": "bridge", "device_group": "nogroup"})
    assert res["step"]["device"] == "/dev/tap%d" % kernel["mv0"]["ifindex"]
    assert res["step"]["mac"] == kernel["mv0"]["address"]


def test_netdevs_four_steps(tmp_path, netns, veth):
    devices = [{"kind": "bridge", "name": "br0", "ports": [veth]},
               {"kind": "tap", "name": "vm1-net0", "owner": "nobody", "master": "br0"},
               {"kind": "tap", "name": "vm2-net0", "owner": "nobody", "master": "br0", "multi_queue": True},
               {"kind": "tun", "name": "vpn0"},
               {"kind": "macvtap", "name": "mv0", "link": "up0p"}]
    res, kernel = four_steps(tmp_path, netns, "hostnet.qemu.netdevs", {"devices": devices, "purge_prefix": "vm"})
    assert kernel["vm2-net0"]["master"] == "br0"
    assert set(res["step"]["devices"]) == {"br0", "vm1-net0", "vm2-net0", "vpn0", "mv0"}
    # invocation echoes what was set, at every depth, not every unset suboption of every device
    echoed = res["step"]["invocation"]["module_args"]
    assert echoed["devices"] == devices and echoed["purge_prefix"] == "vm" and echoed["netns"] == netns


def test_netdev_info(tmp_path, netns, veth):
    text = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: make
      hostnet.qemu.netdevs:
        netns: %s
        devices: [{kind: bridge, name: br0, ports: [%s]}, {kind: tap, name: t0, owner: nobody, master: br0}]
    - name: info
      hostnet.qemu.netdev_info:
        netns: %s
        kinds: [bridge, tap]
""" % (netns, veth, netns)
    rc, res, _stats = run_playbook(text, tmp_path)
    assert rc == 0
    info = res["info"]["netdevs"]
    assert set(info) == {"br0", "t0"}
    assert info["br0"]["ports"] == ["t0", veth] and info["t0"]["owner"] == 65534 and info["t0"]["persist"]


BAD = [
    ("hostnet.qemu.bridge", {"name": ""}, "bridge name must be a non-empty string, got ''"),
    ("hostnet.qemu.bridge", {"name": "a-very-long-name0"},
     "bridge 'a-very-long-name0': name is 17 bytes long; Linux allows at most 15, pick a shorter name"),
    ("hostnet.qemu.bridge", {"name": "br/0"},
     "bridge 'br/0': name contains '/'; interface names may contain only letters, digits, '_', '.' and '-'"),
    ("hostnet.qemu.bridge", {"name": "br 0"},
     "bridge 'br 0': name contains ' '; interface names may contain only letters, digits, '_', '.' and '-'"),
    ("hostnet.qemu.tap", {"name": "vm1-net0", "owner": "qemu-no-such"},
     "tap 'vm1-net0': owner 'qemu-no-such' does not exist; create the user first or give a numeric uid"),
    ("hostnet.qemu.tap", {"name": "vm1-net0", "group": "qemu-no-such"},
     "tap 'vm1-net0': group 'qemu-no-such' does not exist; create the group first or give a numeric gid"),
    ("hostnet.qemu.macvtap", {"name": "mv0", "link": "eth9"},
     "macvtap 'mv0': parent link 'eth9' not found in namespace '{ns}'; create it first or fix 'link'"),
    ("hostnet.qemu.bridge", {"name": "br0", "ports": ["eth9"]},
     "bridge 'br0': port 'eth9' not found in namespace '{ns}'; create it first or remove it from ports"),
    ("hostnet.qemu.tap", {"name": "t0", "mac": "nonsense"},
     "tap 't0': 'nonsense' is not a valid MAC address; use the form 52:54:00:12:34:56"),
    ("hostnet.qemu.tap", {"name": "t0", "mac": "01:00:5e:00:00:01"},
     "tap 't0': MAC '01:00:5e:00:00:01' is a multicast address (lowest bit of the first octet set); give a unicast address"),
    ("hostnet.qemu.tap", {"name": "t0", "mac": "00:00:00:00:00:00"},
     "tap 't0': MAC '00:00:00:00:00:00' is all zeros; give a unicast address"),
    ("hostnet.qemu.bridge", {"name": "br0", "addresses": ["10.0.0.300/24"]},
     "bridge 'br0': address '10.0.0.300/24' is not a valid CIDR address (IPv4 a.b.c.d/n or IPv6 x::y/n)"),
    ("hostnet.qemu.bridge", {"name": "br0", "addr_gen_mode": "stable_privacy"},
     "value of addr_gen_mode must be one of: eui64, none, got: stable_privacy"),
    ("hostnet.qemu.netdevs", {"devices": [{"kind": "tap", "name": "t0", "addr_gen_mode": "eui64"}]},
     "tap 't0': option(s) addr_gen_mode do not apply to a tap"),
]


@pytest.mark.parametrize("module, args, message", BAD, ids=[m[2][:40] for m in BAD])
def test_bad_input_fails_cleanly(tmp_path, netns, module, args, message):
    before = snapshot(netns)
    text = FOUR_STEPS.format(module=module, args=_yaml_args(dict(args, netns=netns)))
    rc, res, stats = run_playbook(text, tmp_path)
    assert rc != 0 and stats["failures"] == 1
    assert res["step"]["msg"] == message.format(ns=netns)
    assert snapshot(netns) == before


def test_missing_netns_is_not_created(tmp_path):
    text = FOUR_STEPS.format(module="hostnet.qemu.bridge", args=_yaml_args({"name": "br0", "netns": "hnt-missing"}))
    rc, res, _stats = run_playbook(text, tmp_path)
    assert rc != 0
    assert res["step"]["msg"] == ("netns 'hnt-missing': network namespace does not exist (no /run/netns/hnt-missing); "
                                  "create it first, e.g. 'ip netns add hnt-missing'")
    assert subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.count("hnt-missing") == 0


def test_port_of_another_bridge_and_mode_change(tmp_path, netns, veth):
    setup = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: make
      hostnet.qemu.netdevs:
        netns: %s
        devices: [{kind: bridge, name: br1, ports: [%s]}, {kind: bridge, name: br0}, {kind: tap, name: t0}]
""" % (netns, veth)
    assert run_playbook(setup, tmp_path)[0] == 0
    before = snapshot(netns)
    for module, args, message in [
        ("hostnet.qemu.bridge", {"name": "br0", "ports": [veth]},
         "bridge 'br0': port 'up0' is already enslaved to 'br1'; set force: true to move it"),
        ("hostnet.qemu.tap", {"name": "t0", "mode": "tun"},
         "tap 't0': changing mode from tap to tun needs the device deleted and created again; set recreate: true to allow "
         "it (anything attached to it, such as a running guest, loses the device)"),
        ("hostnet.qemu.tap", {"name": "t0", "multi_queue": True},
         "tap 't0': changing multi_queue from False to True needs the device deleted and created again; set recreate: "
         "true to allow it (anything attached to it, such as a running guest, loses the device)"),
        ("hostnet.qemu.bridge", {"name": "t0"},
         "bridge 't0': a tap named 't0' already exists in namespace '%s'; remove it or choose another name" % netns),
    ]:
        text = FOUR_STEPS.format(module=module, args=_yaml_args(dict(args, netns=netns)))
        rc, res, _stats = run_playbook(text, tmp_path)
        assert rc != 0 and res["step"]["msg"] == message
        assert snapshot(netns) == before


def test_missing_pyroute2_on_target(tmp_path, netns):
    """A target interpreter without pyroute2 gets Ansible's standard missing-library message."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    probe = subprocess.run([str(bare / "bin" / "python"), "-c", "import pyroute2"], capture_output=True, check=False)
    assert probe.returncode != 0, "the bare venv must not see pyroute2"
    text = FOUR_STEPS.format(module="hostnet.qemu.bridge", args=_yaml_args({"name": "br0", "netns": netns}))
    text = text.replace("gather_facts: false", "gather_facts: false\n  vars:\n    ansible_python_interpreter: %s"
                        % (bare / "bin" / "python"))
    before = snapshot(netns)
    rc, res, _stats = run_playbook(text, tmp_path)
    assert rc != 0
    assert res["step"]["msg"].startswith("Failed to import the required Python library (pyroute2)")
    assert snapshot(netns) == before
