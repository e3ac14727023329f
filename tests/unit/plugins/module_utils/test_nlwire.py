# -*- coding: utf-8 -*-
"""_nlwire's readers on captured dump replies (tests/unit/plugins/module_utils/data/rtnl-dump.json, made by capture_rtnl.py in a
throwaway namespace), compared with what iproute2 said about the same objects in the same capture; and the
hand-packed requests taken apart again. No kernel needed: the live-kernel tests are in tests/kernel."""

import binascii
import importlib
import json
import os
import pwd
import struct

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _nlneigh, _nlwire

with open(os.path.join(os.path.dirname(__file__), "data", "rtnl-dump.json")) as _handle:
    CAPTURE = json.load(_handle)
INDEX = CAPTURE["ifindex"]
SCOPES = {"global": 0, "link": 253, "host": 254}


def parsed(kind, parse):
    out = []
    for text in CAPTURE[kind]:
        data = binascii.unhexlify(text)
        assert struct.unpack_from("=I", data)[0] == len(data)
        item = parse(data, 0, len(data))
        if item is not None:
            out.append(item)
    return out


LINKS = dict((link["name"], link) for link in parsed("links", _nlwire.parse_link))
IP_LINKS = dict((link["ifname"], link) for link in CAPTURE["ip_link"])


@pytest.mark.parametrize("name", sorted(IP_LINKS))
def test_link_matches_iproute2(name):
    ours, theirs = LINKS[name], IP_LINKS[name]
    info = theirs.get("linkinfo", {})
    data = info.get("info_data", {})
    assert ours["index"] == theirs["ifindex"]
    assert ours["mtu"] == theirs["mtu"]
    assert ours["up"] == ("UP" in theirs["flags"])
    assert ours["mac"] == (theirs.get("address") if theirs.get("link_type") in ("ether", "loopback") else None)
    assert ours["master"] == (INDEX[theirs["master"]] if theirs.get("master") else None)
    expected_kind = data.get("type") if info.get("info_kind") == "tun" else info.get("info_kind")
    assert ours["kind"] == (expected_kind or ("loopback" if "LOOPBACK" in theirs["flags"] else "physical"))
    if theirs.get("link"):
        assert ours["parent"] == INDEX[theirs["link"]]
    if info.get("info_kind") == "tun":
        for field in ("pi", "vnet_hdr", "persist", "multi_queue"):
            assert ours[field] == data[field], field
        assert ours["owner"] == (pwd.getpwnam(data["user"]).pw_uid if "user" in data else None)
    if ours["kind"] in ("bridge", "loopback"):  # how it forms its link-local address (the loopback's: IPv6 at all)
        assert ours["addr_gen_mode"] == theirs["inet6_addr_gen_mode"]
    if ours["kind"] == "bridge":
        assert ours["forward_delay"] == data["forward_delay"] / 100.0
        assert ours["stp"] == bool(data["stp_state"]) and ours["vlan_filtering"] == bool(data["vlan_filtering"])
    if ours["kind"] in ("macvtap", "macvlan"):
        assert ours["mode"] == data["mode"]
    if ours["kind"] == "vxlan":
        assert (ours["vni"], ours["local"], ours["port"], ours["learning"]) == (
            data["id"], data.get("local") or data.get("local6"), data["port"], data["learning"])
        assert ours["underlay"] == (INDEX[data["link"]] if data.get("link") else None)


def test_capture_covers_every_kind_the_engine_reads():
    kinds = {"loopback", "bridge", "tap", "tun", "veth", "macvtap", "macvlan", "vxlan"}
    assert set(link["kind"] for link in LINKS.values()) >= kinds


def test_addresses_match_iproute2():
    theirs = sorted((INDEX[a["ifname"]], "%s/%d" % (i["local"], i["prefixlen"]), i.get("broadcast"),
                     SCOPES[i["scope"]], not i.get("dynamic", False),
                     None if i["valid_life_time"] == 0xFFFFFFFF else i["valid_life_time"])
                    for a in CAPTURE["ip_addr"] for i in a["addr_info"])
    ours = sorted((a["index"], a["address"], a["broadcast"], a["scope"], a["permanent"], a["valid_lft"])
                  for a in parsed("addresses", _nlwire.parse_address))
    assert ours == theirs
    peers = dict((a["address"], a["peer"]) for a in parsed("addresses", _nlwire.parse_address))
    assert peers == dict(("%s/%d" % (i["local"], i["prefixlen"]), i.get("address"))
                         for a in CAPTURE["ip_addr"] for i in a["addr_info"])
    assert peers["10.79.0.1/32"] == "10.79.0.2"
    flags = dict((a["address"], a["flags"]) for a in parsed("addresses", _nlwire.parse_address))
    assert flags["fd00:78::1/64"] & _nlwire.IFA_F_NOPREFIXROUTE and flags["fd00:78::1/64"] & _nlwire.IFA_F_NODAD
    assert not flags["10.77.0.1/24"] & _nlwire.IFA_F_NOPREFIXROUTE


