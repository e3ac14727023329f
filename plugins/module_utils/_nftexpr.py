# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""nftables JSON expressions, one builder each, shared by the renderers of the collection's table (_nftrules: the
networks, _forwards: port forwards, _nftports: guest ports)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

COUNTER = {"counter": None}


def match(left, right, op="=="):
    return {"match": {"op": op, "left": left, "right": right}}


def payload(protocol, field):
    return {"payload": {"protocol": protocol, "field": field}}


def meta(key):
    return {"meta": {"key": key}}


def prefix(cidr):
    """'A.B.C.D/N' (or IPv6) -> an nftables prefix of its network."""
    net = netaddr.IPNetwork(cidr)
    return {"prefix": {"addr": str(net.network), "len": net.prefixlen}}


def verdict(name):
    return {name: None}
