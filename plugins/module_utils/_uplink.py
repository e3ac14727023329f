# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Uplink networks: a bridge takes over a host NIC (its only port at first) with the NIC's addresses and routes.

The move can cut the very connection Ansible runs over, so it is a "commit confirmed":

1. arm (the module): read the kernel once, save the entry (what moves) in STATE_DIR/BRIDGE.json with
   `pending`, start a transient timer (systemd-run --on-active) whose service rolls back to `committed`,
   then run the move itself as a transient service (a local job: an SSH hiccup cannot kill it midway);
2. the role waits for the connection;
3. confirm (the module): the live state must be the pending one; then the timer is stopped and the entry
   committed. If the host never comes back, the timer restores what was committed.

At boot the CLI (hostnet-qemu-network) applies every entry's `committed` direction (an unconfirmed move is
rolled back). Everything here goes through _netlink.Kernel; no Ansible imports (the CLI uses this file).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import re
import subprocess
import sys
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _files
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._lock import host_lock
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel

WHAT = "uplink"
MOVED, ORIGINAL = "moved", "original"
APPLY_UNIT = "hostnet-qemu-uplink-apply"
ROLLBACK_UNIT = "hostnet-qemu-uplink-rollback"
RESULT_PATH = "/run/hostnet-qemu/uplink-apply.json"
RTPROT_KERNEL, RTPROT_RA = 2, 9
RTN_UNICAST = 1
RT_SCOPE_LINK = 253
RT_TABLE_MAIN = 254
_FIELDS_ADDR = ("family", "address", "broadcast", "scope", "flags")
_FIELDS_ROUTE = ("family", "dst", "gateway", "table", "protocol", "scope", "type", "metric", "prefsrc", "onlink")


# -- reading the kernel --------------------------------------------------------------------------
def read(kernel):
    """One read of links, addresses and routes: {links, addresses: {name: [..]}, routes: {name: [..]},
    multipath: {name: [routes with a nexthop through it]}}."""
    links = kernel.dump()
    names = dict((link["index"], name) for name, link in links.items())
    addresses, routes, multipath = {}, {}, {}
    for entry in kernel.address_details():
        if entry["index"] in names:
            addresses.setdefault(names[entry["index"]], []).append(entry)
    for route in kernel.routes():
        if route["oif"] in names:
            routes.setdefault(names[route["oif"]], []).append(route)
        for hop in route["multipath_oifs"]:
            if hop in names:
                multipath.setdefault(names[hop], []).append(route)
    return {"links": links, "addresses": addresses, "routes": routes, "multipath": multipath}


def host_links(netns=None):
    """{interface name: its master's name or None} (what _nftnet.check() needs to know about the host)."""
    with Kernel(netns) as kernel:
        return dict((name, link.get("master")) for name, link in kernel.dump().items())


def movable_addresses(live, dev):
    """The addresses that move with the NIC: all IPv4 ones, IPv6 ones that are permanent and not link-local.

    Kernel-made (SLAAC) IPv6 addresses are left: the bridge makes the same ones itself (it carries the NIC's MAC).
    """
    out = []
    for entry in live["addresses"].get(dev, []):
        if entry["family"] == 6 and (entry["scope"] == RT_SCOPE_LINK or not entry["permanent"]):
            continue
        out.append(dict((k, entry.get(k)) for k in _FIELDS_ADDR))
    return out


def movable_routes(live, dev):
    """The routes through the NIC that move: unicast routes not made by the kernel (prefix routes of
    addresses) or by router advertisements, in any table but 'local'."""
    out = []
    for route in live["routes"].get(dev, []):
        if route["type"] != RTN_UNICAST or route["protocol"] in (RTPROT_KERNEL, RTPROT_RA):
            continue
        if route["family"] == 6 and route["dst"].startswith("fe80:"):
            continue
        out.append(dict((k, route.get(k)) for k in _FIELDS_ROUTE))
    return out


def _route_key(route):
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
def _label(entry):
    return "uplink '%s' (bridge '%s')" % (entry["nic"], entry["bridge"])