def _their_route(route):
    family = 6 if ":" in route["dst"] or ":" in route.get("gateway", "") else 4
    dst = route["dst"]
    if dst == "default":
        dst = "::/0" if family == 6 else "0.0.0.0/0"
    elif "/" not in dst:
        dst += "/128" if family == 6 else "/32"
    table = {"local": 255, None: 254}.get(route.get("table"), route.get("table"))
    return (family, dst, route.get("gateway"), INDEX.get(route.get("dev")), int(table), route.get("metric"),
            route.get("prefsrc"), "onlink" in route["flags"], [INDEX[h["dev"]] for h in route.get("nexthops", [])])


def test_routes_match_iproute2_except_the_local_table():
    theirs = sorted(_their_route(r) for r in CAPTURE["ip_route"] if r.get("table") != "local")
    ours = sorted((r["family"], r["dst"], r["gateway"], r["oif"], r["table"], r["metric"] if r["family"] == 6 or r["metric"] else None,
                   r["prefsrc"], r["onlink"], r["multipath_oifs"]) for r in parsed("routes", _nlwire.parse_route))
    assert ours == theirs
    assert any(r["multipath_oifs"] for r in parsed("routes", _nlwire.parse_route))


def test_fdb_entries_match_iproute2():
    theirs = sorted((INDEX[e["ifname"]], e["mac"], e.get("dst"), "self" in e.get("flags", []),
                     e.get("state") == "permanent") for e in CAPTURE["bridge_fdb"])
    ours = sorted((e["index"], e["mac"], e["dst"], e["self"], e["permanent"])
                  for e in parsed("fdb", _nlneigh.parse_neigh))
    assert ours == theirs
    flood = sorted(e["dst"] for e in parsed("fdb", _nlneigh.parse_neigh)
                   if e["index"] == INDEX["cvx0"] and e["mac"] == _nlneigh.ZERO_MAC)
    assert flood == ["10.78.0.2", "10.78.0.3"]


def test_truncated_attributes_are_not_read_past_their_end():
    data = binascii.unhexlify(CAPTURE["links"][1])
    short = data[:40]
    link = _nlwire.parse_link(short, 0, len(short))
    assert link["index"] == LINKS["cbr0"]["index"] and link["kind"] == "physical"


def test_setlink_request_reads_back():
    encode = _nlwire.setlink(0, "vm1-n0", _nlwire.IFF_UP, _nlwire.IFF_UP, 1400, "52:54:00:aa:bb:cc", 7)
    data = encode(42)
    length, mtype, flags, seq, _pid = struct.unpack_from("=IHHII", data)
    assert (length, mtype, seq) == (len(data), _nlwire.RTM_NEWLINK, 42)
    assert flags == _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_ACK
    link = _nlwire.parse_link(data, 0, len(data))
    assert (link["name"], link["index"], link["up"], link["mtu"], link["mac"], link["master"]) == (
        "vm1-n0", 0, True, 1400, "52:54:00:aa:bb:cc", 7)


def test_getlink_is_the_request_pyroute2_would_send():
    ifinfmsg = importlib.import_module("pyroute2.netlink.rtnl.ifinfmsg").ifinfmsg
    msg = ifinfmsg()
    msg["header"]["type"] = _nlwire.RTM_GETLINK
    msg["header"]["flags"] = _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_ACK
    msg["header"]["sequence_number"] = 9
    msg["attrs"] = [("IFLA_IFNAME", "vm1-n0"), ("IFLA_EXT_MASK", _nlwire.RTEXT_FILTER_SKIP_STATS)]
    msg.encode()
    assert _nlwire.getlink("vm1-n0")(9) == bytes(msg.data)


def test_messages_and_error_code_split_one_buffer():
    ack = struct.pack("=IHHII", 36, _nlwire.NLMSG_ERROR, 0, 5, 0) + struct.pack("=i", -17) + b"\0" * 16
    done = struct.pack("=IHHII", 20, _nlwire.NLMSG_DONE, 0, 6, 0) + b"\0" * 4
    found = list(_nlwire.messages(ack + done + b"\0" * 8))
    assert [(t, s, o) for t, s, o, _l in found] == [(_nlwire.NLMSG_ERROR, 5, 0), (_nlwire.NLMSG_DONE, 6, 36)]
    assert _nlwire.error_code(ack, 0) == 17


@pytest.mark.parametrize("mtype, cls, family", [(_nlwire.RTM_GETLINK, "ifinfmsg", 0), (_nlwire.RTM_GETADDR, "ifaddrmsg", 0),
                                                (_nlwire.RTM_GETROUTE, "rtmsg", 0),
                                                (_nlwire.RTM_GETNEIGH, "ndmsg", _nlwire.AF_BRIDGE)])
