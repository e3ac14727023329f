# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Uplink networks, the pure part: what moves with a NIC, the operations (_plan's) that take one entry to a
direction (MOVED onto its bridge, or ORIGINAL), and the diff view before and after.

An entry moves its NIC's addresses and routes to `bridge`, the target device, `via` (default bridge):
- bridge: the target is a bridge that takes the NIC as its port and its MAC (an uplink network);
- macvlan: the target is the host's macvlan on the NIC (a macvtap network's host interface, `takeover`); the NIC
  stays in no bridge, and the target keeps its own MAC.

No kernel access here: `live` is _uplinkhost.read()'s one read of links, addresses and routes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _nlvlan
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._nlwire import IFA_F_NOPREFIXROUTE
from ansible_collections.hostnet.qemu.plugins.module_utils._plan import operation

WHAT = "uplink"
MOVED, ORIGINAL = "moved", "original"
RTPROT_KERNEL, RTPROT_RA = 2, 9
RTN_UNICAST = 1
RT_SCOPE_LINK = 253
RT_TABLE_MAIN = 254
NIC = "interface"  # the kind of an entry's NIC in its operations (the target's is its `via`)
_FIELDS_ADDR = ("family", "address", "broadcast", "scope", "flags")
_FIELDS_ROUTE = ("family", "dst", "gateway", "table", "protocol", "scope", "type", "metric", "prefsrc", "onlink")


def movable_addresses(live, dev, dhcp=False):
    """The addresses that move with the NIC: all IPv4 ones, IPv6 ones that are permanent and not link-local.

    Kernel-made (SLAAC) IPv6 addresses are left: the bridge makes the same ones itself (it carries the NIC's MAC).
    With `dhcp` (the uplink runs the collection's DHCP client) the IPv4 lease is not moved but asked for again.
    """
    out = []
    for entry in live["addresses"].get(dev, []):
        if entry["family"] == 6 and (entry["scope"] == RT_SCOPE_LINK or not entry["permanent"]):
            continue
        if dhcp and dynamic4([entry]):
            continue
        out.append(dict((k, entry.get(k)) for k in _FIELDS_ADDR))
    return out


def movable_routes(live, dev, dhcp=False):
    """The routes through the NIC that move: unicast routes not made by the kernel (prefix routes of
    addresses) or by router advertisements, in any table but 'local'. With `dhcp` no IPv4 route moves: the lease's
    router is asked for again.

    A prefix route of an address flagged noprefixroute is no kernel's, whatever its protocol says: its owner
    (NetworkManager adds its own, with its metric, as protocol kernel) made it, and it moves like any other, or the
    routes through its gateway would find no way to it."""
    out = []
    theirs = set(str(ipaddress.ip_interface(a["address"]).network) for a in live["addresses"].get(dev, [])
                 if (a.get("flags") or 0) & IFA_F_NOPREFIXROUTE)
    for route in live["routes"].get(dev, []):
        if route["type"] != RTN_UNICAST or route["protocol"] == RTPROT_RA:
            continue
        if route["protocol"] == RTPROT_KERNEL and route["dst"] not in theirs:
            continue
        if dhcp and route["family"] == 4:
            continue
        if route["family"] == 6 and route["dst"].startswith("fe80:"):
            continue
        out.append(dict((k, route.get(k)) for k in _FIELDS_ROUTE))
    return out


def dynamic4(addresses):
    """The dynamic IPv4 addresses among address_details() entries: what a DHCP lease gave a device."""
    return [a for a in addresses if a["family"] == 4 and not a["permanent"]]


def current_lease(live, dev):
    """The lease `dev` has now: its dynamic IPv4 addresses with the time they expire ('valid_until'), and its IPv4
    routes. Saved before a first move, so that a rollback gives it back until it runs out."""
    now = time.time()
    return {"addresses": [dict([(k, a.get(k)) for k in _FIELDS_ADDR], valid_until=int(now + (a["valid_lft"] or 0)))
                          for a in dynamic4(live["addresses"].get(dev, []))],
            "routes": [r for r in movable_routes(live, dev) if r["family"] == 4]}


