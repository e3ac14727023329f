# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine: dump once, plan, apply in order (unless check mode), report.

Every device module is a face over converge(); the single-device modules pass a set of one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.hostnet.qemu.plugins.module_utils import _errors, _netns, _plan, _planview
from ansible_collections.hostnet.qemu.plugins.module_utils._lock import host_lock
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel

_CREATE_BY_NETLINK = ("bridge", "macvtap", "macvlan", "vxlan")


def _with_nodes(kernel, current, names):
    """Attach /dev node facts to the current macvtaps among `names`."""
    wanted = [n for n in names if n in current and current[n]["kind"] == "macvtap"]
    for name, info in kernel.device_nodes(wanted).items():
        current[name]["device"] = info
    return current


def report(link, ports=None):
    """What a module returns for one device: the managed view plus kernel facts."""
    if link is None:
        return None
    out = _planview.view(link, ports)
    out["name"] = link["name"]
    out["ifindex"] = link["index"]
    if link["kind"] in _planview.TUN_FAMILY:
        out["persist"] = link.get("persist")
    return out


def facts(netns=None, names=None):
    """Every link of the namespace (or those in `names`) as reports, with bridge ports and /dev nodes."""
    with Kernel(netns) as kernel:
        current = kernel.dump(vlans=True)
        if names:
            missing = sorted(set(names) - set(current))
            if missing:
                raise _errors.HostnetError("interface(s) %s not found in %s" % (", ".join(missing), _netns.where(netns)))
            current = dict((n, current[n]) for n in names)
        _with_nodes(kernel, current, list(current))
    ports = _plan.ports_of(current)
    out = {}
    for name, link in current.items():
        entry = report(link, ports.get(name))
        if link["kind"] == "veth":
            entry["peer_ifindex"] = link.get("peer_ifindex")
        elif link["kind"] == "vxlan":  # what it forwards where: the flood list and the MACs learned or given
            entry["fdb"] = sorted(({"mac": e["mac"], "dst": e["dst"], "permanent": e["permanent"],
                                    "extern_learn": e["extern_learn"]} for e in link.get("fdb") or []),
                                  key=lambda e: (e["mac"], e["dst"] or ""))
        out[name] = entry
    return out


def apply(kernel, ops, best_effort=False):
    """Execute ordered operations (_plan.operation), batching runs of the same kind of netlink request.

    With best_effort (a rollback, which gives back every address and route it can rather than stop at the first
    refusal) each operation goes alone, and the failures are raised together at the end."""
    if best_effort:
        failures = []
        for op in ops:
            try:
                apply(kernel, [op])
            except _errors.HostnetError as exc:
                failures.append(str(exc))
        if failures:
            raise _errors.HostnetError("; ".join(failures))
        return
    i = 0
    while i < len(ops):
        op, j = ops[i], i + 1
        key = _batch_key(op)
        while j < len(ops) and _batch_key(ops[j]) == key and op["op"] not in ("tun", "node"):
            j += 1
        batch = ops[i:j]
        detail = "detail" in op
        if op["op"] == "create" and op["kind"] in _CREATE_BY_NETLINK:
            kernel.create_links([o["spec"] for o in batch])
        elif op["op"] == "create":
            kernel.create_tuns([o["spec"] for o in batch])
        elif op["op"] == "tun":
            kernel.tun(op["spec"], create=False)
        elif op["op"] == "node":
            kernel.device_node(op["name"], op["owner"], op["group"], op["mode"])
        elif op["op"] == "delete":
            kernel.delete([(o["kind"], o["name"]) for o in batch])
        elif op["op"] == "set":
            kernel.set_links([(o["kind"], o["name"], o["fields"]) for o in batch])
        elif op["op"] == "address" and detail:
            kernel.address_changes([(o["action"], o["name"], o["detail"]) for o in batch])
        elif op["op"] == "address":
            kernel.addresses([(o["kind"], o["name"], o["action"], o["cidr"]) for o in batch])
        elif op["op"] == "route" and detail:
            kernel.route_changes([(o["action"], o["name"], o["detail"]) for o in batch])
        elif op["op"] == "route":
            kernel.managed_routes([(o["action"], o["name"], o["route"]) for o in batch])
        elif op["op"] == "proxy":
            kernel.proxy_changes([(o["action"], o["name"], o["entry"]) for o in batch])
        elif op["op"] == "vlan":
            kernel.vlan_changes([(o["kind"], o["name"], o["action"], o["vlan"]) for o in batch])
        elif op["op"] == "fdb":
            kernel.fdb_changes([(o["kind"], o["name"], o["action"], o["mac"], o["dst"]) for o in batch])
        i = j


def _batch_key(op):
    """Operations that go to the kernel in one batch: the same op, and creates of one kind (bridges by netlink,
    taps by ioctl), addresses and routes with or without the kernel's whole entry."""
    return op["op"], op["kind"] if op["op"] == "create" else None, "detail" in op


def converge(desired, netns=None, purge_prefix=None, check_mode=False):
    """Take the namespace to `desired`; return a dict ready for exit_json (changed, plan, diff, devices).

    The plan and its apply hold the host-wide lock (_lock): a concurrent run plans from what this one left."""
    with host_lock("netdevs"):
        return _converge(desired, netns, purge_prefix, check_mode)


def _converge(desired, netns, purge_prefix, check_mode):
    names = [spec["name"] for spec in desired]
    # routes and proxy entries are read when a device manages them, or a bridge that may have some goes
    routes = purge_prefix is not None or any(
        spec.get("routes") is not None or spec.get("proxy_arp") is not None
        or (spec["kind"] == "bridge" and spec["state"] == "absent") for spec in desired)
    # the ports' VLANs are read when a device declares some
    vlans = any(spec.get("vlans") is not None or spec.get("port_vlans") is not None for spec in desired)
    with Kernel(netns) as kernel:
        current = _with_nodes(kernel, kernel.dump(routes=routes, vlans=vlans), names)
        plan = _plan.build(desired, current, netns=netns, purge_prefix=purge_prefix)
        ops = plan.ops
        if ops and not check_mode:
            apply(kernel, ops)
            current = _with_nodes(kernel, kernel.dump(routes=routes, vlans=vlans), names)
        ports = _plan.ports_of(current)
        devices = {}
        for spec in desired:
            name = spec["name"]
            if check_mode and ops:
                devices[name] = plan.after.get(name, report(current.get(name), ports.get(name)))
            else:
                devices[name] = report(current.get(name), ports.get(name))
    return {
        "changed": bool(ops),
        "plan": plan.summary(),
        "diff": {"before": plan.before, "after": plan.after},
        "devices": devices,
    }


def diff_entry(result, header="devices"):
    """converge()'s diff as one entry of a module's diff list (JSON text before and after)."""
    return {"before_header": header, "after_header": header,
            "before": json.dumps(result["diff"]["before"], indent=2, sort_keys=True) + "\n",
            "after": json.dumps(result["diff"]["after"], indent=2, sort_keys=True) + "\n"}
