# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner: desired devices vs one dump of current state -> ordered operations.

Pure Python, no kernel: unit-tested on plain dicts. Check mode returns the plan; diff is the
before/after view of each touched device; `changed` is "the plan is not empty".

Order: delete children before parents; create bridges, then taps/tuns/VXLAN devices, then macvtaps/macvlans;
reconfigure tun ownership; release ports, then set links (enslave, up, mtu, mac); then addresses; then the
bridges' managed routes (their gateways are reachable through the addresses) and the proxy neighbour entries that
draw traffic into those routes (a deleted bridge's go with it); then the VXLAN flood lists
(forwarding-database entries); then macvtap /dev nodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostnet.qemu.plugins.module_utils import _netns, _nlvlan, _planview, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._nlneigh import ZERO_MAC
from ansible_collections.hostnet.qemu.plugins.module_utils._planview import (
    ADDRESSED, MACVLAN_FAMILY, MANAGED_KINDS, PORTS, TUN_FAMILY, describe, label as _label)

_DELETE_RANK = {"macvtap": 0, "macvlan": 0, "tap": 1, "tun": 1, "vxlan": 1, "bridge": 2}
_CREATE_RANK = {"bridge": 0, "tap": 1, "tun": 1, "vxlan": 1, "macvtap": 2, "macvlan": 2}


class Plan(object):
    def __init__(self):
        self.deletes = []
        self.creates = []
        self.tun = []
        self.releases = []
        self.sets = {}
        self.vlans = []
        self.port_vlans = {}
        self.addresses = []
        self.routes = []
        self.proxies = []
        self.fdb = []
        self.nodes = []
        self.before = {}
        self.after = {}

    def set(self, kind, name, **fields):
        entry = self.sets.setdefault(name, [kind, {}])
        entry[1].update(fields)

    @property
    def ops(self):
        """The ordered operation list (what check mode reports and apply executes)."""
        ops = [operation("delete", k, n) for k, n in sorted(self.deletes, key=lambda d: (_DELETE_RANK.get(d[0], 1), d[1]))]
        ops += [operation("create", s["kind"], s["name"], spec=s) for s in sorted(self.creates, key=lambda s: _CREATE_RANK[s["kind"]])]
        ops += [operation("tun", s["kind"], s["name"], spec=s) for s in self.tun]
        ops += [operation("set", k, n, fields={"master": None}) for k, n in self.releases]
        ordered = sorted(self.sets.items(), key=lambda item: (item[1][0] != "bridge", item[0]))
        ops += [operation("set", kind, name, fields=fields) for name, (kind, fields) in ordered if fields]
        ops += [operation("vlan", k, n, action=a, vlan=e) for k, n, a, e in self.vlans]
        ops += [operation("address", k, n, action=a, cidr=c) for k, n, a, c in self.addresses]
        ops += [operation("route", k, n, action=a, route=r) for k, n, a, r in self.routes]
        ops += [operation("proxy", k, n, action=a, entry=e) for k, n, a, e in self.proxies]
        ops += [operation("fdb", k, n, action=a, mac=m, dst=d) for k, n, a, m, d in self.fdb]
        ops += [operation("node", **node) for node in self.nodes]
        return ops

    @property
    def changed(self):
        return bool(self.ops)

    def summary(self):
        """Short human-readable lines, one per operation."""
        return [describe(op) for op in self.ops]


def operation(op, kind, name, **fields):
    """One operation of the vocabulary that every planner speaks (the devices here, the uplink move, the DHCP
    client's lease) and _engine.apply executes: {op, kind, name, and the op's fields}.

    op: delete | create (spec) | tun (spec) | set (fields) | vlan (action, vlan) | address (action, cidr) |
    route (action, route: 'DST [via GATEWAY]...') | proxy (action, entry) | fdb (action, mac, dst) |
    node (owner, group, mode). An address or route may carry `detail`, the kernel's whole entry as the uplink
    move reads it (lifetime, flags, metric, protocol...), which the kernel gets instead of the engine's defaults.
    """
    return dict(fields, op=op, kind=kind, name=name)


def _family(kind):
    return "tun" if kind in TUN_FAMILY else kind


def ports_of(current):
    ports = {}
    for name, link in current.items():
        if link.get("master"):
            ports.setdefault(link["master"], []).append(name)
    return ports


def build(desired, current, netns=None, purge_prefix=None):
    """Compute the Plan that takes `current` (a dump) to `desired` (normalised specs)."""
    plan = Plan()
    where = _netns.where(netns)
    want = dict((spec["name"], spec) for spec in desired)
    ports_now = ports_of(current)
    created = set()
    deleted = set()
    ipv6 = any(link.get("addr_gen_mode") is not None for link in current.values())  # the loopback's tells

    for spec in desired:
        name, kind = spec["name"], spec["kind"]
        label = _label(kind, name)
        cur = current.get(name)
        if cur is not None and _family(cur["kind"]) != _family(kind):
            raise HostnetError("%s: a %s named '%s' already exists in %s; remove it or choose another name"
                               % (label, cur["kind"], name, where))
        if spec["state"] == "absent":
            if cur is not None:
                plan.deletes.append((cur["kind"], name))
                plan.proxies += [(cur["kind"], name, "del", e) for e in cur.get("proxy_arp") or []]
                deleted.add(name)
                plan.before[name] = _planview.view(cur, ports_now.get(name))
                plan.after[name] = None
            continue
        recreate_why = None
        if cur is not None and kind in TUN_FAMILY:
            if cur["kind"] != kind:
                recreate_why = "changing mode from %s to %s" % (cur["kind"], kind)
            elif bool(cur.get("multi_queue")) != spec["multi_queue"]:
                recreate_why = "changing multi_queue from %s to %s" % (bool(cur.get("multi_queue")), spec["multi_queue"])
        if cur is not None and kind in MACVLAN_FAMILY and cur.get("link") != spec["link"]:
            recreate_why = "moving it from link '%s' to '%s'" % (cur.get("link"), spec["link"])
        if cur is not None and kind == "vxlan":
            for key in ("vni", "port"):  # the kernel refuses to change them in place
                if cur.get(key) != spec[key]:
                    recreate_why = "changing %s from %s to %s" % (key, cur.get(key), spec[key])
        if recreate_why:
            if not spec.get("recreate"):
                raise HostnetError("%s: %s needs the device deleted and created again; set recreate: true to allow it "
                                   "(anything attached to it, such as a running guest, loses the device)" % (label, recreate_why))
            plan.deletes.append((cur["kind"], name))
            deleted.add(name)
        plan.before[name] = _planview.view(cur, ports_now.get(name))
        if cur is None or recreate_why:
            created.add(name)
            plan.creates.append(spec)
            _after_create(plan, spec)
            if kind == "bridge" and spec.get("addr_gen_mode") and ipv6:  # before it comes up and forms its address
                plan.set(kind, name, addr_gen_mode=spec["addr_gen_mode"])
            continue
        _converge_existing(plan, spec, cur, ports_now.get(name))

    _plan_masters(plan, want, current, created, deleted, where)
    _nlvlan.plan_ports(plan, want, current, created)
    _check_parents(want, current, created, where)

    if purge_prefix:
        for name, link in sorted(current.items()):
            if name.startswith(purge_prefix) and name not in want and link["kind"] in MANAGED_KINDS:
                plan.deletes.append((link["kind"], name))
                plan.proxies += [(link["kind"], name, "del", e) for e in link.get("proxy_arp") or []]
                plan.before[name] = _planview.view(link, ports_now.get(name))
                plan.after[name] = None

    for name in list(plan.before):
        if name in plan.after:
            continue
        cur = current.get(name) if name not in created else None
        plan.after[name] = _planview.project(plan, want.get(name), cur, ports_now.get(name, []))
    for name in list(plan.before):
        if plan.before[name] == plan.after[name]:
            del plan.before[name]
            del plan.after[name]
    return plan


def _after_create(plan, spec):
    """Settings that follow a create: up, mtu/mac for taps, addresses, the macvtap node."""
    kind, name = spec["kind"], spec["name"]
    fields = {}
    if spec["up"]:
        fields["up"] = True
    if kind in TUN_FAMILY:
        if spec.get("mtu"):
            fields["mtu"] = spec["mtu"]
        if spec.get("mac"):
            fields["mac"] = spec["mac"]
    if fields:
        plan.set(kind, name, **fields)
    if kind in ADDRESSED:
        for cidr in spec.get("addresses") or []:
            plan.addresses.append((kind, name, "add", cidr))
    for route in spec.get("routes") or []:
        plan.routes.append((kind, name, "add", route))
    plan.proxies += [(kind, name, "add", e) for e in spec.get("proxy_arp") or []]
    if kind == "vxlan":
        if spec.get("master") and port_flags(spec) != NEW_PORT:
            plan.set(kind, name, bridge_port=port_flags(spec))  # sent once the device is in its bridge (the same set)
        for peer in spec.get("peers") or []:
            plan.fdb.append((kind, name, "add", ZERO_MAC, peer))
    if kind == "macvtap":
        plan.nodes.append({"kind": kind, "name": name, "owner": spec["device_owner"],
                           "group": spec["device_group"], "mode": spec["device_mode"]})


NEW_PORT = {"learning": True, "neigh_suppress": False}  # what the kernel gives a device it puts in a bridge


def port_flags(spec):
    """A VXLAN device's flags as a port of its bridge: MAC learning follows the device's `learning` (a control
    plane that installs the MACs wants neither to learn them), ARP/ND suppression is `neigh_suppress`."""
    learning = spec.get("port_learning", spec.get("learning"))
    return {"learning": bool(learning), "neigh_suppress": bool(spec.get("neigh_suppress"))}


def _converge_existing(plan, spec, cur, ports):
    kind, name = spec["kind"], spec["name"]
    fields = {}
    if bool(cur.get("up")) != spec["up"]:
        fields["up"] = spec["up"]
    if spec.get("mtu") and cur.get("mtu") != spec["mtu"]:
        fields["mtu"] = spec["mtu"]
    if spec.get("mac") and cur.get("mac") != spec["mac"]:
        fields["mac"] = spec["mac"]
    if kind == "bridge":
        for key in ("stp", "vlan_filtering"):
            if spec.get(key) is not None and bool(cur.get(key)) != spec[key]:
                fields[key] = spec[key]
        delay = spec.get("forward_delay")
        if delay is not None and (cur.get("forward_delay") is None or abs(cur["forward_delay"] - delay) >= 0.005):
            fields["forward_delay"] = delay
        _link_local(plan, spec, cur, fields)
    if kind in ADDRESSED and spec.get("addresses") is not None:
        have = set(cur.get("addresses") or [])
        for cidr in sorted(have - set(spec["addresses"])):
            plan.addresses.append((kind, name, "del", cidr))
        for cidr in sorted(set(spec["addresses"]) - have):
            plan.addresses.append((kind, name, "add", cidr))
    if spec.get("routes") is not None:
        have = set(cur.get("routes") or [])
        plan.routes += [(kind, name, "del", r) for r in sorted(have - set(spec["routes"]))]
        plan.routes += [(kind, name, "add", r) for r in sorted(set(spec["routes"]) - have)]
    if spec.get("proxy_arp") is not None:
        have = set(cur.get("proxy_arp") or [])
        plan.proxies += [(kind, name, "del", e) for e in sorted(have - set(spec["proxy_arp"]))]
        plan.proxies += [(kind, name, "add", e) for e in sorted(set(spec["proxy_arp"]) - have)]
    if kind in TUN_FAMILY:
        target = {
            "owner": spec["owner"] if spec["owner_given"] else cur.get("owner"),
            "group": spec["group"] if spec["group_given"] else cur.get("group"),
            "pi": cur.get("pi") if spec.get("pi") is None else spec["pi"],
            "vnet_hdr": cur.get("vnet_hdr") if spec.get("vnet_hdr") is None else spec["vnet_hdr"],
        }
        if any(target[k] != cur.get(k) for k in target):
            tun = dict(spec)
            tun.update(target)
            tun["multi_queue"] = bool(cur.get("multi_queue"))
            plan.tun.append(tun)
    elif kind in MACVLAN_FAMILY and cur.get("mode") != spec["mode"]:
        fields["mode"] = spec["mode"]
    elif kind == "vxlan":
        for key in ("local", "underlay"):  # None: leave it as it is
            if spec.get(key) is not None and cur.get(key) != spec[key]:
                fields[key] = spec[key]
        if bool(cur.get("learning")) != spec["learning"]:
            fields["learning"] = spec["learning"]
        if spec.get("master") and (cur.get("master") != spec["master"] or port_flags(cur) != port_flags(spec)):
            fields["bridge_port"] = port_flags(spec)
        if spec.get("peers") is not None:
            have = set(cur.get("peers") or [])
            for peer in sorted(have - set(spec["peers"])):
                plan.fdb.append((kind, name, "del", ZERO_MAC, peer))
            for peer in sorted(set(spec["peers"]) - have):
                plan.fdb.append((kind, name, "add", ZERO_MAC, peer))
    if kind == "macvtap":
        device = cur.get("device") or {}
        if not device.get("ok") or device.get("owner") != _planview.node_id(spec["device_owner"]) \
                or device.get("group") != _planview.node_id(spec["device_group"]) or device.get("mode") != spec["device_mode"]:
            plan.nodes.append({"kind": kind, "name": name, "owner": spec["device_owner"],
                               "group": spec["device_group"], "mode": spec["device_mode"]})
    if fields:
        plan.set(kind, name, **fields)


def _link_local(plan, spec, cur, fields):
    """A bridge's addr_gen_mode, and the link-local addresses it formed under another mode replaced: the kernel
    applies a new mode to the next address it forms only. Addresses the kernel did not form (given by hand, not
    stable-privacy and not EUI-64 shaped) are left alone."""
    mode = spec.get("addr_gen_mode")
    if mode is None or cur.get("addr_gen_mode") is None:  # left as it is, or a kernel without IPv6
        return
    if cur["addr_gen_mode"] != mode:
        fields["addr_gen_mode"] = mode
    have = cur.get("link_local") or []
    formed = [a["address"] for a in have
              if a["stable_privacy"] or (mode == "none" and _validate.eui64_shaped(a["address"]))]
    plan.addresses += [("bridge", spec["name"], "del", a) for a in formed]
    if mode == "eui64" and formed and not any(_validate.eui64_shaped(a["address"]) for a in have):
        plan.addresses.append(("bridge", spec["name"], "add", _validate.eui64(cur["mac"]) + "/64"))


def _plan_masters(plan, want, current, created, deleted, where):
    claims = {}
    for spec in want.values():
        if spec["state"] != "present":
            continue
        if spec["kind"] == "bridge" and spec.get("ports") is not None:
            for port in spec["ports"]:
                other = claims.get(port)
                if other and other[0] != spec["name"]:
                    raise HostnetError("port '%s' is claimed by bridge '%s' and by %s; give each port one master"
                                       % (port, spec["name"], other[1]))
                claims[port] = (spec["name"], "bridge '%s'" % spec["name"], spec["force"])
        elif spec["kind"] in PORTS and spec.get("master"):
            other = claims.get(spec["name"])
            if other and other[0] != spec["master"]:
                raise HostnetError("%s: master '%s' contradicts %s, which lists it as a port"
                                   % (_label(spec["kind"], spec["name"]), spec["master"], other[1]))
            claims[spec["name"]] = (spec["master"], "its own 'master' option", True)

    for port, (bridge, who, force) in sorted(claims.items()):
        bspec = want.get(bridge)
        if bspec is not None and bspec["state"] == "absent":
            raise HostnetError("bridge '%s' is declared absent but %s enslaves '%s' to it" % (bridge, who, port))
        if bspec is None:
            bcur = current.get(bridge)
            if bcur is None:
                raise HostnetError("port '%s': bridge '%s' not found in %s; create the bridge first or declare it"
                                   % (port, bridge, where))
            if bcur["kind"] != "bridge":
                raise HostnetError("port '%s': master '%s' is a %s, not a bridge" % (port, bridge, bcur["kind"]))
        pspec = want.get(port)
        pcur = current.get(port)
        if pspec is not None and pspec["state"] == "absent":
            raise HostnetError("bridge '%s': port '%s' is declared absent; remove it from the ports" % (bridge, port))
        if pspec is None and pcur is None:
            raise HostnetError("bridge '%s': port '%s' not found in %s; create it first or remove it from ports"
                               % (bridge, port, where))
        have = None if (port in created or pcur is None) else pcur.get("master")
        if have == bridge:
            continue
        if have and not force:
            raise HostnetError("bridge '%s': port '%s' is already enslaved to '%s'; set force: true to move it"
                               % (bridge, port, have))
        kind = pspec["kind"] if pspec else pcur["kind"]
        plan.set(kind, port, master=bridge)
        if port not in plan.before and pcur is not None:
            plan.before[port] = _planview.view(pcur)

    for spec in want.values():
        if spec["kind"] != "bridge" or spec["state"] != "present" or not spec.get("exclusive_ports") or spec.get("ports") is None:
            continue
        if spec["name"] in created:
            continue
        for name, link in sorted(current.items()):
            if link.get("master") == spec["name"] and name not in spec["ports"] and name not in deleted:
                if claims.get(name, (None,))[0] == spec["name"]:
                    continue
                plan.releases.append((link["kind"], name))
                if name not in plan.before:
                    plan.before[name] = _planview.view(link)


def _check_parents(want, current, created, where):
    for spec in want.values():
        if spec["state"] != "present":
            continue
        for entry in spec.get("proxy_arp") or []:
            dev = entry.split(" ")[2]
            if dev not in current and (want.get(dev) or {}).get("state") != "present":
                raise HostnetError("bridge '%s': proxy_arp '%s': interface '%s' not found in %s; give the interface"
                                   " whose LAN asks for the address" % (spec["name"], entry, dev, where))
        if spec["kind"] in MACVLAN_FAMILY:
            parent, what = spec["link"], "parent link"
        elif spec["kind"] == "vxlan" and spec.get("underlay"):
            parent, what = spec["underlay"], "underlay"
        else:
            continue
        pspec = want.get(parent)
        if parent not in current and (pspec is None or pspec["state"] != "present"):
            raise HostnetError("%s '%s': %s '%s' not found in %s; create it first or fix '%s'"
                               % (spec["kind"], spec["name"], what, parent, where,
                                  "link" if what == "parent link" else "underlay"))
