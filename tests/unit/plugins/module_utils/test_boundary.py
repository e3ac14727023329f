# -*- coding: utf-8 -*-
"""The input boundary: the value validators (_validate), the nested-spec door (_argspec), the escapers (_escape),
and the guest role's model fed hostile and careless values. Every refusal names the object, the field and the fix.
"""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _argspec, _escape, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _guest, _guestrender

HOSTILE = ["a\nb", "a\rb", "a\x00b", "a\tb", "x\x7f"]
PUNCT = [",", '"', "'", "%", "$", ";", "\\"]
HOST = {"users": {"qemu": ["x", "999", "999", "", "/", "/bin/false"]}, "links": ["lo", "eth0", "vmbr0"],
        "files": {"/img/k": True}, "kvm_users": [], "vhost_users": []}


def refused(func, *args):
    with pytest.raises(HostnetError) as info:
        func(*args)
    return str(info.value)


def plan(**fields):
    base = {"name": "vm1", "kernel": "/img/k"}
    base.update(fields)
    return _guest.normalise_all([base], None, HOST)[0]


# --- value validators ---

@pytest.mark.parametrize("value", HOSTILE + ["eth0\n", "br,0", "lan,eth0", ".lan", "-x", "a b", 'a"b', "a'b", "a%b",
                                             "a$b", "a;b", "a\\b", "a/b", "a:b", "é0", ""])
def test_ifname_refuses_unsafe(value):
    assert "bridge" in refused(_validate.ifname, value, "bridge")


@pytest.mark.parametrize("value", ["eth0", "vm1-n0", "br_lan.10", "_x", "0a"])
def test_ifname_accepts(value):
    assert _validate.ifname(value) == value


@pytest.mark.parametrize("value", HOSTILE + ["lab\n", "a" * 65, "", "-a", "a b", "a/b", "a,b", ["lab"], 3, None] + PUNCT)
def test_object_name_refuses(value):
    message = refused(_validate.object_name, value, "network name")
    assert message.startswith("network name: ") and "use 1 to 64 letters" in message


@pytest.mark.parametrize("value", ["relative", "/a/../b", "/a//b", "/a/", "//x", "/a\nb", "/a\x00", ["/a"], 1])
def test_abspath_refuses(value):
    assert refused(_validate.abspath, value, "disks[0].path").startswith("disks[0].path: ")


@pytest.mark.parametrize("value, bits", [(0o660, 0o660), ("0660", 0o660), ("660", 0o660), ("0o600", 0o600),
                                         (0, 0), ("0", 0), (0o2750, 0o2750)])
def test_mode_int_is_bits_string_is_octal(value, bits):
    assert _validate.mode(value, "device_mode") == bits


@pytest.mark.parametrize("value", [True, False, "0999", "rw", "0660\n", "-1", 0o17777, -1, 6.6, ["0660"], "", "u+rw"])
def test_mode_refuses(value):
    assert refused(_validate.mode, value, "device_mode").startswith("device_mode: ")


@pytest.mark.parametrize("value", HOSTILE)
def test_no_control(value):
    assert "control character" in refused(_validate.no_control, value, "append")


@pytest.mark.parametrize("value", [True, ["qemu"], {"a": 1}, 1.5, "qemu\n", "4294967295", "-1"])
def test_uid_refuses_non_names(value):
    refused(_validate.uid, value, "tap 't0'")


# --- escapers: a value never ends a line, adds a key or starts a command ---

@pytest.mark.parametrize("value", HOSTILE + PUNCT + ["ExecStartPre=+/bin/sh", "a b", "%h", "${HOME}", "\\n"])
def test_exec_arg_is_one_word_on_one_line(value):
    word = _escape.exec_arg(value)
    assert "\n" not in word and "\r" not in word and "\x00" not in word
    assert (word.startswith('"') and word.endswith('"')) or " " not in word
    assert "%" not in word.replace("%%", "") and "$" not in word.replace("$$", "")


@pytest.mark.parametrize("value", HOSTILE)
def test_unit_value_refuses_control(value):
    assert "control character" in refused(_escape.unit_value, value, "guest 'vm1': user")


def test_unit_path_quotes_spaces_and_refuses_quotes():
    assert _escape.unit_path("/img/a b.qcow2") == '"/img/a b.qcow2"'
    assert _escape.unit_path("/img/50%.raw") == "/img/50%%.raw"
    for value in ('/img/a"b', "/img/a'b", "/img/a\\b", "/img/a\nb"):
        refused(_escape.unit_path, value)


@pytest.mark.parametrize("value", ["none,file=/x", "a,b", ",", "x,,y", "/img/a,format=raw"])
def test_qemu_value_never_adds_a_key(value):
    opts = _escape.qemu_opts("file", ("cache", value), ("id", "d0"))
    # split the way QEMU does: ',,' is a literal comma
    keys = [part.split("=", 1)[0] for part in opts.replace(",,", "\x00").split(",")[1:]]
    assert keys == ["cache", "id"]


