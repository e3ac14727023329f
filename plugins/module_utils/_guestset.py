# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""All guests of a host in one plan: units, devices, disks and the systemd state, for the guests module.

The guests come rendered by the role (plugin_utils/_guestrender.py: the unit text with its configuration hash).
plan() reads the host once (unit files, one `systemctl show` for every unit, the disks' paths) and returns the
steps; apply() runs them in order; the device set goes through the engine in between. Check mode stops after
the plan, and the diff is the plan's: per guest, the unit's lines and the systemd state before and after.

Order: guests to remove are stopped and disabled, their units removed; the devices converge (taps of removed
guests go, new ones appear); the saved device set; disks removed (remove_disks) and created; units written;
then, after the host-wide lock is released (apply_units), one daemon-reload; enable and disable as sets; stop,
restart and start as sets.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import pwd

from ansible_collections.hostnet.qemu.plugins.module_utils import _disks, _files, _proc, _systemd
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

WHAT = "guests"


def _label(guest):
    return "guest '%s'" % guest["name"]


def _user_ids(user):
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _systemd_view(props):
    if props is None or props.get("LoadState") == "not-found":
        return "not installed"
    return "%s, %s" % (props.get("ActiveState", "?"), props.get("UnitFileState") or "?")


def plan(guests, unit_dir, devices_file=None, devices_text=None, restart_policy="changed"):
    """What to do for `guests`; reads the host, changes nothing.

    A running guest restarts when the configuration it runs (the hash its process inherited) is not the one its
    unit records, and the unit records only what a restart applies (_systemd.config_hash): a rewrite of anything
    else (the stop timeout, comments) reloads systemd and restarts nothing. Each restart names the fields that
    changed. With restart_policy 'pending' a guest that needs a restart keeps running: it is reported in
    `pending`, every run, until it is restarted."""
    steps = {"create_users": [], "stop_absent": [], "disable_absent": [], "remove_units": [], "remove_disks": [], "create_disks": [],
             "write_units": [], "reload": False, "enable": [], "disable": [], "stop": [], "restart": [], "start": [],
             "devices_file": None}
    lines, diff, report, pending = [], [], {}, []
    units = [g["unit"] for g in guests]
    live = _systemd.show(units, WHAT)
    for guest in guests:
        name, unit = guest["name"], guest["unit"]
        path = os.path.join(unit_dir, unit)
        props = live.get(unit)
        old = _files.read_text(path, WHAT)
        loaded = props.get("LoadState") not in (None, "not-found")
        active = props.get("ActiveState") in _systemd.RUNNING
        enabled = props.get("UnitFileState") == "enabled"
        actions, pending_why = [], None
        if guest["state"] == "absent":
            if active:
                steps["stop_absent"].append(unit)
                actions.append("stop")
            if enabled:
                steps["disable_absent"].append(unit)
                actions.append("disable")
            if old is not None:
                steps["remove_units"].append(path)
                actions.append("remove unit %s" % path)
                steps["reload"] = True
            for disk in guest.get("disks") or []:
                if guest.get("remove_disks") and _disks.exists(disk["path"]):
                    steps["remove_disks"].append((guest, disk["path"]))
                    actions.append("remove disk %s" % disk["path"])
            after_view = "not installed"
        else:
            text = guest["content"]
            if guest.get("create_user") and _user_ids(guest["user"]) is None:
                steps["create_users"].append((guest["user"], guest["group"]))
                actions.append("create its own user '%s' (member of '%s')" % (guest["user"], guest["group"]))
            if old != text:
                steps["write_units"].append((path, text))
                actions.append("write unit %s" % path)
                steps["reload"] = True
                diff.append({"before_header": path, "after_header": path, "before": old or "", "after": text})
            if loaded and props.get("NeedDaemonReload") == "yes":
                steps["reload"] = True
                actions.append("daemon-reload (the unit file changed since systemd read it)")
            for disk in guest.get("disks") or []:
                if disk.get("create") and not _disks.exists(disk["path"]):
                    steps["create_disks"].append((guest, disk))
                    actions.append("create %s disk %s" % ("overlay" if disk["create"] == "overlay" else "new",
                                                          disk["path"]))
            if guest["enabled"] and not enabled:
                steps["enable"].append(unit)
                actions.append("enable")
            elif not guest["enabled"] and enabled:
                steps["disable"].append(unit)
                actions.append("disable")
            if guest["state"] == "started":
                why = None
                if not active:
                    steps["start"].append(unit)
                    actions.append("start")
                elif props.get("running_config") != _systemd.recorded_hash(text):
                    why = _systemd.setting_changes(props.get("running_settings"), _systemd.recorded_settings(text)) \
                        or ("its unit changed" if old != text else "it runs another configuration than its unit"
                            " records: an earlier run stopped before the restart")
                if why and restart_policy == "pending":
                    pending.append("%s: restart needed (%s); pending, as restart_policy is pending" % (_label(guest), why))
                    pending_why = why
                elif why:
                    steps["restart"].append(unit)
                    actions.append("restart (%s)" % why)
            elif active:
                steps["stop"].append(unit)
                actions.append("stop")
            after_view = "%s, %s" % ("active" if guest["state"] == "started" else "inactive",
                                     "enabled" if guest["enabled"] else "disabled")
        before_view = _systemd_view(props if loaded or old is not None else None)
        if actions:
            lines += ["%s: %s" % (_label(guest), action) for action in actions]
            if before_view != after_view:
                diff.append({"before_header": "%s (systemd)" % unit, "after_header": "%s (systemd)" % unit,
                             "before": before_view + "\n", "after": after_view + "\n"})
        report[name] = {"unit": unit, "actions": actions, "pending_restart": pending_why}
    if devices_file:
        old = _files.read_text(devices_file, WHAT)
        if devices_text is None and old is not None:
            steps["devices_file"] = ("remove", devices_file)
            lines.append("remove the saved device set %s" % devices_file)
        elif devices_text is not None and old != devices_text:
            steps["devices_file"] = ("write", devices_file, devices_text)
            lines.append("write the saved device set %s" % devices_file)
            diff.append({"before_header": devices_file, "after_header": devices_file, "before": old or "",
                         "after": devices_text})
    changed = bool(lines)
    return {"steps": steps, "plan": lines, "diff": diff, "guests": report, "changed": changed, "pending": pending}


def create_user(user, group):
    """A guest's own user: a system user without home or shell, in its own group and in `group`."""
    _proc.run(["useradd", "--system", "--user-group", "--groups", group, "--no-create-home",
               "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "hostnet.qemu guest", user],
              WHAT, hint="install the passwd package", failed="useradd %s failed" % user)


def apply_before_devices(result):
    """The guests' own users (they own taps and disks); guests to remove: stopped, disabled, units removed
    (their taps go with the device set)."""
    steps = result["steps"]
    for user, group in steps["create_users"]:
        create_user(user, group)
    _systemd.apply_sets(WHAT, {"disable": steps["disable_absent"], "stop": steps["stop_absent"]})
    for path in steps["remove_units"]:
        _files.remove(path, WHAT)


def apply_after_devices(result, qemu_img="qemu-img"):
    steps = result["steps"]
    saved = steps["devices_file"]
    if saved and saved[0] == "write":
        _files.write_atomic(saved[1], saved[2], WHAT, mode=0o600)
    elif saved:
        _files.remove(saved[1], WHAT)
        try:
            os.rmdir(os.path.dirname(saved[1]))
        except OSError:
            pass  # not empty: other device sets live there
    for guest, path in steps["remove_disks"]:
        _disks.remove(path, "%s: disk" % _label(guest))
    for guest, disk in steps["create_disks"]:
        ids = _user_ids(guest["user"])
        if ids is None:
            raise HostnetError("%s: user '%s' does not exist; create it first" % (_label(guest), guest["user"]))
        _disks.create(disk, ids[0], ids[1], "%s: disk" % _label(guest), qemu_img)
    for path, text in steps["write_units"]:
        _files.write_atomic(path, text, WHAT, mode=0o644)


def apply_units(result):
    """One daemon-reload; enable, disable, stop, restart and start as sets. Called after the host-wide lock is
    released: a guest unit requires hostnet-qemu-network.service, and starting that runs the boot CLI, which
    takes the lock."""
    _systemd.apply_sets(WHAT, result["steps"], parallel=result.get("restart_parallel") or 0)
