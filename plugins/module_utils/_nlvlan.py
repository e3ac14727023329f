# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VLANs of bridge ports: the pure model of a port's VLAN set and its rtnetlink messages (AF_BRIDGE,
IFLA_AF_SPEC / IFLA_BRIDGE_VLAN_INFO), without a socket.

A port's VLAN set is a sorted list of entries, one per VLAN id, as `bridge vlan show` words them:
'10' (tagged on the port) or '10 pvid untagged' (the port's untagged VLAN: frames that come in untagged join it,
frames of it leave untagged). An access port is ['N pvid untagged']; a trunk lists its tagged VLANs and, with a
native VLAN, that one as 'N pvid untagged'.

Pure functions beside _nlwire; _netlink's Kernel is the only caller that talks to the kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import struct

from ansible_collections.hostnet.qemu.plugins.module_utils import _planview
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._nlwire import (
    AF_BRIDGE, IFLA_AF_SPEC, IFLA_EXT_MASK, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, RTEXT_FILTER_BRVLAN, RTM_DELLINK, RTM_GETLINK, _HDR,
    _IFINFO, _NLA, _NLA_TYPE_MASK, _U32, _attrs, _nla, _request)

VID_RANGE = (1, 4094)
RTM_SETLINK = 19
IFLA_BRIDGE_VLAN_INFO = 2  # linux/if_bridge.h
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4
_VLAN_INFO = struct.Struct("=HH")  # struct bridge_vlan_info {flags, vid}
_NATIVE = " pvid untagged"


def check_vid(vid, what):
    """A VLAN id (an int in 1..4094, not a bool), or a HostnetError naming `what`."""
    if isinstance(vid, bool) or not isinstance(vid, int) or not VID_RANGE[0] <= vid <= VID_RANGE[1]:
        raise HostnetError("%s: VLAN id %r is out of range; give an integer %d..%d" % ((what, vid) + VID_RANGE))
    return vid


def port_set(label, vlan=None, vlans=None, native=None, names=("vlan", "vlans", "native")):
    """The VLAN set of a port from its options: `vlan` (an access port) or `vlans` (a trunk, tagged) with
    `native` (its untagged VLAN, listed in `vlans` or not). None when no option is given (leave the port's VLANs
    alone). Raises HostnetError naming `label` and the options (`names`, as the caller calls them) for
    contradictions and ids out of range."""
    if vlan is None and vlans is None and native is None:
        return None
    one, many, untagged = names
    if vlan is not None and (vlans is not None or native is not None):
        raise HostnetError("%s: give either %s (an access port, untagged in the guest) or %s with %s (a trunk, tagged in"
                           " the guest), not both" % (label, one, many, untagged))
    if vlan is not None:
        return ["%d%s" % (check_vid(vlan, "%s: %s" % (label, one)), _NATIVE)]
    if not vlans:
        if native is not None:
            raise HostnetError("%s: %s needs %s, the tagged VLANs of the trunk%s"
                               % (label, untagged, many, "; for one untagged VLAN give %s" % one if one else ""))
        raise HostnetError("%s: %s is empty; list the trunk's VLAN ids, or drop it to leave the VLANs alone"
                           % (label, many))
    tagged = [check_vid(v, "%s: %s" % (label, many)) for v in vlans]
    twice = sorted(set(v for v in tagged if tagged.count(v) > 1))
    if twice:
        raise HostnetError("%s: %s lists %s more than once; list each VLAN id once"
                           % (label, many, ", ".join(str(v) for v in twice)))
    if native is not None:
        check_vid(native, "%s: %s" % (label, untagged))
    entries = dict((v, str(v)) for v in tagged)
    if native is not None:
        entries[native] = "%d%s" % (native, _NATIVE)
    return [entries[v] for v in sorted(entries)]


def vid_of(entry):
    return int(entry.split(" ", 1)[0])


def joining(bridge):
    """What the kernel gives a port that joins `bridge` (its link as the dump reads it; None: created in this plan,
    with the kernel's default 1): the bridge's default VLAN, untagged - none when that is 0."""
    pvid = (bridge or {}).get("default_pvid")
    pvid = 1 if pvid is None else pvid
    return ["%d%s" % (pvid, _NATIVE)] if pvid else []


def changes(have, want):
    """[('add'|'del', entry)] taking a port from `have` to `want`: adds first (an add of a VLAN the port has
    replaces its flags), so a port is never left without its untagged VLAN between the two; then deletions."""
    have_by = dict((vid_of(e), e) for e in have or [])
    want_by = dict((vid_of(e), e) for e in want)
    out = [("add", want_by[v]) for v in sorted(want_by) if have_by.get(v) != want_by[v]]
    out += [("del", have_by[v]) for v in sorted(have_by) if v not in want_by]
    return out


