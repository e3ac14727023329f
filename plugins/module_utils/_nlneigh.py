# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rtnetlink's neighbour messages on the wire, without a socket: the forwarding-database entries of VXLAN devices
and bridges (flood lists, MACs a control plane installed) and the proxy neighbour entries of routed networks.

Pure functions of bytes beside _nlwire (links, addresses, routes); _netlink's Kernel is the only caller that talks
to the kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

from ansible_collections.hostnet.qemu.plugins.module_utils._nlwire import (
    AF_BRIDGE, AF_INET, AF_INET6, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, NTF_PROXY,
    RTM_DELNEIGH, RTM_NEWNEIGH, _NDMSG, _U8, _attrs, _nla, _request, _u8, _u32)

# linux/neighbour.h
NDA_DST, NDA_LLADDR, NDA_MASTER, NDA_PROTOCOL = 1, 2, 9, 12
NTF_SELF, NTF_MASTER, NTF_EXT_LEARNED = 0x02, 0x04, 0x10
NUD_PERMANENT = 0x80
ZERO_MAC = "00:00:00:00:00:00"


def fdb_request(action, index, mac, dst):
    """An RTM_NEWNEIGH ('add', appended: a VXLAN device keeps one remote per destination of the same MAC) or
    RTM_DELNEIGH ('del') for a permanent entry of a VXLAN device (NTF_SELF), packed by hand (seq -> bytes)."""
    body = _NDMSG.pack(AF_BRIDGE, 0, 0, index, NUD_PERMANENT, NTF_SELF, 0)
    body += _nla(NDA_LLADDR, bytes(bytearray(int(x, 16) for x in mac.split(":"))))
    if dst:
        body += _nla(NDA_DST, socket.inet_pton(AF_INET6 if ":" in dst else AF_INET, dst))
    if action == "add":
        mtype, nlflags = RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_APPEND
    else:
        mtype, nlflags = RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK
    return _request(mtype, nlflags, body)


def proxy_request(action, index, address, protocol):
    """An RTM_NEWNEIGH ('add', tagged with `protocol`) or RTM_DELNEIGH ('del') for a proxy neighbour entry: the
    host answers ARP (NDP) on interface `index` for `address`, packed by hand (seq -> bytes)."""
    family = AF_INET6 if ":" in address else AF_INET
    body = _NDMSG.pack(family, 0, 0, index, NUD_PERMANENT, NTF_PROXY, 0) + _nla(NDA_DST, socket.inet_pton(family, address))
    if action == "add":
        body += _nla(NDA_PROTOCOL, _U8.pack(protocol))
        mtype, nlflags = RTM_NEWNEIGH, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    else:
        mtype, nlflags = RTM_DELNEIGH, NLM_F_REQUEST | NLM_F_ACK
    return _request(mtype, nlflags, body)


def parse_proxy(data, offset, length):
    """One reply of a proxy-entry dump: {index, address, protocol (None: untagged)}; None for anything else."""
    family, _pad, _pad2, index, _state, flags, _ntype = _NDMSG.unpack_from(data, offset + 16)
    if family not in (AF_INET, AF_INET6) or not flags & NTF_PROXY:
        return None
    attrs = _attrs(data, offset + 16 + _NDMSG.size, offset + length)
    dst = attrs.get(NDA_DST)
    if dst is None:
        return None
    return {"index": index, "address": socket.inet_ntop(family, data[dst[0]:dst[1]]),
            "protocol": _u8(data, attrs.get(NDA_PROTOCOL))}


def parse_neigh(data, offset, length):
    """One RTM_NEWNEIGH reply of an AF_BRIDGE dump: {index, mac, dst (None: a local entry), master (ifindex or
    None), self, extern_learn, permanent}; None for other families."""
    family, _pad, _pad2, index, state, flags, _ntype = _NDMSG.unpack_from(data, offset + 16)
    if family != AF_BRIDGE:
        return None
    attrs = _attrs(data, offset + 16 + _NDMSG.size, offset + length)
    mac = attrs.get(NDA_LLADDR)
    dst = attrs.get(NDA_DST)
    return {
        "index": index,
        "mac": ":".join("%02x" % b for b in bytearray(data[mac[0]:mac[1]])) if mac else None,
        "dst": None if dst is None else socket.inet_ntop(AF_INET if dst[1] - dst[0] == 4 else AF_INET6,
                                                         data[dst[0]:dst[1]]),
        "master": _u32(data, attrs.get(NDA_MASTER)),
        "self": bool(flags & NTF_SELF),
        "extern_learn": bool(flags & NTF_EXT_LEARNED),
        "permanent": bool(state & NUD_PERMANENT),
    }