@pytest.mark.parametrize("value", HOSTILE)
def test_qemu_value_refuses_control(value):
    refused(_escape.qemu_value, value)


@pytest.mark.parametrize("value", HOSTILE + PUNCT + ["lan eth0", "#x", "", "a=b,c"])
def test_dnsmasq_value_refuses(value):
    assert "dnsmasq" in refused(_escape.dnsmasq_value, value, "network 'lan': bridge")


# --- the spec door ---

SPEC = dict(flag=dict(type="bool", default=False), names=dict(type="list", elements="str"),
            count=dict(type="int"), text=dict(type="str"), free=dict(type="str", multiline=True),
            items=dict(type="list", elements="dict",
                       options=dict(kind=dict(type="str", required=True, choices=["a", "b"]))))


@pytest.mark.parametrize("given, flag", [("no", False), ("false", False), ("off", False), ("0", False), (0, False),
                                         ("yes", True), ("true", True), ("on", True), (True, True)])
def test_booleans_are_ansible_booleans(given, flag):
    assert _argspec.validate(SPEC, {"flag": given}, "thing 'x'")["flag"] is flag


@pytest.mark.parametrize("params, words", [
    ({"flag": "maybe"}, ["thing 'x': flag: 'maybe' is not a boolean", "true or false"]),
    ({"flag": "nein"}, ["flag", "not a boolean"]),
    ({"names": "qemu"}, ["thing 'x': names: the string 'qemu' is not a list", "YAML list"]),
    ({"names": "q,e"}, ["names: the string 'q,e' is not a list"]),
    ({"names": {"a": 1}}, ["names", "is not a list"]),
    ({"names": [["a"]]}, ["names[0]", "not a string"]),
    ({"text": ["lab"]}, ["thing 'x': text: ['lab'] is not a string"]),
    ({"text": {"a": 1}}, ["text", "not a string"]),
    ({"text": True}, ["text: True is a boolean, not a string", "quote it"]),
    ({"count": True}, ["count", "is a boolean"]),
    ({"count": "many"}, ["count: 'many' is not a whole number"]),
    ({"text": "a\nb"}, ["text: 'a\\nb' contains the control character '\\n'"]),
    ({"names": ["ok", "b\r"]}, ["names[1]", "control character"]),
    ({"items": [{"kind": "c"}]}, ["items[0].kind: 'c' is not one of a, b"]),
    ({"items": [{}]}, ["items[0]: missing required field(s) kind"]),
    ({"items": ["a"]}, ["items[0]", "not a mapping"]),
    ({"items": [{"kind": "a", "bogus": 1}]}, ["items[0]: unknown field(s) bogus", "known fields: kind"]),
    ({"bogus": 1}, ["thing 'x': unknown field(s) bogus"]),
])
def test_spec_refusals(params, words):
    message = refused(_argspec.validate, SPEC, params, "thing 'x'")
    for word in words:
        assert word in message, message


def test_multiline_entry_may_hold_newlines():
    assert _argspec.validate(SPEC, {"free": "a\nb"}, "x")["free"] == "a\nb"


class _Str(str):
    pass


class _Dict(dict):
    def __deepcopy__(self, memo):
        raise AssertionError("validation deep-copied the caller's container")


def _classes(value, path=""):
    """The exact class of every node (subclasses would pass an isinstance check)."""
    found = {path: value.__class__}
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.update(_classes(child, "%s.%s" % (path, key) if path else str(key)))
    return found


def test_plain_keeps_each_value_type_and_drops_subclasses():
    given = _Dict(name=_Str("no"), flag=True, mode=384, ratio=0.5, items=(_Dict(kind=_Str("a")),), none=None)
    out = _argspec.plain(given)
    assert out == {"name": "no", "flag": True, "mode": 384, "ratio": 0.5, "items": [{"kind": "a"}], "none": None}
    assert _classes(out) == {"": dict, "name": str, "flag": bool, "mode": int, "ratio": float, "items": list,
                             "items.0": dict, "items.0.kind": str, "none": type(None)}


def test_validate_copies_templated_containers_once_as_builtins():
    # Ansible 2.19's lazy containers are dict/list subclasses whose deepcopy drags the templating context along
    out = _argspec.validate(SPEC, _Dict(items=[_Dict(kind=_Str("a"))], text=_Str("t")), "x")
    assert out["items"] == [{"kind": "a"}] and _classes(out)["text"] is str


# --- the guest model with hostile input: refused before anything is rendered ---

