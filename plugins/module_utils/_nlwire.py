# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rtnetlink on the wire, without a socket: the constants, the lean readers of dump replies and the hand-packed
requests of the hot path.

Pure functions of bytes, so they are unit-tested on captured dump replies
(tests/unit/plugins/module_utils/data/rtnl-dump.json) as well as on the live kernel. _netlink's Kernel is the only
caller that talks to the kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

NETLINK_ROUTE = 0
SOL_NETLINK, NETLINK_GET_STRICT_CHK = 270, 12
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_DUMP = 0x300
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE, NLM_F_APPEND = 0x100, 0x200, 0x400, 0x800
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
AF_INET, AF_BRIDGE, AF_INET6 = 2, 7, 10
RT_SCOPE_LINK = 253

MACVTAP_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8, "source": 16}
MACVTAP_MODE_NAMES = dict((v, k) for k, v in MACVTAP_MODES.items())
TUN_TYPES = {1: "tun", 2: "tap"}

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_NLA = struct.Struct("=HH")
_U32 = struct.Struct("=I")
_NLA_TYPE_MASK = 0x3FFF
# attribute numbers from linux/if_link.h, linux/if_addr.h
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 4, 5, 10, 18
IFLA_EXT_MASK = 29
IFLA_AF_SPEC, IFLA_INET6_ADDR_GEN_MODE = 26, 8  # a link's per-family settings; inside AF_INET6's, how it forms link-local
ADDR_GEN_MODES = {"eui64": 0, "none": 1, "stable_privacy": 2, "random": 3}  # linux/if_link.h IN6_ADDR_GEN_MODE_*
ADDR_GEN_MODE_NAMES = dict((v, k) for k, v in ADDR_GEN_MODES.items())
RTEXT_FILTER_BRVLAN, RTEXT_FILTER_SKIP_STATS = 0x2, 0x8  # linux/rtnetlink.h: a dump's VLANs; a reply without counters
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5
IFLA_BRPORT_LEARNING, IFLA_BRPORT_NEIGH_SUPPRESS = 8, 32  # a bridge port's flags (linux/if_link.h)
IFLA_TUN_OWNER, IFLA_TUN_GROUP, IFLA_TUN_TYPE, IFLA_TUN_PI, IFLA_TUN_VNET_HDR, IFLA_TUN_PERSIST, IFLA_TUN_MULTI_QUEUE = range(1, 8)
IFLA_BR_FORWARD_DELAY, IFLA_BR_STP_STATE, IFLA_BR_VLAN_FILTERING, IFLA_BR_VLAN_DEFAULT_PVID = 1, 5, 7, 39
IFLA_MACVLAN_MODE = 1
IFLA_VXLAN_ID, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT, IFLA_VXLAN_LOCAL6 = 1, 3, 4, 7, 15, 17
_NDMSG = struct.Struct("=BBHiHBB")  # the header of neighbour messages (_nlneigh)
NTF_PROXY = 0x08  # a dump of proxy neighbour entries
IFA_ADDRESS, IFA_LOCAL = 1, 2
# addresses and routes in detail (the uplink move), from linux/if_addr.h, linux/rtnetlink.h
IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS = 4, 6, 8
IFA_F_NODAD, IFA_F_PERMANENT, IFA_F_MANAGETEMPADDR, IFA_F_NOPREFIXROUTE, IFA_F_STABLE_PRIVACY = 0x02, 0x80, 0x100, 0x200, 0x800
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_MULTIPATH, RTA_TABLE = 1, 4, 5, 6, 7, 9, 15
RT_TABLE_COMPAT, RT_TABLE_LOCAL = 252, 255
RTNH_F_ONLINK = 0x4
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTNH = struct.Struct("=HBBi")
INFINITY_LIFE_TIME = 0xFFFFFFFF  # an address lifetime of 'forever' (the kernel's name)
BATCH_BYTES = 32768


def messages(data):
    """(type, seq, offset, length) of every netlink message in one received buffer."""
    offset = 0
    while offset + 16 <= len(data):
        length, mtype, _flags, seq, _pid = _HDR.unpack_from(data, offset)
        if length < 16:
            break
        yield mtype, seq, offset, length
        offset += (length + 3) & ~3


def error_code(data, offset):
    """The errno (positive; 0 is an ack) of the NLMSG_ERROR message at offset."""
    return -struct.unpack_from("=i", data, offset + 16)[0]


