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

import json
import os
import sys
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcpclient, _files, _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._lock import host_lock
from ansible_collections.hostnet.qemu.plugins.module_utils._engine import apply
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel
from ansible_collections.hostnet.qemu.plugins.module_utils._plan import operation
from ansible_collections.hostnet.qemu.plugins.module_utils._planview import describe
from ansible_collections.hostnet.qemu.plugins.module_utils._uplinkhost import converge, host_links, read
from ansible_collections.hostnet.qemu.plugins.module_utils._uplinkplan import (
    MOVED, ORIGINAL, WHAT, current_lease, is_moved, movable_addresses, movable_routes, nic_field, plan, project, uplink_label,
    via, view)
from ansible_collections.hostnet.qemu.plugins.module_utils._uplinkstate import load_all, remove, save

APPLY_UNIT = "hostnet-qemu-uplink-apply"
ROLLBACK_UNIT = "hostnet-qemu-uplink-rollback"
RESULT_PATH = "/run/hostnet-qemu/uplink-apply.json"
LEASE_WAIT = 30  # seconds the move waits for the DHCP client's lease on the bridge before it rolls back


def _converge(entry, direction, delete_bridge, netns=None, best_effort=False, wait=False):
    """converge() plus, for an uplink with a DHCP client, the client on the bridge: stopped before the NIC is given
    back (the NIC gets the bridge's lease, for what is left of it: the collection runs no client on a NIC), started
    after a move; with `wait`, a move without a lease in LEASE_WAIT s is an error."""
    here = entry["bridge"]
    dhcp, lines = entry.get("dhcp"), []
    if dhcp and direction == ORIGINAL and _dhcpclient.active(here):
        _dhcpclient.stop(here)
        lines.append("stop the DHCP client on '%s'" % here)
    lines += converge(entry, direction, delete_bridge, netns, best_effort)
    if not dhcp or direction == ORIGINAL:
        return lines
    if _dhcpclient.start(here, entry["runner"], entry.get("route_metric")):
        lines.append("start the DHCP client on '%s'" % here)
    if wait:
        got = _dhcpclient.wait_lease(here, LEASE_WAIT, netns)
        if got is None:
            raise HostnetError("%s: the DHCP client on '%s' got no lease in %d s (is there a DHCP server on the NIC's"
                               " LAN, and does it answer the NIC's MAC %s?)"
                               % (uplink_label(entry), here, LEASE_WAIT, entry.get("mac")))
        lines.append("lease %s on '%s'" % (got, here))
    return lines


# -- the local jobs (run by the CLI: systemd-run units and the boot unit) ---------------------------
def apply_pending(state_dir, netns=None):
    """Take every pending entry to its pending direction; on failure roll all of them back at once."""
    lines = []
    with host_lock(WHAT):
        entries = [e for e in load_all(state_dir).values() if e.get("pending")]
        try:
            for entry in entries:
                lines += _converge(entry, entry["pending"], entry.get("delete_bridge", False), netns,
                                   wait=entry["pending"] == MOVED)
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
            # a bridge the move made goes with it; a macvlan is the engine's (its network's) and stays
            made = not entry.get("bridge_existed") and via(entry) == "bridge"
            lines += _converge(entry, committed, committed == ORIGINAL and made, netns, best_effort=True)
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
            wanted.setdefault(bridge, {"name": bridge, "bridge": bridge, "nic": entry["nic"], "state": "absent",
                                       "via": via(entry), "dhcp": entry.get("dhcp"),
                                       "route_metric": entry.get("route_metric")})
    for bridge, want in wanted.items():
        entry = saved.get(bridge)
        if entry is not None and entry["nic"] != want["nic"]:
            raise HostnetError("uplink network on bridge '%s': it holds NIC '%s' (saved in %s.json); give that NIC"
                               " back first (state: absent), then name '%s'" % (bridge, entry["nic"], bridge, want["nic"]))
        if entry is not None and want["state"] == "present" and bool(entry.get("dhcp")) != bool(want.get("dhcp")):
            raise HostnetError("uplink network on bridge '%s': NIC '%s' was moved %s a DHCP client; dhcp_client cannot"
                               " change while the NIC is moved: give it back first (state: absent), then move it again"
                               % (bridge, entry["nic"], "with" if entry.get("dhcp") else "without"))
    return wanted


def _systemctl(*args):
    return _proc.run(["systemctl"] + list(args), WHAT, hint="the uplink move needs systemd", check=False)