def plan(entry, direction, live, delete_bridge=False):
    """Operations that take the live state to `direction` (MOVED or ORIGINAL) for one entry.

    An operation is a tuple: ('create', bridge, mac) | ('link', name, kind, fields) | ('delete', bridge)
    | ('addr', 'add'|'del', name, address entry) | ('route', 'add'|'del', name, route).
    """
    if direction == MOVED:
        return _plan_move(entry, live)
    return _plan_restore(entry, live, delete_bridge)


def _nic(entry, live, doing):
    link = live["links"].get(entry["nic"])
    if link is None:
        raise HostnetError("%s: cannot %s: the NIC '%s' does not exist; give an existing interface"
                           % (_label(entry), doing, entry["nic"]))
    return link


def _bridge(entry, live):
    link = live["links"].get(entry["bridge"])
    if link is not None and link["kind"] != "bridge":
        raise HostnetError("%s: '%s' exists and is a %s, not a bridge; remove it or choose another bridge name"
                           % (_label(entry), entry["bridge"], link["kind"]))
    return link


def _plan_move(entry, live):
    br, nic = entry["bridge"], entry["nic"]
    nic_link = _nic(entry, live, "move it onto the bridge")
    master = nic_link.get("master")
    if master and master != br:
        raise HostnetError("%s: the NIC is already a port of '%s'; release it first (ip link set %s nomaster)"
                           % (_label(entry), master, nic))
    cur = _bridge(entry, live)
    mac = nic_link.get("mac") or entry.get("mac")  # the NIC's own, now (a replaced NIC brings a new one)
    ops = []
    if cur is None:
        ops.append(("create", br, mac))
        ops.append(("link", br, "bridge", {"up": True}))
    else:
        fields = {}
        if mac and cur.get("mac") != mac:
            fields["mac"] = mac
        if not cur.get("up"):
            fields["up"] = True
        if fields:
            ops.append(("link", br, "bridge", fields))
    on_nic = set(_route_key(r) for r in live["routes"].get(nic, []))
    ops += [("route", "del", nic, r) for r in entry["routes"] if _route_key(r) in on_nic]
    have = set(a["address"] for a in live["addresses"].get(nic, []))
    ops += [("addr", "del", nic, a) for a in reversed(entry["addresses"]) if a["address"] in have]
    fields = {}
    if master != br:
        fields["master"] = br
    if not nic_link.get("up"):
        fields["up"] = True
    if fields:
        ops.append(("link", nic, "interface", fields))
    have = set(a["address"] for a in live["addresses"].get(br, [])) if cur else set()
    ops += [("addr", "add", br, a) for a in entry["addresses"] if a["address"] not in have]
    on_br = set(_route_key(r) for r in live["routes"].get(br, [])) if cur else set()
    ops += [("route", "add", br, r) for r in _route_order(entry["routes"]) if _route_key(r) not in on_br]
    return ops


def _plan_restore(entry, live, delete_bridge):
    br, nic = entry["bridge"], entry["nic"]
    nic_link = _nic(entry, live, "give it its addresses back")
    cur = _bridge(entry, live)
    ops = []
    if cur is not None:
        on_br = set(_route_key(r) for r in live["routes"].get(br, []))
        ops += [("route", "del", br, r) for r in entry["routes"] if _route_key(r) in on_br]
        have = set(a["address"] for a in live["addresses"].get(br, []))
        ops += [("addr", "del", br, a) for a in reversed(entry["addresses"]) if a["address"] in have]
    fields = {}
    if cur is not None and delete_bridge:
        ops.append(("delete", br))
    elif nic_link.get("master") == br:
        fields["master"] = None
    if not nic_link.get("up"):
        fields["up"] = True
    if fields:
        ops.append(("link", nic, "interface", fields))
    have = set(a["address"] for a in live["addresses"].get(nic, []))
    ops += [("addr", "add", nic, a) for a in entry["addresses"] if a["address"] not in have]
    on_nic = set(_route_key(r) for r in live["routes"].get(nic, []))
    ops += [("route", "add", nic, r) for r in _route_order(entry["routes"]) if _route_key(r) not in on_nic]
    return ops


