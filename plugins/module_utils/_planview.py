# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a user sees of a device, before and after a plan: the managed fields of a link (view) and the projection
of a plan onto the current state (project), which is the diff's "after" and check mode's result. Pure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MANAGED_KINDS = ("bridge", "tap", "tun", "macvtap", "macvlan", "vxlan")
TUN_FAMILY = ("tap", "tun")
MACVLAN_FAMILY = ("macvtap", "macvlan")  # children of a parent link, with a mode
ADDRESSED = ("bridge", "macvlan", "tap", "tun")  # kinds whose addresses the engine manages
PORTS = ("tap", "tun", "vxlan")  # kinds with a `master` option of their own
VXLAN_FIELDS = ("vni", "local", "underlay", "port", "learning")
PORT_FIELDS = ("port_learning", "neigh_suppress")  # a VXLAN device's flags in its bridge (None outside one)


def view(link, ports=None):
    """The fields a user manages, for diff and results."""
    if link is None:
        return None
    kind = link["kind"]
    out = {"kind": kind, "up": link.get("up"), "mtu": link.get("mtu"), "mac": link.get("mac"), "master": link.get("master")}
    if kind == "bridge":
        out.update({"stp": link.get("stp"), "forward_delay": link.get("forward_delay"),
                    "vlan_filtering": link.get("vlan_filtering"), "addr_gen_mode": link.get("addr_gen_mode"),
                    "addresses": list(link.get("addresses") or []),
                    "ports": sorted(ports or [])})
        if "routes" in link:  # read only when a desired device manages routes
            out["routes"] = list(link["routes"])
            out["proxy_arp"] = list(link.get("proxy_arp") or [])
    elif kind in TUN_FAMILY:
        out.update(dict((k, link.get(k)) for k in ("owner", "group", "multi_queue", "vnet_hdr", "pi")))
        out["addresses"] = list(link.get("addresses") or [])
    elif kind == "macvlan":
        out.update({"link": link.get("link"), "mode": link.get("mode"), "addresses": list(link.get("addresses") or [])})
    elif kind == "vxlan":
        out.update(dict((k, link.get(k)) for k in VXLAN_FIELDS + PORT_FIELDS))
        out["peers"] = sorted(link.get("peers") or [])
    elif kind == "macvtap":
        out.update({"link": link.get("link"), "mode": link.get("mode")})
        device = link.get("device") or {}
        out.update({"device": device.get("path"), "device_owner": device.get("owner"),
                    "device_group": device.get("group"),
                    "device_mode": None if device.get("mode") is None else "%04o" % device["mode"]})
    if "vlans" in link:  # a bridge port's, read when a desired device manages VLANs
        out["vlans"] = list(link["vlans"])
    return out


def node_id(value):
    """Unset owner/group of a /dev node means root (0), which is what mknod leaves."""
    return 0 if value is None else value


