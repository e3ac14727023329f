# -*- coding: utf-8 -*-
"""The networks module's file planning (_netset, _bootfiles) against real files in a temporary tree.

systemd is not on this machine: the unit and dnsmasq steps are proven in the molecule scenario `network`
(converge, idempotence, check mode, an interrupted run, teardown). Here: what the drop-ins hold, that the
boot CLI's files are derived from the code, that stale copies go, and that check mode's plan writes nothing.
"""

import os

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _bootfiles, _netset
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

FWD = {"net/ipv4/conf/hqnat0/forwarding": "1", "net/ipv4/conf/wan0/forwarding": "1"}


def spec(tmp_path, **kw):
    base = dict(state="present", config_dir=str(tmp_path / "etc"), lib_dir=str(tmp_path / "lib"),
                unit_dir=str(tmp_path / "units"), sysctl_file=str(tmp_path / "sysctl.d" / "60-net.conf"),
                modules_file=str(tmp_path / "modules-load.d" / "net.conf"), bridge_nf_call=None,
                nm_unmanaged=True, nm_conf=str(tmp_path / "NetworkManager" / "conf.d" / "90.conf"),
                network_unit="[Unit]\n[Service]\nExecStart=/bin/true\n", dnsmasq_unit=None, dnsmasq=[],
                sysctls={}, bridges=["hqiso0", "hqnat0"])
    base.update(kw)
    return base


def files_plan(s):
    result = _netset._Plan()
    paths = _netset._paths(s)
    _netset._boot_files(result, s)
    _netset._host_files(result, s, paths)
    return result


def apply_files(result):
    _netset.apply({"steps": result.steps})


def tree(root):
    out = {}
    for dirpath, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path) as handle:
                out[os.path.relpath(path, str(root))] = handle.read()
    return out


@pytest.mark.parametrize("bridge_nf, old, want", [
    (False, None, "net.bridge.bridge-nf-call-arptables = 0\nnet.bridge.bridge-nf-call-ip6tables = 0\n"
                  "net.bridge.bridge-nf-call-iptables = 0\n"),
    # an older release's global forwarding line goes; bridge-nf lines are kept when the setting is unset
    (None, "net.bridge.bridge-nf-call-iptables=1\nnet.ipv4.ip_forward = 1\nkernel.foo = 3\n",
     "net.bridge.bridge-nf-call-iptables = 1\n"),
])
def test_the_sysctl_drop_in_holds_bridge_nf_only_and_keeps_it_when_unset(bridge_nf, old, want):
    assert _netset.sysctl_text(bridge_nf, old) == _netset.HEADER + want


@pytest.mark.parametrize("old", [None, "net.ipv4.ip_forward = 1\n"])
def test_an_empty_sysctl_drop_in_is_removed(old):
    """Forwarding is never in the drop-in: the boot unit switches it on per interface after the table."""
    assert _netset.sysctl_text(None, old) is None


def test_the_boot_cli_closure_is_derived_from_the_imports_and_has_no_ansible():
    sources = _bootfiles.closure()
    assert {"_bootcli", "_engine", "_netlink", "_nlwire", "_uplink", "_uplinkhost", "_uplinkplan", "_uplinkstate", "_errors"} <= set(sources)
    for name, text in sources.items():
        found, ansible = _bootfiles._imports(text, name)
        assert not ansible and found <= set(sources), name


def test_a_closure_module_that_imports_ansible_is_refused(monkeypatch):
    real = _bootfiles._source
    monkeypatch.setattr(_bootfiles, "_source", lambda name: real(name) + (
        "\nfrom ansible.module_utils.basic import AnsibleModule\n" if name == "_files" else ""))
    with pytest.raises(HostnetError) as err:
        _bootfiles.closure()
    assert str(err.value) == "boot CLI: module_utils/_files.py imports ansible; the boot CLI runs without Ansible"


def test_files_are_written_once_then_the_plan_is_empty(tmp_path):
    (tmp_path / "NetworkManager" / "conf.d").mkdir(parents=True)
    s = spec(tmp_path, sysctls=FWD, bridge_nf_call=True)
    first = files_plan(s)
    assert first.lines and first.diff
    apply_files(first)
    have = tree(tmp_path)
    assert have["sysctl.d/60-net.conf"].endswith("net.bridge.bridge-nf-call-iptables = 1\n")
    assert "forward" not in have["sysctl.d/60-net.conf"]
    assert have["modules-load.d/net.conf"] == _netset.HEADER + "br_netfilter\n"
    assert "unmanaged-devices+=interface-name:hqiso0;interface-name:hqnat0\n" in have["NetworkManager/conf.d/90.conf"]
    assert have["units/hostnet-qemu-network.service"] == s["network_unit"]
    assert have["lib/hostnet-qemu-network"] == _bootfiles.LAUNCHER
    assert os.stat(str(tmp_path / "lib" / "hostnet-qemu-network")).st_mode & 0o777 == 0o755
    again = files_plan(s)
    assert again.lines == [] and again.diff == [] and again.steps["write"] == []


def test_without_network_manager_no_conf_is_written(tmp_path):
    result = files_plan(spec(tmp_path))
    assert not any(path.startswith(str(tmp_path / "NetworkManager")) for path, _t, _m in result.steps["write"])


def test_a_stale_or_edited_engine_copy_is_put_right_and_shown_as_digests(tmp_path):
    s = spec(tmp_path)
    apply_files(files_plan(s))
    tree_dir = tmp_path / "lib" / _bootfiles.TREE
    (tree_dir / "_gone.py").write_text("# a module of an older release\n")
    (tree_dir / "_files.py").write_text("# edited by hand\n")
    result = files_plan(s)
    assert sorted(result.lines) == sorted(["remove %s" % (tree_dir / "_gone.py"), "write %s" % (tree_dir / "_files.py")])
    summary = [d for d in result.diff if d["before_header"].startswith(s["lib_dir"])]
    assert len(summary) == 1
    assert "_gone.py" in summary[0]["before"] and "_gone.py" not in summary[0]["after"]
    apply_files(result)
    assert not (tree_dir / "_gone.py").exists()
    assert files_plan(s).lines == []


def test_check_mode_plans_and_writes_nothing(tmp_path):
    result = files_plan(spec(tmp_path, sysctls=FWD))
    assert result.lines
    assert tree(tmp_path) == {}


def test_absent_removes_every_file_and_the_cli_tree(tmp_path):
    (tmp_path / "NetworkManager" / "conf.d").mkdir(parents=True)
    s = spec(tmp_path, sysctls=FWD, bridge_nf_call=True)
    apply_files(files_plan(s))
    (tmp_path / "sysctl.d" / "99-other.conf").write_text("kernel.x = 1\n")
    apply_files(files_plan(dict(s, state="absent", sysctls={})))
    assert tree(tmp_path) == {"sysctl.d/99-other.conf": "kernel.x = 1\n"}
    assert not (tmp_path / "lib").exists()


def test_python_caches_beside_the_copy_are_not_stale_files(tmp_path):
    s = spec(tmp_path)
    apply_files(files_plan(s))
    cache = tmp_path / "lib" / _bootfiles.TREE / "__pycache__"
    cache.mkdir()
    (cache / "_engine.cpython-311.pyc").write_bytes(b"\xa7\x0d\x0d\x0a\x00")
    (tmp_path / "lib" / _bootfiles.TREE / "_old.so").write_bytes(b"\xa7\x00")
    result = files_plan(s)
    assert result.lines == ["remove %s" % (tmp_path / "lib" / _bootfiles.TREE / "_old.so")]