def describe(op):
    if op[0] == "create":
        return "create bridge '%s' with MAC %s" % (op[1], op[2])
    if op[0] == "delete":
        return "delete bridge '%s'" % op[1]
    if op[0] == "link":
        return "set '%s': %s" % (op[1], ", ".join("%s=%s" % (k, v) for k, v in sorted(op[3].items())))
    if op[0] == "addr":
        return "%s address %s on '%s'" % (op[1], op[3]["address"], op[2])
    return "%s route %s on '%s'" % (op[1], route_text(op[3]), op[2])


def apply_ops(kernel, ops, best_effort=False):
    """Run the operations in order; with best_effort go on past a failing one and raise all failures at the end
    (a rollback gives back every address and route it can rather than stopping at the first refusal)."""
    failures = []
    for op in ops:
        try:
            _apply_op(kernel, op)
        except HostnetError as exc:
            if not best_effort:
                raise
            failures.append(str(exc))
    if failures:
        raise HostnetError("; ".join(failures))


def _apply_op(kernel, op):
    if op[0] == "create":
        kernel.create_links([{"kind": "bridge", "name": op[1], "mac": op[2]}])
    elif op[0] == "delete":
        kernel.delete([("bridge", op[1])])
    elif op[0] == "link":
        kernel.set_links([(op[2], op[1], op[3])])
    elif op[0] == "addr":
        kernel.address_changes([(op[1], op[2], op[3])])
    else:
        kernel.route_changes([(op[1], op[2], op[3])])


def converge(entry, direction, delete_bridge=False, netns=None, best_effort=False):
    """Take one entry to `direction` now, in this process; return the lines of what was done."""
    with Kernel(netns) as kernel:
        ops = plan(entry, direction, read(kernel), delete_bridge)
        apply_ops(kernel, ops, best_effort)
        if ops:
            left = plan(entry, direction, read(kernel), delete_bridge)
            if left:
                raise HostnetError("%s: the kernel did not take every change; still to do: %s"
                                   % (_label(entry), "; ".join(describe(op) for op in left)))
    return [describe(op) for op in ops]


def view(entry, live):
    """What a diff shows of one entry: the NIC's master, addresses and routes, and the bridge's."""
    out = {}
    for role, name in (("nic", entry["nic"]), ("bridge", entry["bridge"])):
        link = live["links"].get(name)
        if link is None:
            out[role] = None
            continue
        out[role] = {"name": name, "master": link.get("master"), "up": link.get("up"),
                     "addresses": sorted(a["address"] for a in movable_addresses(live, name)),
                     "routes": sorted(route_text(r) for r in movable_routes(live, name))}
        if role == "bridge":
            out[role]["mac"] = link.get("mac")
    return out


def project(entry, direction, before, delete_bridge=False):
    """The view after `direction` (for check mode and diff), from the view before."""
    after = json.loads(json.dumps(before))
    addrs = set(a["address"] for a in entry["addresses"])
    routes = set(route_text(r) for r in entry["routes"])
    src, dst = ("nic", "bridge") if direction == MOVED else ("bridge", "nic")
    if after["bridge"] is None and direction == MOVED:
        after["bridge"] = {"name": entry["bridge"], "master": None, "up": True, "addresses": [], "routes": [],
                           "mac": entry.get("mac")}
    if after[src] is not None:
        after[src]["addresses"] = sorted(set(after[src]["addresses"]) - addrs)
        after[src]["routes"] = sorted(set(after[src]["routes"]) - routes)
    if after[dst] is not None:
        after[dst]["addresses"] = sorted(set(after[dst]["addresses"]) | addrs)
        after[dst]["routes"] = sorted(set(after[dst]["routes"]) | routes)
        after[dst]["up"] = True
    if direction == MOVED:
        after["nic"]["master"] = entry["bridge"]
        after["bridge"].update({"up": True, "mac": entry.get("mac") or after["bridge"].get("mac")})
    else:
        if after["nic"] is not None and after["nic"]["master"] == entry["bridge"]:
            after["nic"]["master"] = None
        if delete_bridge:
            after["bridge"] = None
    return after