def plan_ports(plan, want, current, created):
    """For _plan.build: the steps to the VLANs of the ports that declare them (a tap's vlan/vlans/native, a bridge's
    port_vlans for its ports), from what each port has - a port that joins its bridge in this plan has what the kernel
    gives it then, the bridge's default VLAN untagged."""
    asked = []
    for spec in want.values():
        if spec["state"] != "present":
            continue
        if spec["kind"] in _planview.TUN_FAMILY and spec.get("vlans") is not None:
            asked.append((spec["name"], spec["master"], spec["vlans"], "tap '%s'" % spec["name"]))  # a tun has none
        elif spec["kind"] == "bridge" and spec.get("port_vlans") is not None:
            asked += [(port, spec["name"], spec["port_vlans"], "bridge '%s': port '%s'" % (spec["name"], port))
                      for port in spec["ports"]]
    for port, bridge, entries, label in asked:
        bspec, bcur = want.get(bridge) or {}, current.get(bridge) or {}
        filtering = bspec.get("vlan_filtering")
        if filtering is None:
            filtering = bcur.get("vlan_filtering") if bridge not in created else False
        if not filtering:
            raise HostnetError("%s: VLANs %s need bridge '%s' to filter VLANs, and it does not; set vlan_filtering: true"
                               " on the bridge" % (label, ", ".join(e.split(" ")[0] for e in entries), bridge))
        pcur = current.get(port) if port not in created else None
        if pcur is None or pcur.get("master") != bridge:
            have = joining(None if bridge in created else bcur)
        else:
            have = pcur.get("vlans") or []
        kind = (want.get(port) or pcur or {}).get("kind", "physical")
        plan.port_vlans[port] = entries
        steps = changes(have, entries)
        plan.vlans += [(kind, port, action, entry) for action, entry in steps]
        if steps and port not in plan.before and pcur is not None:
            plan.before[port] = _planview.view(pcur)


def dump_request(seq):
    """The AF_BRIDGE link dump that lists every bridge port with its VLANs (IFLA_EXT_MASK RTEXT_FILTER_BRVLAN)."""
    body = _IFINFO.pack(AF_BRIDGE, 0, 0, 0, 0) + _nla(IFLA_EXT_MASK, _U32.pack(RTEXT_FILTER_BRVLAN))
    return _HDR.pack(16 + len(body), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def parse_port(data, offset, length):
    """One reply of dump_request: (ifindex, the port's VLAN set)."""
    _family, _type, index, _flags, _change = _IFINFO.unpack_from(data, offset + 16)
    attrs = _attrs(data, offset + 16 + _IFINFO.size, offset + length)
    spec = attrs.get(IFLA_AF_SPEC)
    entries = {}
    pos = spec[0] if spec else 0
    while spec and pos + 4 <= spec[1]:
        alen, atype = _NLA.unpack_from(data, pos)  # the attribute repeats: _attrs() would keep only the last
        if alen < 4:
            break
        if atype & _NLA_TYPE_MASK == IFLA_BRIDGE_VLAN_INFO and alen >= 4 + _VLAN_INFO.size:
            flags, vid = _VLAN_INFO.unpack_from(data, pos + 4)
            entries[vid] = " ".join([str(vid)] + (["pvid"] if flags & BRIDGE_VLAN_INFO_PVID else []) +
                                    (["untagged"] if flags & BRIDGE_VLAN_INFO_UNTAGGED else []))
        pos += (alen + 3) & ~3
    return index, [entries[v] for v in sorted(entries)]


def vlan_request(action, index, entry):
    """An RTM_SETLINK ('add': the VLAN with the entry's flags, replacing those it had) or RTM_DELLINK ('del') of one
    VLAN on bridge port `index`, packed by hand (seq -> bytes)."""
    words = entry.split(" ")
    flags = (BRIDGE_VLAN_INFO_PVID if "pvid" in words else 0) | (BRIDGE_VLAN_INFO_UNTAGGED if "untagged" in words else 0)
    body = _IFINFO.pack(AF_BRIDGE, 0, index, 0, 0)
    body += _nla(IFLA_AF_SPEC, _nla(IFLA_BRIDGE_VLAN_INFO, _VLAN_INFO.pack(flags if action == "add" else 0, int(words[0]))))
    return _request(RTM_SETLINK if action == "add" else RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, body)


class VlanMixin(object):
    """The Kernel's (_netlink) reads and writes of bridge ports' VLANs."""

    def port_vlans(self):
        """{ifindex: VLAN set} of every bridge port of the namespace."""
        return dict(parse_port(*item) for item in self._dump(RTM_GETLINK, request=dump_request))

    def vlan_changes(self, changes):
        """changes: [(kind, name, 'add'|'del', entry)]: VLANs of bridge ports."""
        self._send_batch([(vlan_request(action, self.resolve(name), entry), (kind, name, "%s VLAN %s" % (action, entry)))
                          for kind, name, action, entry in changes])
