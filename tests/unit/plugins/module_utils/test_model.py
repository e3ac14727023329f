"""Validation at the edge: every bad input gets one clear message naming the object."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _model, _validate


@pytest.mark.parametrize("name, fragment", [
    ("", "name must be a non-empty string"),
    ("a" * 16, "name is 16 bytes long; Linux allows at most 15"),
    ("br/0", "name contains '/'"),
    ("br:0", "name contains ':'"),
    ("br 0", "name contains ' '"),
    ("br\t0", "name contains '\\t'"),
    ("..", "'.' and '..' are not valid"),
])
def test_bad_interface_names(name, fragment):
    with pytest.raises(HostnetError) as err:
        _model.normalise({"name": name}, kind="bridge")
    assert fragment in str(err.value)


def test_fifteen_bytes_is_fine_and_multibyte_counts_bytes():
    assert _validate.ifname("a" * 15) == "a" * 15
    with pytest.raises(HostnetError, match="is 16 bytes long"):
        _validate.ifname("é" * 8)


@pytest.mark.parametrize("value, fragment", [
    ("zz:00:00:00:00:01", "is not a valid MAC address"),
    ("01:00:5e:00:00:01", "is a multicast address"),
    ("00:00:00:00:00:00", "is all zeros"),
])
def test_bad_macs(value, fragment):
    with pytest.raises(HostnetError) as err:
        _model.normalise({"name": "t0", "mac": value}, kind="tap")
    assert str(err.value).startswith("tap 't0': ")
    assert fragment in str(err.value)


def test_mac_is_normalised():
    spec = _model.normalise({"name": "t0", "mac": "52-54-00-AB-CD-EF"}, kind="tap")
    assert spec["mac"] == "52:54:00:ab:cd:ef"


@pytest.mark.parametrize("value, fragment", [
    ("10.0.0.1", "has no prefix length"),
    ("10.0.0.300/24", "is not a valid CIDR"),
    ("fd00::zz/64", "is not a valid CIDR"),
])
def test_bad_cidrs(value, fragment):
    with pytest.raises(HostnetError) as err:
        _model.normalise({"name": "br0", "addresses": [value]}, kind="bridge")
    assert fragment in str(err.value)
    assert "bridge 'br0': address" in str(err.value)


def test_cidrs_normalised_and_deduplicated():
    spec = _model.normalise({"name": "br0", "addresses": ["fd00:0:0::1/64", "fd00::1/64", "10.0.0.1/24"]}, kind="bridge")
    assert spec["addresses"] == ["10.0.0.1/24", "fd00::1/64"]


def test_unknown_owner_and_group():
    with pytest.raises(HostnetError) as err:
        _model.normalise({"name": "vm1-net0", "owner": "no-such-user-x"}, kind="tap")
    assert str(err.value) == ("tap 'vm1-net0': owner 'no-such-user-x' does not exist; "
                              "create the user first or give a numeric uid")
    with pytest.raises(HostnetError, match="group 'no-such-group-x' does not exist"):
        _model.normalise({"name": "vm1-net0", "group": "no-such-group-x"}, kind="tap")


def test_owner_names_resolve_to_numbers():
    spec = _model.normalise({"name": "t0", "owner": "nobody", "group": "0"}, kind="tap")
    assert spec["owner"] == 65534 and spec["group"] == 0


def test_option_of_another_kind_is_refused():
    with pytest.raises(HostnetError, match="option\\(s\\) ports do not apply to a tap"):
        _model.normalise({"kind": "tap", "name": "t0", "ports": ["x"]})


def test_tun_has_no_mac():
    with pytest.raises(HostnetError, match="a tun \\(layer 3\\) device has no MAC"):
        _model.normalise({"kind": "tun", "name": "t0", "mac": "52:54:00:00:00:01"})


def test_macvtap_mode_and_tap_mode_do_not_mix():
    with pytest.raises(HostnetError, match="mode 'bridge' is not a tap mode"):
        _model.normalise({"kind": "tap", "name": "t0", "mode": "bridge"})
    with pytest.raises(HostnetError, match="is not a macvtap mode"):
        _model.normalise({"kind": "macvtap", "name": "m0", "link": "eth0", "mode": "tap"})


def test_macvtap_needs_link_and_device_mode_defaults():
    with pytest.raises(HostnetError, match="'link' \\(the parent interface\\) is required"):
        _model.normalise({"kind": "macvtap", "name": "m0"})
    assert _model.normalise({"kind": "macvtap", "name": "m0", "link": "e"})["device_mode"] == 0o600
    assert _model.normalise({"kind": "macvtap", "name": "m0", "link": "e", "device_group": "0"})["device_mode"] == 0o660
    with pytest.raises(HostnetError, match="device_mode: '999' is not an octal mode"):
        _model.normalise({"kind": "macvtap", "name": "m0", "link": "e", "device_mode": "999"})
    # a YAML int is already the bits (0660 without quotes is 432), never re-read as octal digits
    assert _model.normalise({"kind": "macvtap", "name": "m0", "link": "e", "device_mode": 0o660})["device_mode"] == 0o660
    assert _model.normalise({"kind": "macvtap", "name": "m0", "link": "e", "device_mode": "0o640"})["device_mode"] == 0o640
    for bad in (True, 0o1777, "0660\n", ["0660"]):
        with pytest.raises(HostnetError, match="device_mode"):
            _model.normalise({"kind": "macvtap", "name": "m0", "link": "e", "device_mode": bad})


@pytest.mark.parametrize("mode", ["0666", "0604", "0662", 0o601, "0o664"])
def test_macvtap_node_others_may_not_open(mode):
    """Any bit for others on /dev/tapN lets every local user read or inject the guest's traffic."""
    with pytest.raises(HostnetError) as info:
        _model.normalise({"kind": "macvtap", "name": "m0", "link": "e", "device_group": "0", "device_mode": mode})
    assert str(info.value) == ("macvtap 'm0': device_mode %04o lets every local user open its /dev/tapN and read or"
                               " inject the guest's traffic; give '0660' with a device_group, or '0600'"
                               % _validate.mode(mode, "m"))


def test_duplicate_names_refused():
    with pytest.raises(HostnetError, match="device 'x' is declared twice \\(as bridge and as tap\\)"):
        _model.normalise_all([{"kind": "bridge", "name": "x"}, {"kind": "tap", "name": "x"}])


def test_mtu_range():
    with pytest.raises(HostnetError, match="mtu 10 is out of range"):
        _model.normalise({"name": "t0", "mtu": 10}, kind="tap")


def test_derived_mac_is_stable_unicast_and_local_prefix():
    first = _validate.derive_mac("vm1/0")
    assert first == _validate.derive_mac("vm1/0")
    assert first != _validate.derive_mac("vm1/1")
    assert first.startswith("52:54:00:")