def test_dump_requests_are_the_bytes_pyroute2_would_send(mtype, cls, family):
    module = importlib.import_module("pyroute2.netlink.rtnl." + cls)
    msg = getattr(module, cls)()
    msg["family"] = family
    msg["header"]["type"] = mtype
    msg["header"]["flags"] = _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_DUMP
    msg["header"]["sequence_number"] = 77
    msg.encode()
    assert _nlwire.dump_request(mtype, 77, family) == bytes(msg.data)


@pytest.mark.parametrize("action, mac, dst", [("add", _nlneigh.ZERO_MAC, "192.0.2.7"), ("del", _nlneigh.ZERO_MAC, "fd00::7"),
                                              ("add", "52:54:00:0a:0b:0c", "192.0.2.8")])
def test_fdb_requests_are_the_bytes_pyroute2_would_send(action, mac, dst):
    ndmsg = importlib.import_module("pyroute2.netlink.rtnl.ndmsg").ndmsg
    msg = ndmsg()
    msg["family"], msg["ifindex"] = _nlwire.AF_BRIDGE, 9
    msg["state"], msg["flags"] = _nlneigh.NUD_PERMANENT, _nlneigh.NTF_SELF
    msg["header"]["type"] = _nlwire.RTM_NEWNEIGH if action == "add" else _nlwire.RTM_DELNEIGH
    msg["header"]["flags"] = _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_ACK | (
        _nlwire.NLM_F_CREATE | _nlwire.NLM_F_APPEND if action == "add" else 0)
    msg["header"]["sequence_number"] = 3
    msg["attrs"] = [("NDA_LLADDR", mac), ("NDA_DST", dst)]
    msg.encode()
    assert _nlneigh.fdb_request(action, 9, mac, dst)(3) == bytes(msg.data)


@pytest.mark.parametrize("case", [
    dict(index=0, name="br0", kind="bridge", mtu=9000, create=True,
         data=[("IFLA_BR_STP_STATE", 1), ("IFLA_BR_FORWARD_DELAY", 1500), ("IFLA_BR_VLAN_FILTERING", 1)]),
    dict(index=0, name="mvt0", kind="macvtap", link=7, data=[("IFLA_MACVTAP_MODE", 4)], mac="52:54:00:aa:bb:cc",
         create=True),
    dict(index=0, name="mvl0", kind="macvlan", link=3, data=[("IFLA_MACVLAN_MODE", 1)], create=True),
    dict(index=12, name="br1", kind="bridge", data=[("IFLA_BR_STP_STATE", 0)], flags=1, change=1, master=4),
    dict(index=0, name="t1", mtu=1400, master=9, flags=1, change=1),
    dict(index=0, name="vx0", kind="vxlan", mtu=1450, create=True,
         data=[("IFLA_VXLAN_ID", 4242), ("IFLA_VXLAN_LOCAL", "192.0.2.1"), ("IFLA_VXLAN_LINK", 3),
               ("IFLA_VXLAN_PORT", 4789), ("IFLA_VXLAN_LEARNING", 0)]),
    dict(index=0, name="vx6", kind="vxlan", create=True,
         data=[("IFLA_VXLAN_ID", 16777215), ("IFLA_VXLAN_LOCAL6", "fd00::1"), ("IFLA_VXLAN_PORT", 8472),
               ("IFLA_VXLAN_LEARNING", 1)]),
    dict(index=0, name="vx0", kind="vxlan", data=[("IFLA_VXLAN_LEARNING", 1)]),
    dict(index=12, name="br1", addr_gen_mode="eui64"),
    dict(index=0, name="br2", addr_gen_mode="none"),
], ids=["bridge-create", "macvtap-create", "macvlan-create", "bridge-set-data", "tap-set", "vxlan-create",
        "vxlan6-create", "vxlan-set", "addr-gen-mode-eui64", "addr-gen-mode-none"])