# -- preflight: what would fight the move --------------------------------------------------------
def check_host(uplinks, netns=None, root="/"):
    """Problems of present uplink networks that only the host shows: dynamic addresses, multipath routes, a
    network manager configuring the NIC. `uplinks`: [{name, bridge, nic, state}]; a NIC that is missing or
    enslaved elsewhere is _nftnet.check()'s to report; one already moved is not checked again."""
    wanted = [u for u in uplinks if u["state"] == "present"]
    if not wanted:
        return []
    with Kernel(netns) as kernel:
        live = read(kernel)
    errors = []
    for u in wanted:
        label = "network '%s'" % u["name"]
        nic, link = u["nic"], live["links"].get(u["nic"])
        if link is None or link.get("master"):
            continue
        if link["kind"] in ("bridge", "loopback"):
            errors.append("%s: field 'uplink' '%s' is a %s, which cannot be a port of bridge '%s'; give the NIC"
                          " (e.g. eth1)" % (label, nic, link["kind"], u["bridge"]))
            continue
        for entry in live["addresses"].get(nic, []):
            if entry["family"] == 4 and not entry["permanent"]:
                errors.append("%s: field 'uplink' '%s' has the dynamic address %s (a DHCP lease, %s s left): the bridge"
                              " would get a static copy that no DHCP client renews; give %s a static address, or run"
                              " the DHCP client on bridge '%s' yourself, then rerun"
                              % (label, nic, entry["address"], entry["valid_lft"], nic, u["bridge"]))
        for route in live["multipath"].get(nic, []):
            errors.append("%s: field 'uplink' '%s' carries the multipath route %s; multipath routes are not moved:"
                          " replace it by single-path routes through %s, then rerun" % (label, nic, route["dst"], nic))
        errors.extend(_managers(u, label, link["index"], root))
    return errors


def _keyvalues(path):
    out = {}
    try:
        with open(path) as handle:
            for line in handle:
                if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
                    key, value = line.split("=", 1)
                    out[key.strip()] = value.strip()
    except (IOError, OSError):
        return None
    return out


_IFACE = re.compile(r"^\s*iface\s+(\S+)\s+(\S+)\s+(\S+)")


def _managers(u, label, index, root):
    """NetworkManager, systemd-networkd or ifupdown configuring the NIC: one message each, naming the fix."""
    nic, br = u["nic"], u["bridge"]
    errors = []
    nm_path = os.path.join(root, "run/NetworkManager/devices", str(index))
    nm = _keyvalues(nm_path)
    if nm and nm.get("managed", "").lower() in ("true", "1", "yes"):
        errors.append(
            "%s: field 'uplink' '%s' is managed by NetworkManager (%s: managed=true), which would fight the move;"
            " either let NetworkManager own the bridge (nmcli connection add type bridge ifname %s; nmcli connection"
            " add type bridge-slave ifname %s master %s) and drop this network, or mark %s unmanaged ([keyfile]"
            " unmanaged-devices=interface-name:%s in /etc/NetworkManager/conf.d/, then nmcli general reload conf;"
            " NetworkManager may flush its addresses, so do it from a console and give %s a static address), then"
            " rerun" % (label, nic, "/" + os.path.relpath(nm_path, root), br, nic, br, nic, nic, nic))
    nd_path = os.path.join(root, "run/systemd/netif/links", str(index))
    nd = _keyvalues(nd_path)
    if nd and (nd.get("NETWORK_FILE") or nd.get("ADMIN_STATE", "unmanaged") not in ("unmanaged", "linger", "")):
        errors.append(
            "%s: field 'uplink' '%s' is configured by systemd-networkd (%s, state %s), which would fight the move;"
            " either let networkd own the bridge (a .netdev with Kind=bridge named %s, and Bridge=%s in %s's"
            " .network) and drop this network, or stop networkd from configuring %s (remove its .network file or"
            " set Unmanaged=yes in its [Link] section, then networkctl reload), then rerun"
            % (label, nic, nd.get("NETWORK_FILE") or "/" + os.path.relpath(nd_path, root),
               nd.get("ADMIN_STATE", "?"), br, br, nic, nic))
    files = [os.path.join(root, "etc/network/interfaces")]
    ddir = os.path.join(root, "etc/network/interfaces.d")
    if os.path.isdir(ddir):
        files += [os.path.join(ddir, f) for f in sorted(os.listdir(ddir))]
    for path in files:
        text = _files.read_text(path, WHAT) if os.path.isfile(path) else None
        for line in (text or "").splitlines():
            match = _IFACE.match(line)
            if match and match.group(1) == nic and match.group(3) != "manual":
                errors.append(
                    "%s: field 'uplink' '%s' is configured by ifupdown (%s: 'iface %s %s %s'), which would configure it"
                    " again at boot and fight the bridge; change that stanza to 'iface %s %s manual' (drop its address,"
                    " gateway and dhcp lines), or let ifupdown own the bridge (iface %s ... bridge_ports %s) and drop"
                    " this network, then rerun"
                    % (label, nic, "/" + os.path.relpath(path, root), nic, match.group(2), match.group(3), nic,
                       match.group(2), br, nic))
    return errors