@pytest.mark.parametrize("fields, words", [
    ({"extra_args": ["-no-reboot\n", "ExecStartPre=+/usr/bin/touch", "/tmp/pwned"]},
     ["guest 'vm1': extra_args[0]", "control character"]),
    ({"append": "console=ttyS0\n"}, ["guest 'vm1': append", "control character", ">-"]),
    ({"extra_args": "-monitor stdio"}, ["guest 'vm1': extra_args: the string '-monitor stdio' is not a list"]),
    ({"remove_disks": "maybe"}, ["guest 'vm1': remove_disks", "not a boolean"]),
    ({"enabled": "nein"}, ["guest 'vm1': enabled", "not a boolean"]),
    ({"user": ["qemu"]}, ["guest 'vm1': user: ['qemu'] is not a string"]),
    ({"name": ["lab"]}, ["hostnet_guest_guests[0]: name: ['lab'] is not a string"]),
    ({"name": "vm\n1"}, ["hostnet_guest_guests[0]: name", "control character"]),
    ({"disks": [{"path": "/img/d.qcow2", "size": "1G", "cache": "none,file=/x"}]},
     ["guest 'vm1': disks[0].cache: 'none,file=/x' is not one of"]),
    ({"disks": [{"path": "/img/d.qcow2", "size": "1G", "interface": "virtio,file=/x"}]}, ["disks[0].interface"]),
    ({"disks": [{"path": "/img/d.raw", "format": "raw,file=/x"}]}, ["disks[0].format"]),
    ({"disks": [{"path": "img/d.qcow2", "size": "1G"}]}, ["disks[0].path", "not an absolute path"]),
    ({"disks": [{"path": "/img/d.qcow2", "size": "1G\n"}]}, ["disks[0].size"]),
    ({"nics": [{"kind": "tap", "model": "e1000,netdev=x"}]}, ["nics[0].model"]),
    ({"nics": [{"kind": "socket", "network": "lan", "localaddr": "127.0.0.1,mcast=x"}]}, ["nics[0].localaddr"]),
    ({"nics": [{"kind": "tap", "ifname": "t0,x"}]}, ["nics[0].ifname"]),
    ({"nics": [{"kind": "tap", "bridge": "vmbr0,x"}]}, ["nics[0].bridge"]),
    ({"nics": [{"kind": "user", "restrict": "maybe"}]}, ["nics[0].restrict", "not a boolean"]),
    ({"nics": [{"kind": "tap", "vhost": "perhaps"}]}, ["nics[0].vhost", "not a boolean"]),
    ({"nics": [{"kind": "tap", "link": "eth0"}]}, ["nics[0].link", "a tap NIC has no link"]),
    ({"nics": [{"kind": "user", "hostfwd": "2222:22"}]}, ["nics[0].hostfwd", "not a list"]),
    ({"nics": {"kind": "user"}}, ["guest 'vm1': nics", "not a list"]),
    ({"memroy": 512}, ["guest 'vm1': unknown field(s) memroy", "known fields"]),
    ({"memory": True}, ["guest 'vm1': memory", "boolean"]),
    ({"user": "qemu\n"}, ["guest 'vm1': user"]),
    ({"machine": "q35\nExecStartPre=/bin/sh"}, ["guest 'vm1': machine", "control character"]),
])
def test_guest_hostile_input(fields, words):
    message = refused(lambda: plan(**fields))
    for word in words:
        assert word in message, message


def test_guests_must_be_a_list():
    assert "hostnet_guest_guests: 'vm1' is not a list" in refused(_guest.normalise_all, "vm1", None, HOST)
    assert "hostnet_guest_guests[0]" in refused(_guest.normalise_all, ["vm1"], None, HOST)


@pytest.mark.parametrize("settings, words", [
    ({"memory": "lots"}, ["guest role: hostnet_guest_memory: 'lots' is not a whole number"]),
    ({"user": "root"}, ["hostnet_guest_user", "never run as root"]),
    ({"qemu_binary": "qemu"}, ["hostnet_guest_qemu_binary", "absolute path"]),
])
def test_settings_hostile(settings, words):
    message = refused(_guest.normalise_all, [], settings, HOST)
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("given, flag", [("no", False), ("false", False), ("yes", True), (False, False)])
def test_guest_booleans_never_python_bool(given, flag):
    g = plan(state="absent", remove_disks=given, enabled=given)
    assert g["remove_disks"] is flag and g["enabled"] is flag


def test_commas_in_paths_are_escaped_not_keys():
    g = plan(disks=[{"path": "/img/a,format=raw.qcow2", "size": "1G"}], cdrom="/img/k")
    drive = _guestrender.argv(g)[_guestrender.argv(g).index("-drive") + 1]
    assert drive.startswith("file=/img/a,,format=raw.qcow2,format=qcow2,")


def test_unit_keeps_hostile_looking_args_inside_one_exec_line():
    g = plan(extra_args=["-device", "virtio-rng-pci,id=rng0", "50%", "$HOME", "a b"], append="console=ttyS0 x=\"y\"")
    text = _guestrender.unit(g)
    start = text.index("ExecStart=")
    body = text[start:text.index("\n", text.index("\n# graceful stop", start) - 1)]
    assert all(line.endswith("\\") for line in body.split("\n")[:-1])
    assert '"50%%"' in text and '"$$HOME"' in text and '"a b"' in text
    assert "\nExecStartPre" not in text