_U8 = struct.Struct("=B")
# IFLA_INFO_DATA attributes by the names bridge_attrs() and mode_attrs() give: (number, packer)
_INFO_DATA = {"IFLA_BR_FORWARD_DELAY": (IFLA_BR_FORWARD_DELAY, _U32.pack), "IFLA_BR_STP_STATE": (IFLA_BR_STP_STATE, _U32.pack),
              "IFLA_BR_VLAN_FILTERING": (IFLA_BR_VLAN_FILTERING, _U8.pack), "IFLA_MACVLAN_MODE": (IFLA_MACVLAN_MODE, _U32.pack),
              "IFLA_MACVTAP_MODE": (IFLA_MACVLAN_MODE, _U32.pack),
              "IFLA_VXLAN_ID": (IFLA_VXLAN_ID, _U32.pack), "IFLA_VXLAN_LINK": (IFLA_VXLAN_LINK, _U32.pack),
              "IFLA_VXLAN_LOCAL": (IFLA_VXLAN_LOCAL, lambda ip: socket.inet_pton(AF_INET, ip)),
              "IFLA_VXLAN_LOCAL6": (IFLA_VXLAN_LOCAL6, lambda ip: socket.inet_pton(AF_INET6, ip)),
              "IFLA_VXLAN_LEARNING": (IFLA_VXLAN_LEARNING, _U8.pack),
              "IFLA_VXLAN_PORT": (IFLA_VXLAN_PORT, struct.Struct(">H").pack)}


def _nla(atype, value):
    length = 4 + len(value)
    return _NLA.pack(length, atype) + value + b"\0" * (-length % 4)


def _link_header(index, name, flags=0, change=0):
    """The ifinfomsg of a request about one link: addressed by its index, or with index 0 by its name (IFLA_IFNAME)."""
    body = _IFINFO.pack(0, 0, index, flags, change)
    return body if index else body + _nla(IFLA_IFNAME, name.encode("utf-8") + b"\0")


def setlink(index, name, flags, change, mtu, mac, master, link=None, kind=None, data=(), create=False,
            addr_gen_mode=None):
    """An RTM_NEWLINK packed by hand (seq -> bytes): a change of an existing link, or with create=True a new
    link of kind (bridge, macvtap, macvlan, vxlan) on parent ifindex link. data: IFLA_INFO_DATA as bridge_attrs() or
    mode_attrs() give it, sent inside IFLA_LINKINFO whenever kind is given. addr_gen_mode (a name of ADDR_GEN_MODES):
    how the link forms its IPv6 link-local address, which the kernel takes for an existing link only (not at create).

    With index 0 the link is found by name (IFLA_IFNAME), which saves a lookup per new tap.
    """
    body = _link_header(index, name, flags, change)
    for atype, value in ((IFLA_LINK, None if link is None else _U32.pack(link)),
                         (IFLA_MTU, None if mtu is None else _U32.pack(mtu)),
                         (IFLA_ADDRESS, None if mac is None else bytes(bytearray(int(x, 16) for x in mac.split(":")))),
                         (IFLA_MASTER, None if master is None else _U32.pack(master))):
        if value is not None:
            body += _nla(atype, value)
    if kind is not None:
        info = b"".join(_nla(_INFO_DATA[attr][0], _INFO_DATA[attr][1](value)) for attr, value in data)
        body += _nla(IFLA_LINKINFO, _nla(IFLA_INFO_KIND, kind.encode("ascii") + b"\0") + _nla(IFLA_INFO_DATA, info))
    if addr_gen_mode is not None:
        body += _nla(IFLA_AF_SPEC, _nla(AF_INET6, _nla(IFLA_INET6_ADDR_GEN_MODE, _U8.pack(ADDR_GEN_MODES[addr_gen_mode]))))
    return _request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if create else 0), body)


def getlink(name):
    """An RTM_GETLINK of one link by name, its reply without the counters (RTEXT_FILTER_SKIP_STATS). Asked about one
    link, the kernel first settles the link's pending state changes (a new tap's carrier off), which otherwise wait
    for its link watch, up to a second and 100 links at a time."""
    return _request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK,
                    _link_header(0, name) + _nla(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_SKIP_STATS)))


def port_request(index, name, port):
    """An RTM_NEWLINK that sets a bridge port's flags (IFLA_INFO_SLAVE_DATA) from `port` {learning, neigh_suppress}
    (MAC learning, ARP/ND suppression). The link must be in its bridge when the kernel reads it (a port that an
    earlier request of the same batch enslaved is)."""
    body = _link_header(index, name)
    flags = b"".join(_nla(number, _U8.pack(1 if port[key] else 0)) for key, number in
                     (("learning", IFLA_BRPORT_LEARNING), ("neigh_suppress", IFLA_BRPORT_NEIGH_SUPPRESS)) if key in port)
    body += _nla(IFLA_LINKINFO, _nla(IFLA_INFO_SLAVE_KIND, b"bridge\0") + _nla(IFLA_INFO_SLAVE_DATA, flags))
    return _request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, body)