def test_link_requests_are_the_bytes_pyroute2_would_send(case):
    ifinfmsg = importlib.import_module("pyroute2.netlink.rtnl.ifinfmsg").ifinfmsg
    msg = ifinfmsg()
    msg["index"], msg["flags"], msg["change"] = case["index"], case.get("flags", 0), case.get("change", 0)
    msg["header"]["type"] = _nlwire.RTM_NEWLINK
    msg["header"]["flags"] = _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_ACK | (
        _nlwire.NLM_F_CREATE | _nlwire.NLM_F_EXCL if case.get("create") else 0)
    msg["header"]["sequence_number"] = 5
    attrs = [] if case["index"] else [("IFLA_IFNAME", case["name"])]
    for key, attr in (("link", "IFLA_LINK"), ("mtu", "IFLA_MTU"), ("mac", "IFLA_ADDRESS"), ("master", "IFLA_MASTER")):
        if key in case:
            attrs.append((attr, case[key]))
    if "kind" in case:
        attrs.append(("IFLA_LINKINFO", {"attrs": [("IFLA_INFO_KIND", case["kind"]),
                                                  ("IFLA_INFO_DATA", {"attrs": case["data"]})]}))
    if "addr_gen_mode" in case:
        attrs.append(("IFLA_AF_SPEC", {"attrs": [("AF_INET6", {"attrs": [
            ("IFLA_INET6_ADDR_GEN_MODE", _nlwire.ADDR_GEN_MODES[case["addr_gen_mode"]])]})]}))
    msg["attrs"] = attrs
    msg.encode()
    packed = _nlwire.setlink(case["index"], case["name"], case.get("flags", 0), case.get("change", 0), case.get("mtu"),
                             case.get("mac"), case.get("master"), link=case.get("link"), kind=case.get("kind"),
                             data=case.get("data", ()), create=case.get("create", False),
                             addr_gen_mode=case.get("addr_gen_mode"))
    assert packed(5) == bytes(msg.data)


def test_vxlan_attrs_from_a_spec_and_from_changed_fields():
    spec = {"vni": 7, "local": "192.0.2.1", "port": 4789, "learning": False}
    assert _nlwire.vxlan_attrs(spec, 3) == [("IFLA_VXLAN_ID", 7), ("IFLA_VXLAN_LOCAL", "192.0.2.1"),
                                            ("IFLA_VXLAN_LINK", 3), ("IFLA_VXLAN_PORT", 4789),
                                            ("IFLA_VXLAN_LEARNING", 0)]
    assert _nlwire.vxlan_attrs({"local": "fd00::1"}) == [("IFLA_VXLAN_LOCAL6", "fd00::1")]
    assert _nlwire.vxlan_attrs({"learning": True}, 0) == [("IFLA_VXLAN_LINK", 0), ("IFLA_VXLAN_LEARNING", 1)]


@pytest.mark.parametrize("action, address", [("add", "192.0.2.50"), ("del", "192.0.2.50"), ("add", "2001:db8::50")])
def test_proxy_requests_are_the_bytes_pyroute2_would_send_and_read_back(action, address):
    ndmsg = importlib.import_module("pyroute2.netlink.rtnl.ndmsg").ndmsg
    msg = ndmsg()
    msg["family"] = _nlwire.AF_INET6 if ":" in address else _nlwire.AF_INET
    msg["ifindex"], msg["state"], msg["flags"] = 4, _nlneigh.NUD_PERMANENT, _nlwire.NTF_PROXY
    msg["header"]["type"] = _nlwire.RTM_NEWNEIGH if action == "add" else _nlwire.RTM_DELNEIGH
    msg["header"]["flags"] = _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_ACK | (
        _nlwire.NLM_F_CREATE | _nlwire.NLM_F_EXCL if action == "add" else 0)
    msg["header"]["sequence_number"] = 5
    msg["attrs"] = [("NDA_DST", address)] + ([("NDA_PROTOCOL", 74)] if action == "add" else [])
    msg.encode()
    data = _nlneigh.proxy_request(action, 4, address, 74)(5)
    assert data == bytes(msg.data)
    expected = {"index": 4, "address": address, "protocol": 74 if action == "add" else None}
    assert _nlneigh.parse_proxy(data, 0, len(data)) == expected


def test_a_proxy_dump_asks_for_proxy_entries_only():
    data = _nlwire.dump_request(_nlwire.RTM_GETNEIGH, 8, 0, _nlwire.NTF_PROXY)
    assert len(data) == 16 + 12 and data[16 + 10] == _nlwire.NTF_PROXY  # ndm_flags
    fdb = _nlneigh.fdb_request("add", 4, _nlneigh.ZERO_MAC, "192.0.2.7")(1)
    assert _nlneigh.parse_proxy(fdb, 0, len(fdb)) is None  # a bridge's entry, not a proxy


def test_a_filtered_route_dump_is_the_request_pyroute2_would_send():
    rtmsg = importlib.import_module("pyroute2.netlink.rtnl.rtmsg").rtmsg
    msg = rtmsg()
    msg["family"], msg["table"], msg["proto"] = _nlwire.AF_INET6, 254, 74
    msg["header"]["type"] = _nlwire.RTM_GETROUTE
    msg["header"]["flags"] = _nlwire.NLM_F_REQUEST | _nlwire.NLM_F_DUMP
    msg["header"]["sequence_number"] = 9
    msg["attrs"] = [("RTA_TABLE", 254)]
    msg.encode()
    assert _nlwire.route_dump_request(9, _nlwire.AF_INET6, 74, 254) == bytes(msg.data)