def _stop_units(units):
    _systemctl("stop", *units)
    _systemctl("reset-failed", *units)


def _systemd_run(args):
    return _proc.run(["systemd-run"] + args, WHAT, check=False,
                     hint="the uplink move needs systemd (its timed rollback is a transient timer)")


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
    """arm() up to the move: plan every entry's transition, then (not in check mode) save the entries, arm the
    timer; returns (out, pending entries)."""
    saved = load_all(state_dir)
    wanted = _wanted(uplinks, saved, purge)
    with Kernel(netns) as kernel:
        live = read(kernel, any(e.get("vlans") for e in wanted.values()))
    out = {"changed": False, "armed": False, "plan": [], "diff": {"before": {}, "after": {}}, "uplinks": {}}
    todo = {"pending": [], "records": [], "removals": [], "direct": [], "clients": []}
    for bridge, want in sorted(wanted.items()):
        entry = saved.get(bridge)
        if want["state"] == "present":
            new, direction, delete_bridge = _moving(want, entry, live, runner), MOVED, False
        else:  # the macvlan of a macvtap network is the engine's: it goes with the network, not with the move
            new, direction, delete_bridge = _restoring(want, entry, live, runner, out, todo), ORIGINAL, via(want) == "bridge"
            if new is None:
                continue
        ops = plan(new, direction, live, delete_bridge)
        if ops:
            _changing(new, entry, direction, delete_bridge, ops, live, out, todo)
        else:
            _settled(new, entry, direction, out, todo)
    out["changed"] = any(todo.values())
    if check_mode or not out["changed"]:
        return out, []
    _arm_apply(todo, state_dir, runner, timeout, python, netns)
    return out, todo["pending"]


def _moving(want, entry, live, runner):
    """The entry of a NIC that is to be (or stay) moved: what moves with it, read now or, once (partly) moved, as
    saved."""
    bridge, nic, kind, dhcp = want["bridge"], want["nic"], via(want), bool(want.get("dhcp"))
    nic_link = live["links"].get(nic)
    if nic_link is None:
        raise HostnetError("network '%s': field '%s' '%s' does not exist on this host; give an existing"
                           " interface" % (want.get("name", bridge), nic_field(want), nic))
    moved_now = is_moved({"bridge": bridge, "nic": nic, "via": kind}, live)
    new = {"bridge": bridge, "nic": nic, "via": kind, "mac": nic_link.get("mac"), "dhcp": dhcp,
           "route_metric": want.get("route_metric"), "runner": runner, "lease": None, "vlans": want.get("vlans"),
           "addresses": movable_addresses(live, nic, dhcp), "routes": movable_routes(live, nic, dhcp)}
    if dhcp and not moved_now and (entry is None or entry.get("committed") != MOVED):
        new["lease"] = current_lease(live, nic)  # what a rollback gives back
    if moved_now:  # (partly) moved already: what was saved, else whatever is on the NIC and the bridge
        if entry is not None:
            new.update({"addresses": entry["addresses"], "routes": entry["routes"]})
        else:
            new["addresses"] += [a for a in movable_addresses(live, bridge, dhcp)
                                 if a["address"] not in set(x["address"] for x in new["addresses"])]
            new["routes"] += movable_routes(live, bridge, dhcp)
    return new


def _restoring(want, entry, live, runner, out, todo):
    """The entry of a NIC that is to be given back, or None when nothing was moved (a bridge left without its NIC
    is deleted directly)."""
    bridge, nic, kind = want["bridge"], want["nic"], via(want)
    moved_now = is_moved({"bridge": bridge, "nic": nic, "via": kind}, live)
    if entry is None and not moved_now:
        br_link = live["links"].get(bridge)
        if br_link is not None and br_link["kind"] == "bridge" and kind == "bridge":
            todo["direct"].append(operation("delete", "bridge", bridge))
            out["diff"]["before"][bridge] = view({"bridge": bridge, "nic": nic}, live)
            out["diff"]["after"][bridge] = dict(out["diff"]["before"][bridge], bridge=None)
        out["uplinks"][bridge] = {"nic": nic, "status": "absent"}
        return None
    dhcp = bool((entry or want).get("dhcp"))
    return {"bridge": bridge, "nic": nic, "via": kind, "dhcp": dhcp, "runner": runner,
            "route_metric": (entry or want).get("route_metric"), "lease": (entry or {}).get("lease"),
            "mac": (entry or {}).get("mac") or (live["links"].get(nic) or {}).get("mac"),
            "addresses": movable_addresses(live, bridge, dhcp) if moved_now else entry["addresses"],
            "routes": movable_routes(live, bridge, dhcp) if moved_now else entry["routes"]}