def _request(mtype, nlflags, body):
    """A hand-packed request as the batch writer takes it: seq -> bytes."""
    def encode(seq):
        return _HDR.pack(16 + len(body), mtype, nlflags, seq, 0) + body
    return encode


_DUMP_BODY = {RTM_GETLINK: _IFINFO.size, RTM_GETADDR: _IFADDR.size, RTM_GETROUTE: _RTMSG.size,
              RTM_GETNEIGH: _NDMSG.size}


def dump_request(mtype, seq, family=0, ndm_flags=0):
    """A dump request (its fixed header all zeros but the family, no attributes), packed by hand: every family by
    default; RTM_GETNEIGH with AF_BRIDGE lists the forwarding databases of bridges and VXLAN devices, with
    ndm_flags NTF_PROXY the proxy neighbour entries (ARP and NDP) instead of the neighbours."""
    if ndm_flags:
        body = _NDMSG.pack(family, 0, 0, 0, 0, ndm_flags, 0)
    else:
        body = _U8.pack(family) + b"\0" * (_DUMP_BODY[mtype] - 1)
    return _HDR.pack(16 + len(body), mtype, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def route_dump_request(seq, family, protocol, table):
    """A route dump the kernel filters itself: one family, only the routes of `protocol` in `table`. Honoured on a
    socket with NETLINK_GET_STRICT_CHK (Linux 4.20 and later); others send every route."""
    body = _RTMSG.pack(family, 0, 0, 0, table if table < 256 else RT_TABLE_COMPAT, protocol, 0, 0, 0)
    body += _nla(RTA_TABLE, _U32.pack(table))
    return _HDR.pack(16 + len(body), RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def bridge_attrs(fields):
    attrs = []
    if fields.get("stp") is not None:
        attrs.append(("IFLA_BR_STP_STATE", 1 if fields["stp"] else 0))
    if fields.get("forward_delay") is not None:
        attrs.append(("IFLA_BR_FORWARD_DELAY", int(round(fields["forward_delay"] * 100))))
    if fields.get("vlan_filtering") is not None:
        attrs.append(("IFLA_BR_VLAN_FILTERING", 1 if fields["vlan_filtering"] else 0))
    return attrs


def vxlan_attrs(fields, underlay=None):
    """IFLA_INFO_DATA of a VXLAN device from its spec or changed fields (vni and port only at creation; the kernel
    refuses to change them). underlay: the ifindex of the underlay interface, 0 to clear it, None to leave it."""
    attrs = []
    if fields.get("vni") is not None:
        attrs.append(("IFLA_VXLAN_ID", fields["vni"]))
    if fields.get("local"):
        attrs.append(("IFLA_VXLAN_LOCAL6" if ":" in fields["local"] else "IFLA_VXLAN_LOCAL", fields["local"]))
    if underlay is not None:
        attrs.append(("IFLA_VXLAN_LINK", underlay))
    if fields.get("port") is not None:
        attrs.append(("IFLA_VXLAN_PORT", fields["port"]))
    if fields.get("learning") is not None:
        attrs.append(("IFLA_VXLAN_LEARNING", 1 if fields["learning"] else 0))
    return attrs


def _attrs(data, start, end):
    """{type: (value_start, value_end)} of the netlink attributes in data[start:end]."""
    out = {}
    while start + 4 <= end:
        length, atype = _NLA.unpack_from(data, start)
        if length < 4:
            break
        out[atype & _NLA_TYPE_MASK] = (start + 4, start + length)
        start += (length + 3) & ~3
    return out


def _u32(data, span):
    return None if span is None else _U32.unpack_from(data, span[0])[0]


def _u16(data, span):
    return None if span is None else struct.unpack_from("=H", data, span[0])[0]


def _u8(data, span):
    return None if span is None else data[span[0]]


def _text(data, span):
    return None if span is None else data[span[0]:span[1]].split(b"\0", 1)[0].decode("utf-8", "replace")


def mode_attrs(kind, mode):
    """IFLA_INFO_DATA of a macvtap or macvlan: its mode (both kinds share the numbering)."""
    return [("IFLA_MACVTAP_MODE" if kind == "macvtap" else "IFLA_MACVLAN_MODE", MACVTAP_MODES[mode])]


def parse_link(data, offset, length):
    """One RTM_NEWLINK reply: name, index, kind, up, mtu, mac, master and parent (ifindexes), the fields of its
    kind (tun/tap owner and flags, bridge STP and VLAN filtering, macvtap/macvlan mode, VXLAN), and for a VXLAN
    device in a bridge its port's MAC learning and ARP/ND suppression. A bridge's and the loopback's
    addr_gen_mode: None when the kernel has no IPv6."""
    _family, _type, index, flags, _change = _IFINFO.unpack_from(data, offset + 16)
    attrs = _attrs(data, offset + 16 + _IFINFO.size, offset + length)
    mac = attrs.get(IFLA_ADDRESS)
    link = {
        "name": _text(data, attrs.get(IFLA_IFNAME)),
        "index": index,
        "kind": "loopback" if flags & IFF_LOOPBACK else "physical",
        "up": bool(flags & IFF_UP),
        "mtu": _u32(data, attrs.get(IFLA_MTU)),
        "mac": ":".join("%02x" % b for b in bytearray(data[mac[0]:mac[1]])) if mac and mac[1] - mac[0] == 6 else None,
        "master": _u32(data, attrs.get(IFLA_MASTER)),
        "parent": _u32(data, attrs.get(IFLA_LINK)),
        "addresses": [],
    }
    info_span = attrs.get(IFLA_LINKINFO)
    if info_span is None:
        if flags & IFF_LOOPBACK:  # tells the planner whether the namespace has IPv6 at all
            link["addr_gen_mode"] = _addr_gen_mode(data, attrs.get(IFLA_AF_SPEC))
        return link
    info = _attrs(data, info_span[0], info_span[1])
    kind = _text(data, info.get(IFLA_INFO_KIND)) or link["kind"]
    link["kind"] = kind
    port = info.get(IFLA_INFO_SLAVE_DATA)
    if kind == "vxlan" and port and _text(data, info.get(IFLA_INFO_SLAVE_KIND)) == "bridge":  # its bridge port's flags
        flags = _attrs(data, port[0], port[1])
        link["port_learning"] = bool(_u8(data, flags.get(IFLA_BRPORT_LEARNING)))
        link["neigh_suppress"] = bool(_u8(data, flags.get(IFLA_BRPORT_NEIGH_SUPPRESS)))
    span = info.get(IFLA_INFO_DATA)
    found = _attrs(data, span[0], span[1]) if span else {}
    if kind == "tun":
        link.update({
            "kind": TUN_TYPES.get(_u8(data, found.get(IFLA_TUN_TYPE)), "tun"),
            "owner": _u32(data, found.get(IFLA_TUN_OWNER)),
            "group": _u32(data, found.get(IFLA_TUN_GROUP)),
            "pi": bool(_u8(data, found.get(IFLA_TUN_PI))),
            "vnet_hdr": bool(_u8(data, found.get(IFLA_TUN_VNET_HDR))),
            "persist": bool(_u8(data, found.get(IFLA_TUN_PERSIST))),
            "multi_queue": bool(_u8(data, found.get(IFLA_TUN_MULTI_QUEUE))),
        })
    elif kind == "bridge":
        delay = _u32(data, found.get(IFLA_BR_FORWARD_DELAY))
        link.update({
            "stp": bool(_u32(data, found.get(IFLA_BR_STP_STATE))),
            "forward_delay": None if delay is None else delay / 100.0,
            "vlan_filtering": bool(_u8(data, found.get(IFLA_BR_VLAN_FILTERING))),
            "default_pvid": _u16(data, found.get(IFLA_BR_VLAN_DEFAULT_PVID)),  # None: a kernel without VLAN filtering
            "addr_gen_mode": _addr_gen_mode(data, attrs.get(IFLA_AF_SPEC)),
        })
    elif kind in ("macvtap", "macvlan"):
        mode = _u32(data, found.get(IFLA_MACVLAN_MODE))
        link["mode"] = MACVTAP_MODE_NAMES.get(mode, mode)
    elif kind == "vxlan":
        local = found.get(IFLA_VXLAN_LOCAL) or found.get(IFLA_VXLAN_LOCAL6)
        port = found.get(IFLA_VXLAN_PORT)
        link.update({
            "vni": _u32(data, found.get(IFLA_VXLAN_ID)),
            "local": None if local is None else socket.inet_ntop(
                AF_INET if local[1] - local[0] == 4 else AF_INET6, data[local[0]:local[1]]),
            "underlay": _u32(data, found.get(IFLA_VXLAN_LINK)) or None,  # an ifindex; _netlink names it
            "port": None if port is None else struct.unpack_from(">H", data, port[0])[0],
            "learning": bool(_u8(data, found.get(IFLA_VXLAN_LEARNING))),
        })
    return link


def _addr_gen_mode(data, span):
    """IFLA_INET6_ADDR_GEN_MODE's name from a link's IFLA_AF_SPEC, or None (no IPv6 on this kernel or link)."""
    if span is None:
        return None
    inet6 = _attrs(data, span[0], span[1]).get(AF_INET6)
    mode = None if inet6 is None else _u8(data, _attrs(data, inet6[0], inet6[1]).get(IFLA_INET6_ADDR_GEN_MODE))
    return None if mode is None else ADDR_GEN_MODE_NAMES.get(mode, mode)


def _peer(family, data, attrs):
    """IFA_ADDRESS when it differs from IFA_LOCAL: the peer of a point-to-point address."""
    local, remote = attrs.get(IFA_LOCAL), attrs.get(IFA_ADDRESS)
    if local is None or remote is None or data[local[0]:local[1]] == data[remote[0]:remote[1]]:
        return None
    return socket.inet_ntop(family, data[remote[0]:remote[1]])


def parse_address(data, offset, length):
    """One RTM_NEWADDR reply with what moving it must keep: {index, family (4|6), address 'ip/len', peer (the other
    end of a point-to-point address, else None), broadcast, scope, flags, permanent, valid_lft (seconds, None:
    forever)}; None for other families."""
    family, prefixlen, flags, scope, index = _IFADDR.unpack_from(data, offset + 16)
    attrs = _attrs(data, offset + 16 + _IFADDR.size, offset + length)
    raw_ip = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
    if raw_ip is None or family not in (AF_INET, AF_INET6):
        return None
    if IFA_FLAGS in attrs:
        flags = _u32(data, attrs[IFA_FLAGS])
    brd = attrs.get(IFA_BROADCAST)
    valid = None
    cache = attrs.get(IFA_CACHEINFO)
    if cache is not None and cache[1] - cache[0] >= 8:
        valid = struct.unpack_from("=II", data, cache[0])[1]
    return {
        "index": index,
        "family": 6 if family == AF_INET6 else 4,
        "address": "%s/%d" % (socket.inet_ntop(family, data[raw_ip[0]:raw_ip[1]]), prefixlen),
        "peer": _peer(family, data, attrs),
        "broadcast": socket.inet_ntop(family, data[brd[0]:brd[1]]) if brd else None,
        "scope": scope,
        "flags": flags,
        "permanent": bool(flags & IFA_F_PERMANENT),
        "valid_lft": None if valid in (None, INFINITY_LIFE_TIME) else valid,
    }


def parse_route(data, offset, length):
    """One RTM_NEWROUTE reply: {family (4|6), dst 'ip/len', gateway, oif (ifindex or None), table, protocol,
    scope, type, metric, prefsrc, onlink, multipath_oifs}; None for other families and the 'local' table."""
    family, dst_len, _src, _tos, table, proto, scope, rtype, flags = _RTMSG.unpack_from(data, offset + 16)
    if family not in (AF_INET, AF_INET6):
        return None
    attrs = _attrs(data, offset + 16 + _RTMSG.size, offset + length)
    if RTA_TABLE in attrs:
        table = _u32(data, attrs[RTA_TABLE])
    if table == RT_TABLE_LOCAL:
        return None

    def ip(span):
        return None if span is None else socket.inet_ntop(family, data[span[0]:span[1]])
    dst = ip(attrs.get(RTA_DST)) or ("::" if family == AF_INET6 else "0.0.0.0")
    hops = []
    span = attrs.get(RTA_MULTIPATH)
    pos = span[0] if span else 0
    while span and pos + _RTNH.size <= span[1]:
        hop_len, _hflags, _hops, hop_index = _RTNH.unpack_from(data, pos)
        if hop_len < _RTNH.size:
            break
        hops.append(hop_index)
        pos += (hop_len + 3) & ~3
    return {
        "family": 6 if family == AF_INET6 else 4,
        "dst": "%s/%d" % (dst, dst_len),
        "gateway": ip(attrs.get(RTA_GATEWAY)),
        "oif": _u32(data, attrs.get(RTA_OIF)),
        "table": table,
        "protocol": proto,
        "scope": scope,
        "type": rtype,
        "metric": _u32(data, attrs.get(RTA_PRIORITY)),
        "prefsrc": ip(attrs.get(RTA_PREFSRC)),
        "onlink": bool(flags & RTNH_F_ONLINK),
        "multipath_oifs": hops,
    }