def address_op(action, kind, dev, entry):
    """The operation that adds or removes an address as the kernel lists it (address_details()), all of it kept."""
    return operation("address", kind, dev, action=action, cidr=entry["address"], detail=entry)


def route_op(action, kind, dev, route):
    """The operation that adds or removes a route as the kernel lists it (routes()), all of it kept."""
    return operation("route", kind, dev, action=action, route=route_text(route), detail=route)


def lease_items(live, dev, kind):
    """The lease `dev` (a `kind`) has now as removal operations: an uplink with a DHCP client leaves it behind on the
    side it leaves (the client on the other side asks again)."""
    held = current_lease(live, dev)
    return [route_op("del", kind, dev, r) for r in held["routes"]] + [
        address_op("del", kind, dev, a) for a in reversed(held["addresses"])]


def _lease_back(entry, live, nic):
    """Operations that give the NIC the lease its bridge holds, else the one saved before the first move: what is
    left of it (nothing once it ran out). No client renews it on the NIC."""
    held = current_lease(live, entry["bridge"]) if entry["bridge"] in live["links"] else {}
    lease, now = (held if held.get("addresses") else entry.get("lease")) or {}, time.time()
    back = [dict(a, lifetime=int(a["valid_until"] - now)) for a in lease.get("addresses") or []
            if a["valid_until"] - now >= 1]
    if not back:
        return []
    have = set(a["address"] for a in live["addresses"].get(nic, []))
    on_nic = set(route_key(r) for r in live["routes"].get(nic, []))
    return [address_op("add", NIC, nic, a) for a in back if a["address"] not in have] + [
        route_op("add", NIC, nic, r) for r in _route_order(lease.get("routes") or []) if route_key(r) not in on_nic]


def route_key(route):
    metric = route.get("metric") or 0
    return (route["family"], route["dst"], route["table"], metric, route.get("gateway"))


def route_text(route):
    dst = "default" if route["dst"].split("/")[1] == "0" else route["dst"]
    text = dst + (" via %s" % route["gateway"] if route.get("gateway") else "")
    if route.get("metric"):
        text += " metric %d" % route["metric"]
    if route["table"] != RT_TABLE_MAIN:
        text += " table %d" % route["table"]
    return text


def _route_order(routes):
    """Routes without a gateway (they make gateways reachable) first."""
    return sorted(routes, key=lambda r: (r.get("gateway") is not None, r["family"]))


# -- planning (pure: entry + one read -> ordered operations) --------------------------------------
def uplink_label(entry):
    return "uplink '%s' (%s '%s')" % (entry["nic"], via(entry), entry["bridge"])


def via(entry):
    """What the entry's NIC gives its addresses to: 'bridge' (saved entries from before `via` existed) or 'macvlan'."""
    return entry.get("via") or "bridge"


def nic_field(entry):
    """The network field that names the entry's NIC, for messages: an uplink network's `uplink`, a macvtap's `link`."""
    return "uplink" if via(entry) == "bridge" else "link"


def is_moved(entry, live):
    """Whether the NIC is (at least partly) moved now: a port of its bridge, or its macvlan carries addresses the NIC
    has no more."""
    nic, target = live["links"].get(entry["nic"]), live["links"].get(entry["bridge"])
    if nic is None or target is None:
        return False
    if via(entry) == "bridge":
        return nic.get("master") == entry["bridge"]
    return bool(movable_addresses(live, entry["bridge"])) or not movable_addresses(live, entry["nic"])


def plan(entry, direction, live, delete_bridge=False):
    """Operations (_plan.operation) that take the live state to `direction` (MOVED or ORIGINAL) for one entry: the
    target's create, set (up, mac, the NIC's master) and delete, the NIC's VLANs, and its addresses and routes with
    the kernel's whole entries (address_op, route_op). The NIC's kind is 'interface', the target's its `via`."""
    if direction == MOVED:
        return _plan_move(entry, live)
    return _plan_restore(entry, live, delete_bridge)


