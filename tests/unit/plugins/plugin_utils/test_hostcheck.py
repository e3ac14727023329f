# -*- coding: utf-8 -*-
"""The host role's variables (plugin_utils/_hostcheck.py): the spec and the rules against the host."""

import os

import pytest
import yaml

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _hostcheck
from conftest import ROOT

HOST = {"hostname": "h1", "groups": {"qemusers": ["x", "990", ""]}, "users": {"qemu": ["x", "999"]},
        "paths": ["/usr/lib/qemu/qemu-bridge-helper", "/etc/qemu/more.conf"],
        "helper_candidates": ["/usr/lib/qemu/qemu-bridge-helper"], "os_supported": True}


def check(host=None, **variables):
    host = HOST if host is None else host
    return _hostcheck.settings(dict(("hostnet_host_" + k, v) for k, v in variables.items()), host)


def refused(host=None, **variables):
    with pytest.raises(HostnetError) as info:
        check(host, **variables)
    return str(info.value)


def test_defaults_and_modes():
    out = check()
    assert out["users"] == ["qemu"] and out["device_mode"] == "0660" and out["bridge_helper"] is True
    assert check(device_mode=0o640)["device_mode"] == "0640"  # a YAML int is the bits
    assert check(device_mode="640")["device_mode"] == "0640"
    assert check(create_users="no")["create_users"] is False


@pytest.mark.parametrize("variables, want", [
    ({"users": "qemu"}, "host role: hostnet_host_users: the string 'qemu' is not a list"),
    ({"users": ["root"]}, "hostnet_host_users[0]: QEMU guests never run as root"),
    ({"users": [["qemu"]]}, "hostnet_host_users[0]: ['qemu'] is not a string"),
    ({"users": ["qemu\n"]}, "hostnet_host_users[0]: 'qemu\\n' contains the control character"),
    ({"create_users": "maybe"}, "hostnet_host_create_users: 'maybe' is not a boolean; use true or false"),
    ({"device_mode": "0999"}, "hostnet_host_device_mode: '0999' is not an octal mode"),
    ({"device_mode": 0o4755}, "hostnet_host_device_mode: mode 4755 is out of range"),
    ({"device_mode": True}, "hostnet_host_device_mode: True is not a permission mode"),
    ({"devices": "tun"}, "hostnet_host_devices: the string 'tun' is not a list"),
    ({"devices": ["tun", "vhost_net"]}, "hostnet_host_devices: vhost_net is not one of tun, vhost-net, kvm"),
    ({"kernel_modules": ["tun;rm"]}, "hostnet_host_kernel_modules[0]: 'tun;rm' is not valid"),
    ({"bridge_helper_allow": ["br0,eth0"]}, "hostnet_host_bridge_helper_allow[0] 'br0,eth0': name contains ','"),
    ({"bridge_helper_allow": ["br0\nallow all"]}, "hostnet_host_bridge_helper_allow[0]: 'br0\\nallow all' contains"),
    ({"bridge_helper_allow": ["all"]}, "hostnet_host_bridge_helper_allow: 'all' is refused here"),
    ({"bridge_helper_include": ["relative.conf"]}, "hostnet_host_bridge_helper_include[0]: 'relative.conf' is not an "
                                                   "absolute path"),
    ({"bridge_helper_include": ["/etc/qemu/gone.conf"]}, "hostnet_host_bridge_helper_include: /etc/qemu/gone.conf "
                                                         "does not exist on h1"),
    ({"group": "Bad Group"}, "hostnet_host_group: 'Bad Group' is not valid"),
    ({"group": "nogroup", "create_group": False}, "hostnet_host_group: group 'nogroup' does not exist on h1"),
    ({"group_gid": 4242}, "hostnet_host_group_gid: group 'qemusers' already exists on h1 with gid 990, not 4242"),
    ({"users": ["qemu", "nouser"], "create_users": False}, "hostnet_host_users: user(s) nouser do not exist on h1"),
    ({"userz": ["qemu"]}, "host role: unknown field(s) hostnet_host_userz"),
])
def test_refused(variables, want):
    assert want in refused(**variables)


def test_helper_not_found():
    host = dict(HOST, helper_candidates=["/opt/none"])
    assert "hostnet_host_bridge_helper_path: qemu-bridge-helper not found on h1 (tried /opt/none)" in refused(
        host, bridge_helper_path="/opt/none")
    assert check(host, bridge_helper=False)["bridge_helper"] is False
    assert check(dict(host, helper_from_package=True))["bridge_helper"] is True


def test_spec_agrees_with_role_argument_specs():
    with open(os.path.join(ROOT, "roles", "host", "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted("hostnet_host_" + key for key in _hostcheck.SPEC)
    for key, entry in _hostcheck.SPEC.items():
        option = options["hostnet_host_" + key]
        assert option.get("default") == entry["default"], key
        assert sorted(option.get("choices") or []) == sorted(entry.get("choices") or []), key
        assert {"path": "str"}.get(option["type"], option["type"]) == entry["type"], key