# -- saved entries -------------------------------------------------------------------------------
def _path(state_dir, bridge):
    return os.path.join(state_dir, bridge + ".json")


def load_all(state_dir):
    """{bridge: entry} of every saved entry."""
    out = {}
    try:
        names = sorted(os.listdir(state_dir))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return out
        raise HostnetError("%s: cannot list %s: %s" % (WHAT, state_dir, exc.strerror))
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            text = _files.read_text(os.path.join(state_dir, name), WHAT)
            try:
                entry = json.loads(text)
            except ValueError:
                raise HostnetError("%s: %s is not valid JSON; remove it (or restore it from a backup)"
                                   % (WHAT, os.path.join(state_dir, name)))
            out[entry["bridge"]] = entry
    return out


def save(state_dir, entry):
    entry = dict(entry)
    entry["comment"] = ("Managed by Ansible (hostnet.qemu.network): the NIC's addresses and routes on bridge %s;"
                        " read by hostnet-qemu-network.service at boot" % entry["bridge"])
    _files.write_atomic(_path(state_dir, entry["bridge"]), json.dumps(entry, indent=2, sort_keys=True) + "\n",
                        WHAT, mode=0o600)


def remove(state_dir, bridge):
    _files.remove(_path(state_dir, bridge), WHAT)


# -- the local jobs (run by the CLI: systemd-run units and the boot unit) ---------------------------
def apply_pending(state_dir, netns=None):
    """Take every pending entry to its pending direction; on failure roll all of them back at once."""
    lines = []
    with host_lock(WHAT):
        entries = [e for e in load_all(state_dir).values() if e.get("pending")]
        try:
            for entry in entries:
                lines += converge(entry, entry["pending"], entry.get("delete_bridge", False), netns)
        except HostnetError as exc:
            message = str(exc)
            try:
                _rollback(state_dir, True, netns)
                message += "; everything pending was rolled back at once"
            except HostnetError as again:
                message += "; rolled back at once, except: %s (the rollback timer tries again)" % again
            raise HostnetError(message)
    return lines


def _rollback(state_dir, only_pending, netns=None, wait=0):
    lines, errors = [], []
    for entry in load_all(state_dir).values():
        if only_pending and not entry.get("pending"):
            continue
        committed = entry.get("committed", ORIGINAL)
        deadline = time.time() + wait
        while wait and entry["nic"] not in host_links(netns) and time.time() < deadline:
            time.sleep(0.2)  # at boot the NIC may still be on its way (udev renames it)
        try:
            lines += converge(entry, committed, committed == ORIGINAL and not entry.get("bridge_existed"), netns,
                              best_effort=True)
        except HostnetError as exc:
            errors.append(str(exc))
            continue
        if entry.get("pending"):
            if committed == ORIGINAL:
                remove(state_dir, entry["bridge"])
            else:
                entry["pending"] = None
                entry.pop("delete_bridge", None)
                save(state_dir, entry)
    if errors:
        raise HostnetError("; ".join(errors))
    return lines