def _nic(entry, live, doing):
    link = live["links"].get(entry["nic"])
    if link is None:
        raise HostnetError("%s: cannot %s: the NIC '%s' does not exist; give an existing interface"
                           % (uplink_label(entry), doing, entry["nic"]))
    return link


def _target(entry, live):
    link, kind = live["links"].get(entry["bridge"]), via(entry)
    if link is not None and link["kind"] != kind:
        raise HostnetError("%s: '%s' exists and is a %s, not a %s; remove it or choose another name"
                           % (uplink_label(entry), entry["bridge"], link["kind"], kind))
    if link is not None and kind == "macvlan" and link.get("link") != entry["nic"]:
        raise HostnetError("%s: the macvlan '%s' sits on '%s', not on '%s'; remove it or choose another name"
                           % (uplink_label(entry), entry["bridge"], link.get("link"), entry["nic"]))
    return link


def _plan_move(entry, live):
    br, nic, kind = entry["bridge"], entry["nic"], via(entry)
    nic_link = _nic(entry, live, "move its addresses to the %s" % kind)
    master = nic_link.get("master")
    if master and master != br:
        raise HostnetError("%s: the NIC is already a port of '%s'; release it first (ip link set %s nomaster)"
                           % (uplink_label(entry), master, nic))
    cur = _target(entry, live)
    # a bridge takes the NIC's MAC, its own now (a replaced NIC brings a new one); a macvlan keeps its own
    mac = (nic_link.get("mac") or entry.get("mac")) if kind == "bridge" else None
    ops = []
    if cur is None:
        spec = {"kind": "bridge", "name": br, "mac": mac, "vlan_filtering": bool(entry.get("vlans")) or None} \
            if kind == "bridge" else {"kind": "macvlan", "name": br, "link": nic, "mode": "bridge"}
        ops.append(operation("create", kind, br, spec=spec))
        ops.append(operation("set", kind, br, fields={"up": True}))
    else:
        fields = {}
        if mac and cur.get("mac") != mac:
            fields["mac"] = mac
        if not cur.get("up"):
            fields["up"] = True
        if fields:
            ops.append(operation("set", kind, br, fields=fields))
    on_nic = set(route_key(r) for r in live["routes"].get(nic, []))
    ops += [route_op("del", NIC, nic, r) for r in entry["routes"] if route_key(r) in on_nic]
    have = set(a["address"] for a in live["addresses"].get(nic, []))
    ops += [address_op("del", NIC, nic, a) for a in reversed(entry["addresses"]) if a["address"] in have]
    if entry.get("dhcp"):
        ops += lease_items(live, nic, NIC)
    fields = {}
    if kind == "bridge" and master != br:
        fields["master"] = br
    if not nic_link.get("up"):
        fields["up"] = True
    if fields:
        ops.append(operation("set", NIC, nic, fields=fields))
    if entry.get("vlans") and kind == "bridge":  # the VLANs it carries, once it is the bridge's port
        now = (nic_link.get("vlans") or []) if master == br else _nlvlan.joining(cur)
        ops += [operation("vlan", NIC, nic, action=action, vlan=vlan) for action, vlan in _nlvlan.changes(now, entry["vlans"])]
    have = set(a["address"] for a in live["addresses"].get(br, [])) if cur else set()
    ops += [address_op("add", kind, br, a) for a in entry["addresses"] if a["address"] not in have]
    on_br = set(route_key(r) for r in live["routes"].get(br, [])) if cur else set()
    ops += [route_op("add", kind, br, r) for r in _route_order(entry["routes"]) if route_key(r) not in on_br]
    return ops