def project(plan, spec, cur, ports_now):
    """The after-view of a device, from the current link (or nothing) plus the planned changes.

    `spec` is None for an undeclared device the plan touches (a port being enslaved or released).
    """
    if spec is None:
        base = dict(cur)
        spec = {"kind": cur["kind"], "name": cur["name"]}
    else:
        base = dict(cur) if cur is not None else {"kind": spec["kind"], "up": False, "mtu": spec.get("mtu"),
                                                  "mac": spec.get("mac"), "master": None, "addresses": []}
        base["kind"] = spec["kind"]
    name = spec["name"]
    if spec["kind"] == "bridge" and "ports" in spec:
        for key in ("stp", "forward_delay", "vlan_filtering"):
            if spec.get(key) is not None:
                base[key] = spec[key]
        if "addr_gen_mode" in plan.sets.get(name, [None, {}])[1]:  # not on a kernel without IPv6
            base["addr_gen_mode"] = spec["addr_gen_mode"]
        if spec.get("addresses") is not None:
            base["addresses"] = list(spec["addresses"])
        if spec.get("routes") is not None:
            base["routes"] = list(spec["routes"])
        if spec.get("proxy_arp") is not None:
            base["proxy_arp"] = list(spec["proxy_arp"])
    elif spec["kind"] in TUN_FAMILY and "owner_given" in spec:
        for tun in plan.tun:
            if tun["name"] == name:
                base.update(dict((k, tun[k]) for k in ("owner", "group", "pi", "vnet_hdr")))
        if cur is None:
            base.update({"owner": spec["owner"], "group": spec["group"], "multi_queue": spec["multi_queue"],
                         "vnet_hdr": bool(spec.get("vnet_hdr")), "pi": bool(spec.get("pi"))})
        if spec.get("addresses") is not None:
            base["addresses"] = list(spec["addresses"])
    elif spec["kind"] == "macvlan" and "link" in spec:
        base.update({"link": spec["link"], "mode": spec["mode"]})
        if spec.get("addresses") is not None:
            base["addresses"] = list(spec["addresses"])
    elif spec["kind"] == "vxlan" and "vni" in spec:
        for key in VXLAN_FIELDS:
            if spec.get(key) is not None:
                base[key] = spec[key]
        peers = set(base.get("peers") or [])
        for _kind, fname, action, _mac, dst in plan.fdb:
            if fname == name:
                if action == "add":
                    peers.add(dst)
                else:
                    peers.discard(dst)
        base["peers"] = sorted(peers)
    elif spec["kind"] == "macvtap" and "link" in spec:
        base["link"] = spec["link"]
        base["mode"] = spec["mode"]
        device = dict(base.get("device") or {})
        for node in plan.nodes:
            if node["name"] == name:
                device.update({"owner": node_id(node["owner"]), "group": node_id(node["group"]), "mode": node["mode"]})
        base["device"] = device
    entry = plan.sets.get(name)
    if entry:
        base.update(dict((k, v) for k, v in entry[1].items()
                         if (k != "mode" or spec["kind"] in MACVLAN_FAMILY) and k != "bridge_port"))
        flags = entry[1].get("bridge_port")
        if flags:
            base.update(port_learning=flags["learning"], neigh_suppress=flags["neigh_suppress"])
    for kind, rel in plan.releases:
        if rel == name:
            base["master"] = None
    if name in plan.port_vlans:  # a port whose VLANs are declared ends with exactly those
        base["vlans"] = list(plan.port_vlans[name])
    ports = None
    if spec["kind"] == "bridge":
        released = set(rel for _kind, rel in plan.releases)
        ports = set(p for p in (ports_now if cur is not None else []) if p not in released)
        for pname, (_kind, fields) in plan.sets.items():
            if fields.get("master") == name:
                ports.add(pname)
    return view(base, ports)


def label(kind, name):
    """How plans and messages name a device: "bridge 'br0'" (a tun is a tap)."""
    return "%s '%s'" % ("tap" if kind == "tun" else kind, name)


def describe(op):
    """The line of one operation in a plan, check mode's report and the journal."""
    who, kind = label(op["kind"], op["name"]), op["op"]
    if kind == "set":
        return "set %s: %s" % (who, ", ".join(_field(k, v) for k, v in sorted(op["fields"].items())))
    if kind == "create":
        spec = op["spec"]
        return "create %s%s" % (who, " with MAC %s" % spec["mac"] if spec.get("mac")
                                else " on '%s'" % spec["link"] if spec.get("link") else "")
    if kind == "address":
        return "%s address %s on %s" % (op["action"], op["cidr"], who)
    if kind == "vlan":
        return "%s VLAN %s on %s" % (op["action"], op["vlan"], who)
    if kind == "route":
        return "%s route %s on %s" % (op["action"], op["route"], who)
    if kind == "proxy":
        return "%s proxy %s %s for %s" % (op["action"], "NDP" if ":" in op["entry"] else "ARP", op["entry"], who)
    if kind == "fdb":
        return "%s fdb entry %s dst %s on %s" % (op["action"], op["mac"], op["dst"], who)
    if kind == "node":
        return "device node of %s: owner=%s group=%s mode=%04o" % (who, op["owner"], op["group"], op["mode"])
    if kind == "tun":
        return "set ownership/flags of %s" % who
    return "%s %s" % (kind, who)


def _field(key, value):
    """One changed field of a summary line; a group of flags (bridge_port) as 'bridge_port(learning=False ...)'."""
    if isinstance(value, dict):
        return "%s(%s)" % (key, " ".join("%s=%s" % item for item in sorted(value.items())))
    return "%s=%s" % (key, value)