def rollback(state_dir, netns=None):
    """The rollback timer's job: every pending entry back to what was committed."""
    with host_lock(WHAT):
        return _rollback(state_dir, True, netns)


def boot(state_dir, netns=None, wait=30):
    """At boot: every entry to what was committed (an unconfirmed move is rolled back)."""
    with host_lock(WHAT):
        return _rollback(state_dir, False, netns, wait)


def job_main(argv):
    """The CLI's uplink-apply | uplink-rollback | uplink-boot STATE_DIR [RESULT_FILE]; returns the exit code."""
    if len(argv) < 2 or argv[0] not in ("uplink-apply", "uplink-rollback", "uplink-boot"):
        sys.stderr.write("usage: hostnet-qemu-network uplink-apply|uplink-rollback|uplink-boot STATE_DIR [RESULT]\n")
        return 2
    command, state_dir = argv[0], argv[1]
    result = {"command": command, "ok": True, "error": None, "lines": []}
    try:
        if command == "uplink-apply":
            result["lines"] = apply_pending(state_dir)
        elif command == "uplink-rollback":
            result["lines"] = rollback(state_dir)
        else:
            result["lines"] = boot(state_dir)
    except HostnetError as exc:
        result.update({"ok": False, "error": str(exc)})
    for line in result["lines"]:  # the unit's journal
        sys.stdout.write("hostnet-qemu-network: %s: %s\n" % (command, line))
    sys.stdout.flush()
    if result["error"]:
        sys.stderr.write("hostnet-qemu-network: %s: %s\n" % (command, result["error"]))
    if len(argv) > 2:
        _files.write_atomic(argv[2], json.dumps(result) + "\n", WHAT, mode=0o600)
    return 0 if result["ok"] else 1


# -- the module's steps: arm and confirm -----------------------------------------------------------
def _wanted(uplinks, saved, purge):
    wanted = dict((u["bridge"], dict(u)) for u in uplinks)
    if purge:
        for bridge, entry in saved.items():
            wanted.setdefault(bridge, {"name": bridge, "bridge": bridge, "nic": entry["nic"], "state": "absent"})
    for bridge, want in wanted.items():
        entry = saved.get(bridge)
        if entry is not None and entry["nic"] != want["nic"]:
            raise HostnetError("uplink network on bridge '%s': it holds NIC '%s' (saved in %s.json); give that NIC"
                               " back first (state: absent), then name '%s'" % (bridge, entry["nic"], bridge, want["nic"]))
    return wanted