def _plan_restore(entry, live, delete_bridge):
    br, nic, kind = entry["bridge"], entry["nic"], via(entry)
    nic_link = _nic(entry, live, "give it its addresses back")
    cur = _target(entry, live)
    ops = []
    if cur is not None:
        on_br = set(route_key(r) for r in live["routes"].get(br, []))
        ops += [route_op("del", kind, br, r) for r in entry["routes"] if route_key(r) in on_br]
        have = set(a["address"] for a in live["addresses"].get(br, []))
        ops += [address_op("del", kind, br, a) for a in reversed(entry["addresses"]) if a["address"] in have]
        if entry.get("dhcp"):
            ops += lease_items(live, br, kind)
    fields = {}
    if cur is not None and delete_bridge:
        ops.append(operation("delete", kind, br))
    elif nic_link.get("master") == br:
        fields["master"] = None
    if not nic_link.get("up"):
        fields["up"] = True
    if fields:
        ops.append(operation("set", NIC, nic, fields=fields))
    have = set(a["address"] for a in live["addresses"].get(nic, []))
    ops += [address_op("add", NIC, nic, a) for a in entry["addresses"] if a["address"] not in have]
    on_nic = set(route_key(r) for r in live["routes"].get(nic, []))
    ops += [route_op("add", NIC, nic, r) for r in _route_order(entry["routes"]) if route_key(r) not in on_nic]
    return ops + (_lease_back(entry, live, nic) if entry.get("dhcp") else [])


def view(entry, live):
    """What a diff shows of one entry: the NIC's master, addresses and routes, and the bridge's (with a DHCP client,
    the IPv4 lease apart, as 'lease')."""
    out, dhcp = {}, bool(entry.get("dhcp"))
    for role, name in (("nic", entry["nic"]), ("bridge", entry["bridge"])):
        link = live["links"].get(name)
        if link is None:
            out[role] = None
            continue
        out[role] = {"name": name, "master": link.get("master"), "up": link.get("up"),
                     "addresses": sorted(a["address"] for a in movable_addresses(live, name, dhcp)),
                     "routes": sorted(route_text(r) for r in movable_routes(live, name, dhcp))}
        if dhcp:
            held = current_lease(live, name)
            out[role]["lease"] = sorted([a["address"] for a in held["addresses"]] + [route_text(r) for r in held["routes"]])
        if role == "bridge":
            out[role]["mac"] = link.get("mac")
        elif entry.get("vlans"):
            out[role]["vlans"] = list(link.get("vlans") or [])
    return out


def project(entry, direction, before, delete_bridge=False):
    """The view after `direction` (for check mode and diff), from the view before."""
    after = json.loads(json.dumps(before))
    addrs = set(a["address"] for a in entry["addresses"])
    routes = set(route_text(r) for r in entry["routes"])
    src, dst = ("nic", "bridge") if direction == MOVED else ("bridge", "nic")
    if after["bridge"] is None and direction == MOVED:
        after["bridge"] = {"name": entry["bridge"], "master": None, "up": True, "addresses": [], "routes": [],
                           "mac": entry.get("mac") if via(entry) == "bridge" else None}
    if entry.get("dhcp"):  # the lease stays behind (removed); the DHCP client on the other side asks for one
        for role, lease in ((dst, ["asked for by the DHCP client"]), (src, [])):
            if after[role] is not None:
                after[role]["lease"] = lease
    if after[src] is not None:
        after[src]["addresses"] = sorted(set(after[src]["addresses"]) - addrs)
        after[src]["routes"] = sorted(set(after[src]["routes"]) - routes)
    if after[dst] is not None:
        after[dst]["addresses"] = sorted(set(after[dst]["addresses"]) | addrs)
        after[dst]["routes"] = sorted(set(after[dst]["routes"]) | routes)
        after[dst]["up"] = True
    if after["nic"] is not None and entry.get("vlans"):  # a port has them; a NIC given back has none
        after["nic"]["vlans"] = list(entry["vlans"]) if direction == MOVED else []
    if direction == MOVED and via(entry) == "bridge":
        after["nic"]["master"] = entry["bridge"]
        after["bridge"].update({"up": True, "mac": entry.get("mac") or after["bridge"].get("mac")})
    elif direction == MOVED:
        after["bridge"]["up"] = True
    else:
        if after["nic"] is not None and after["nic"]["master"] == entry["bridge"]:
            after["nic"]["master"] = None
        if delete_bridge:
            after["bridge"] = None
    return after