def _changing(new, entry, direction, delete_bridge, ops, live, out, todo):
    """An entry whose NIC must move or be given back: pending for the job, with its plan lines and diff."""
    bridge = new["bridge"]
    committed = (entry or {}).get("committed") or (ORIGINAL if direction == MOVED else MOVED)
    existed = entry.get("bridge_existed", True) if entry and entry.get("pending") else bridge in live["links"]
    todo["pending"].append(dict(new, committed=committed, pending=direction, delete_bridge=delete_bridge,
                                bridge_existed=existed))
    out["plan"] += [describe(op) for op in ops]
    before = view(new, live)
    out["diff"]["before"][bridge] = before
    out["diff"]["after"][bridge] = project(new, direction, before, delete_bridge)
    out["uplinks"][bridge] = {"nic": new["nic"], "status": "moving" if direction == MOVED else "restoring"}


def _settled(new, entry, direction, out, todo):
    """An entry whose kernel state is already where it should be: what is left is its saved state (record the
    move, forget a given-back NIC) and its DHCP client (started when it is not running or its metric changed)."""
    bridge, nic, status = new["bridge"], new["nic"], direction
    recorded = False
    if entry is not None and entry.get("pending") == direction:
        status = "awaiting confirm"
    elif direction == MOVED and (entry is None or entry.get("committed") != MOVED or entry.get("pending")
                                 or (new["dhcp"] and entry.get("route_metric") != new["route_metric"])
                                 or entry.get("vlans") != new["vlans"]):
        todo["records"].append(dict(new, committed=MOVED, pending=None, bridge_existed=True))
        out["plan"].append("record %s as moved onto bridge '%s'" % (nic, bridge))
        recorded = True
    elif direction == ORIGINAL and entry is not None:
        todo["removals"].append(bridge)
        out["plan"].append("forget the saved uplink of bridge '%s'" % bridge)
    if status == MOVED and new["dhcp"] and (recorded or not _dhcpclient.active(bridge)):
        todo["clients"].append(new)  # started anew: it was not running, or it runs with another route metric
        out["plan"].append("start the DHCP client on '%s'" % bridge)
    out["uplinks"][bridge] = {"nic": nic, "status": status}


def _arm_apply(todo, state_dir, runner, timeout, python, netns):
    """Carry out what needs no job (saved state, DHCP clients, a bridge without its NIC), then save the pending
    entries and arm the rollback timer for the job."""
    for entry in todo["records"]:
        save(state_dir, entry)
    for entry in todo["clients"]:
        _dhcpclient.stop(entry["bridge"])
        _dhcpclient.start(entry["bridge"], runner, entry["route_metric"])
    for bridge in todo["removals"]:
        remove(state_dir, bridge)
    if todo["direct"]:
        with Kernel(netns) as kernel:
            apply(kernel, todo["direct"])
    pending = todo["pending"]
    if not pending:
        return
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


def confirm(uplinks, state_dir, purge=False, netns=None):
    """Check that every pending entry is in place, then stop the rollback timer and commit them.

    If something is not in place the timer is left armed (it restores what was committed) and this fails.
    """
    with host_lock(WHAT):
        saved = load_all(state_dir)
        wanted = _wanted(uplinks, saved, purge)
        with Kernel(netns) as kernel:
            live = read(kernel, any(e.get("vlans") for e in list(saved.values()) + list(wanted.values())))
        problems, commits = [], []
        for bridge, want in sorted(wanted.items()):
            entry = saved.get(bridge)
            direction = MOVED if want["state"] == "present" else ORIGINAL
            if entry is not None and entry.get("pending"):
                left = plan(entry, entry["pending"], live, entry.get("delete_bridge", False))
                if left:
                    problems.append("%s: not in place after the move; still to do: %s"
                                    % (uplink_label(entry), "; ".join(describe(op) for op in left)))
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
                    save(state_dir, dict(entry, committed=MOVED, pending=None, delete_bridge=False, lease=None))
    return {"changed": bool(commits), "confirmed": sorted(e["bridge"] for e in commits)}