def _systemctl(*args):
    try:
        return subprocess.run(["systemctl"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
    except OSError as exc:
        raise HostnetError("%s: cannot run systemctl: %s; the uplink move needs systemd" % (WHAT, exc.strerror))


def _stop_units(units):
    _systemctl("stop", *units)
    _systemctl("reset-failed", *units)


def _systemd_run(args):
    try:
        return subprocess.run(["systemd-run"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, check=False)
    except OSError as exc:
        raise HostnetError("%s: cannot run systemd-run: %s; the uplink move needs systemd (its timed rollback"
                           " is a transient timer)" % (WHAT, exc.strerror))


def arm(uplinks, state_dir, runner, timeout, check_mode=False, purge=False, python=None, netns=None):
    """Plan every uplink; when the network must change, save the entries as pending, arm the rollback timer
    and run the move as a local job. Returns changed, armed, plan lines, diff and per-bridge status."""
    python = python or sys.executable
    with host_lock(WHAT):  # plan and save under the host lock; the move job (a unit of its own) takes it itself
        out, pending = _arm_plan(uplinks, state_dir, runner, timeout, check_mode, purge, python, netns)
    if not pending:
        return out
    # the move itself: a transient service that outlives this process; --wait only watches it
    try:
        os.unlink(RESULT_PATH)
    except OSError:
        pass
    proc = _systemd_run(["--unit=" + APPLY_UNIT, "--description=hostnet.qemu: move uplink NICs onto their bridges",
                         "--wait", "--collect", "--quiet", "--property=Type=oneshot", "--property=TimeoutStartSec=120",
                         python, runner, "uplink-apply", state_dir, RESULT_PATH])
    text = _files.read_text(RESULT_PATH, WHAT)
    result = json.loads(text) if text else None
    if result is None or not result.get("ok"):
        _stop_units([ROLLBACK_UNIT + ".timer"])
        why = result["error"] if result else (proc.stderr or proc.stdout).strip() or "exit code %d" % proc.returncode
        raise HostnetError("%s: the move failed: %s (journalctl -u %s)" % (WHAT, why, APPLY_UNIT))
    out["armed"] = True
    out["job"] = result["lines"]
    return out


def _arm_plan(uplinks, state_dir, runner, timeout, check_mode, purge, python, netns):
    """arm() up to the move: plan, save the entries, arm the timer; returns (out, pending entries)."""
    saved = load_all(state_dir)
    wanted = _wanted(uplinks, saved, purge)
    with Kernel(netns) as kernel:
        live = read(kernel)
    out = {"changed": False, "armed": False, "plan": [], "diff": {"before": {}, "after": {}}, "uplinks": {}}
    pending, records, removals, direct = [], [], [], []
    for bridge, want in sorted(wanted.items()):
        entry, nic = saved.get(bridge), want["nic"]
        nic_link = live["links"].get(nic)
        br_link = live["links"].get(bridge)
        moved_now = nic_link is not None and nic_link.get("master") == bridge
        if want["state"] == "present":
            direction, delete_bridge = MOVED, False
            if nic_link is None:
                raise HostnetError("network '%s': field 'uplink' '%s' does not exist on this host; give an existing"
                                   " interface" % (want.get("name", bridge), nic))
            new = {"bridge": bridge, "nic": nic, "mac": nic_link.get("mac"),
                   "addresses": movable_addresses(live, nic), "routes": movable_routes(live, nic)}
            if moved_now:  # (partly) moved already: what was saved, else whatever is on the NIC and the bridge
                if entry is not None:
                    new.update({"addresses": entry["addresses"], "routes": entry["routes"]})
                else:
                    new["addresses"] += [a for a in movable_addresses(live, bridge)
                                         if a["address"] not in set(x["address"] for x in new["addresses"])]
                    new["routes"] += movable_routes(live, bridge)
        else:
            direction, delete_bridge = ORIGINAL, True
            if entry is None and not moved_now:
                if br_link is not None and br_link["kind"] == "bridge":  # a bridge without its NIC: just delete it
                    direct.append(("delete", bridge))
                    out["diff"]["before"][bridge] = view({"bridge": bridge, "nic": nic}, live)
                    out["diff"]["after"][bridge] = dict(out["diff"]["before"][bridge], bridge=None)
                out["uplinks"][bridge] = {"nic": nic, "status": "absent"}
                continue
            new = {"bridge": bridge, "nic": nic, "mac": (entry or {}).get("mac") or (nic_link or {}).get("mac"),
                   "addresses": movable_addresses(live, bridge) if moved_now else entry["addresses"],
                   "routes": movable_routes(live, bridge) if moved_now else entry["routes"]}
        ops = plan(new, direction, live, delete_bridge)
        status = {"nic": nic, "status": direction}
        if not ops:
            if entry is not None and entry.get("pending") == direction:
                status["status"] = "awaiting confirm"
            elif direction == MOVED and (entry is None or entry.get("committed") != MOVED or entry.get("pending")):
                records.append(dict(new, committed=MOVED, pending=None, bridge_existed=True))
                out["plan"].append("record %s as moved onto bridge '%s'" % (nic, bridge))
            elif direction == ORIGINAL and entry is not None:
                removals.append(bridge)
                out["plan"].append("forget the saved uplink of bridge '%s'" % bridge)
            out["uplinks"][bridge] = status
            continue
        committed = (entry or {}).get("committed") or (ORIGINAL if direction == MOVED else MOVED)
        existed = entry.get("bridge_existed", True) if entry and entry.get("pending") else br_link is not None
        pending.append(dict(new, committed=committed, pending=direction, delete_bridge=delete_bridge,
                            bridge_existed=existed))
        out["plan"] += [describe(op) for op in ops]
        before = view(new, live)
        out["diff"]["before"][bridge] = before
        out["diff"]["after"][bridge] = project(new, direction, before, delete_bridge)
        status["status"] = "moving" if direction == MOVED else "restoring"
        out["uplinks"][bridge] = status
    out["changed"] = bool(pending or records or removals or direct)
    if check_mode or not out["changed"]:
        return out, []
    for entry in records:
        save(state_dir, entry)
    for bridge in removals:
        remove(state_dir, bridge)
    if direct:
        with Kernel(netns) as kernel:
            apply_ops(kernel, direct)
    if pending:
        if not os.path.isfile(runner):
            raise HostnetError("%s: the job runner %s is not installed (the network role installs it before the"
                               " move); nothing was changed" % (WHAT, runner))
        _stop_units([ROLLBACK_UNIT + ".timer", ROLLBACK_UNIT + ".service", APPLY_UNIT + ".service"])
        for entry in pending:
            save(state_dir, entry)
        proc = _systemd_run(["--unit=" + ROLLBACK_UNIT, "--description=hostnet.qemu: roll the uplink move back"
                             " unless it is confirmed", "--on-active=%ds" % timeout,
                             "--timer-property=AccuracySec=1s", "--timer-property=RemainAfterElapse=no",
                             "--collect", "--property=Type=oneshot", python, runner, "uplink-rollback", state_dir])
        if proc.returncode != 0:
            for entry in pending:  # nothing moved yet: forget the pending state
                if entry["committed"] == ORIGINAL:
                    remove(state_dir, entry["bridge"])
                else:
                    save(state_dir, dict(entry, pending=None, delete_bridge=False))
            raise HostnetError("%s: cannot arm the rollback timer (systemd-run: %s); nothing was changed"
                               % (WHAT, (proc.stderr or proc.stdout).strip()))
    return out, pending


def confirm(uplinks, state_dir, purge=False, netns=None):
    """Check that every pending entry is in place, then stop the rollback timer and commit them.

    If something is not in place the timer is left armed (it restores what was committed) and this fails.
    """
    with host_lock(WHAT):
        saved = load_all(state_dir)
        wanted = _wanted(uplinks, saved, purge)
        with Kernel(netns) as kernel:
            live = read(kernel)
        problems, commits = [], []
        for bridge, want in sorted(wanted.items()):
            entry = saved.get(bridge)
            direction = MOVED if want["state"] == "present" else ORIGINAL
            if entry is not None and entry.get("pending"):
                left = plan(entry, entry["pending"], live, entry.get("delete_bridge", False))
                if left:
                    problems.append("%s: not in place after the move; still to do: %s"
                                    % (_label(entry), "; ".join(describe(op) for op in left)))
                else:
                    commits.append(entry)
            elif direction == MOVED and (entry is None or plan(entry, MOVED, live)):
                problems.append("uplink '%s' (bridge '%s'): the move is not in place and nothing is pending: the rollback"
                                " timer fired before this confirm and restored the NIC; raise"
                                " hostnet_network_uplink_rollback_timeout (or find why the host was unreachable or slow)"
                                " and rerun" % (want["nic"], bridge))
            elif direction == ORIGINAL and entry is not None:
                problems.append("uplink '%s' (bridge '%s'): still saved as moved: the rollback timer fired before this"
                                " confirm and moved the NIC back onto the bridge; rerun" % (want["nic"], bridge))
        if problems:
            raise HostnetError("; ".join(problems) + ("; the rollback timer is still armed and restores what was"
                                                      " committed" if commits or any(
                                                          e.get("pending") for e in saved.values()) else ""))
        if commits:
            _stop_units([ROLLBACK_UNIT + ".timer", ROLLBACK_UNIT + ".service"])
            for entry in commits:
                if entry["pending"] == ORIGINAL:
                    remove(state_dir, entry["bridge"])
                else:
                    save(state_dir, dict(entry, committed=MOVED, pending=None, delete_bridge=False))
    return {"changed": bool(commits), "confirmed": sorted(e["bridge"] for e in commits)}
