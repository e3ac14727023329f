# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A network's VLANs (field `vlans`): the rules between fields, and what they make of the network.

A network with `vlans` has a VLAN-filtering bridge. VLAN 1 stays the network's untagged VLAN: the host's own address
on the bridge, its DHCP and DNS, and guest NICs without a VLAN are on it. Guest NICs take VLANs among `vlans` (an
access `vlan`, a trunk's `vlans` and `native`; guest_nic() checks them), and an uplink network's NIC carries them
tagged beside its untagged VLAN 1. _nftnet.check() and normalise() call these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostnet.qemu.plugins.module_utils import _nlvlan
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

KINDS = ("isolated", "uplink")
UNTAGGED = 1  # the network's own VLAN: the bridge's default, untagged on every port that does not say otherwise


def check(net, label, kind):
    """Problems of field `vlans`: on a kind that has VLANs, ids in 2..4094, each once, and not on a span."""
    vlans = net.get("vlans")
    if vlans is None:
        return []
    if kind not in KINDS:
        return ["%s: field 'vlans' applies to kinds isolated and uplink (the host routes, serves DHCP and masquerades"
                " only the network's untagged VLAN); drop it, or carry the VLANs on an isolated or uplink network" % label]
    if net.get("span"):
        return ["%s: field 'vlans' and field 'span' do not go together (a span carries the network's untagged VLAN in"
                " one VNI); drop one of them" % label]
    try:
        entries = _nlvlan.port_set(label, None, vlans, None, names=(None, "field 'vlans'", None))
    except HostnetError as exc:
        return [str(exc)]
    if "%d" % UNTAGGED in entries:
        return ["%s: field 'vlans' lists VLAN %d, the network's own untagged VLAN (the host's address and guest NICs"
                " without a VLAN); list the tagged VLANs, 2..4094" % (label, UNTAGGED)]
    return []


def normalise(net, kind):
    """The network's tagged VLAN ids, sorted ([]: its bridge does not filter VLANs)."""
    return sorted(net.get("vlans") or []) if kind in KINDS else []


def uplink_port(vlans, label):
    """The VLAN set of an uplink NIC that carries `vlans` tagged, and VLAN 1 untagged (the host's own traffic); None
    without VLANs (its VLANs are left as the bridge gives them)."""
    if not vlans:
        return None
    if UNTAGGED in vlans:
        raise HostnetError("%s: vlans lists VLAN %d, the NIC's untagged VLAN (the host's own traffic); list the tagged"
                           " VLANs, 2..4094" % (label, UNTAGGED))
    return _nlvlan.port_set(label, None, vlans, UNTAGGED)


def on_host(networks, dump):
    """Problems only the host shows: `vlans` on a kernel without bridge VLAN filtering. Its bridges tell (they report
    no default VLAN); a host without any bridge yet is left to the device engine, which refuses the same before it
    changes anything."""
    wanting = [n["name"] for n in networks if n["vlans"] and n["state"] == "present"]
    bridges = [link for link in dump.values() if link["kind"] == "bridge"]
    if not wanting or not bridges or any(b.get("default_pvid") is not None for b in bridges):
        return []
    return ["network '%s': field 'vlans' needs bridge VLAN filtering, which this host's kernel does not have"
            " (CONFIG_BRIDGE_VLAN_FILTERING: its bridges report no default VLAN); drop vlans, or run the network on a"
            " kernel that has it" % name for name in wanting]


def guest_nic(nic, raw, guest, where, networks):
    """For the guest role's model (plugin_utils/_guest): a tap NIC's VLANs (`vlan`, or `vlans` with `native`) - valid
    ids, on a bridge, and on a network of the network role among the network's `vlans` (VLAN 1, its untagged one,
    always). Sets nic['vlan_options'] (what the device engine takes) when there are some."""
    options = dict((k, raw[k]) for k in ("vlan", "vlans", "native") if raw.get(k) is not None)
    entries = _nlvlan.port_set("guest '%s': %s" % (guest, where), options.get("vlan"), options.get("vlans"),
                               options.get("native"))
    if entries is None:
        return
    field = "%s.%s" % (where, sorted(options)[-1])
    if not nic["bridge"]:
        _fail(guest, field, "VLANs are those of a port of a VLAN-filtering bridge, and the NIC has no bridge",
              "give bridge (the bridge of a network with vlans)")
    nic["vlan_options"] = options
    if nic["bridge"] not in networks:
        return  # a bridge of the host's own: the device engine refuses it unless it filters VLANs
    name, allowed = networks[nic["bridge"]]
    ids = [_nlvlan.vid_of(e) for e in entries]
    tagged = [str(v) for v in ids if v != UNTAGGED]
    if not allowed:
        _fail(guest, field, "network '%s' (bridge '%s') does not filter VLANs" % (name, nic["bridge"]),
              "give the network vlans: [%s], or drop the NIC's VLANs" % ", ".join(tagged) if tagged else
              "drop the NIC's VLANs (VLAN %d is the network's own, where every NIC without one is)" % UNTAGGED)
    stray = [v for v in tagged if int(v) not in allowed]
    if stray:
        _fail(guest, field, "%s among the vlans of network '%s' (%s)"
              % ("VLAN %s is not" % stray[0] if len(stray) == 1 else "VLANs %s are not" % ", ".join(stray), name,
                 ", ".join(str(v) for v in allowed)), "add %s to the network's vlans, or take one of those"
              % ("it" if len(stray) == 1 else "them"))


def _fail(guest, field, problem, fix):
    raise HostnetError("guest '%s': %s: %s; %s" % (guest, field, problem, fix))
