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
import shutil
import stat

from ansible_collections.hostnet.qemu.plugins.module_utils import _disks, _files, _images, _proc, _qmp, _seed, _systemd
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


TPM_UNIT = "hostnet-swtpm-%s.service"


def _tpm(guest, unit_dir, state_dir, props, steps, actions, diff):
    """A guest's TPM: its companion unit (written; or stopped and removed when the guest has no TPM any more) and
    its state directory (made for the guest's user; removed only with the guest and remove_disks)."""
    tpm, unit = guest.get("tpm"), TPM_UNIT % guest["name"]
    path, state = os.path.join(unit_dir, unit), os.path.join(state_dir, guest["name"], "tpm")
    old = _files.read_text(path, WHAT)
    if guest["state"] != "absent" and tpm:
        if old != tpm["content"]:
            steps["write_units"].append((path, tpm["content"]))
            steps["reload"] = True
            actions.append("write TPM unit %s" % path)
            diff.append({"before_header": path, "after_header": path, "before": old or "", "after": tpm["content"]})
        if not _disks.exists(state):
            steps["tpm_dirs"].append((guest, state))
            actions.append("create TPM state %s" % state)
        return
    if props.get("ActiveState") in _systemd.RUNNING:
        steps["stop_absent"].append(unit)
        actions.append("stop TPM %s" % unit)
    if old is not None:
        steps["remove_units"].append(path)
        steps["reload"] = True
        actions.append("remove TPM unit %s" % path)
    if guest["state"] == "absent" and guest.get("remove_disks") and _disks.exists(state):
        steps["remove_tpm_state"].append((guest, state))
        actions.append("remove TPM state %s" % state)


def _own_files(guest, state_dir, steps, actions):
    """The seed (rebuilt when its content changed, removed when the guest has none or goes) and the UEFI variable
    store (made when missing; removed only with the guest and remove_disks)."""
    here = os.path.join(state_dir, guest["name"])
    seed, fw = guest.get("seed"), guest.get("firmware_vars")
    seed_path = os.path.join(here, "seed.iso")
    if guest["state"] != "absent" and seed:
        if _seed.recorded_hash(seed_path) != seed["hash"][:32]:
            steps["write_seeds"].append((guest, dict(seed, path=seed_path)))
            actions.append("%s cloud-init seed %s" % ("rewrite" if _disks.exists(seed_path) else "create", seed_path))
    elif _disks.exists(seed_path):
        steps["remove_files"].append((guest, seed_path))
        actions.append("remove cloud-init seed %s" % seed_path)
    vars_path = os.path.join(here, "OVMF_VARS.fd")
    if guest["state"] != "absent" and fw:
        if not _disks.exists(vars_path):
            steps["copy_vars"].append((guest, vars_path, fw["template"]))
            actions.append("create UEFI variable store %s from %s" % (vars_path, fw["template"]))
    elif guest["state"] == "absent" and guest.get("remove_disks") and _disks.exists(vars_path):
        steps["remove_files"].append((guest, vars_path))
        actions.append("remove UEFI variable store %s" % vars_path)


def _existing_disk(guest, index, disk, running, steps, actions):
    """An image that exists keeps its backing and grows to a larger size; asking to shrink or rebase it fails here,
    in the plan, before anything changed."""
    path, what = disk["path"], "%s: disks[%d]" % (_label(guest), index)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return  # a block device (an LVM volume, a raw disk) is sized where it is made
    except OSError:
        return  # a dangling symlink: QEMU says so when it starts
    found = _disks.info(path, what)
    if disk.get("backing") and os.path.realpath(found["backing"] or "") != os.path.realpath(disk["backing"]):
        raise HostnetError("%s.backing: %s is %s, not an overlay on %s; a disk is never rebased: remove it (state absent"
                           " with remove_disks) to have it made anew, or give the backing it has"
                           % (what, path, "an overlay on %s" % found["backing"] if found["backing"] else "no overlay",
                              disk["backing"]))
    if not disk.get("size"):
        return
    want, have = _disks.size_bytes(disk["size"]), found["virtual_size"]
    if want < have:
        raise HostnetError("%s.size: %s is smaller than %s's %s; a disk is never shrunk: give at least %s"
                           % (what, disk["size"], path, _disks.human(have), _disks.human(have)))
    if want > have:
        steps["resize"].append((guest, index, path, want, running))
        actions.append("grow disk %s from %s to %s%s" % (path, _disks.human(have), _disks.human(want),
                                                         " (live, QMP block_resize)" if running else ""))


def _media(guest, steps, actions):
    """A running guest that is not restarted gets its CD-ROM's media changed live (QMP), when it differs."""
    known, current = _qmp.cdrom_media(guest["qmp"]) if guest.get("qmp") else (False, None)
    wanted = guest.get("cdrom")
    if known and current == wanted:
        return
    steps["media"].append((guest, wanted))
    before = (current or "(none)") if known else "(unknown)"
    actions.append("CD-ROM media %s -> %s (live, no restart)" % (before, wanted or "(none)"))


def plan(guests, unit_dir, devices_file=None, devices_text=None, restart_policy="changed",
         state_dir="/var/lib/hostnet-qemu/guests"):
    """What to do for `guests`; reads the host, changes nothing.

    A running guest restarts when the configuration it runs (the hash its process inherited) is not the one its
    unit records, and the unit records only what a restart applies (_systemd.config_hash): a rewrite of anything
    else (the stop timeout, comments) reloads systemd and restarts nothing. Each restart names the fields that
    changed. With restart_policy 'pending' a guest that needs a restart keeps running: it is reported in
    `pending`, every run, until it is restarted."""
    steps = dict((key, []) for key in (
        "create_users", "stop_absent", "disable_absent", "remove_units", "remove_disks", "create_disks", "write_seeds",
        "copy_vars", "remove_files", "media", "resize", "tpm_dirs", "remove_tpm_state", "write_units", "enable",
        "disable", "stop", "restart", "start"))
    steps.update(reload=False, devices_file=None)
    lines, diff, report, pending = [], [], {}, []
    units = [g["unit"] for g in guests]
    live = _systemd.show(units + [TPM_UNIT % g["name"] for g in guests], WHAT)
    for guest in guests:
        name, unit = guest["name"], guest["unit"]
        path = os.path.join(unit_dir, unit)
        props = live.get(unit)
        old = _files.read_text(path, WHAT)
        loaded = props.get("LoadState") not in (None, "not-found")
        active = props.get("ActiveState") in _systemd.RUNNING
        enabled = props.get("UnitFileState") == "enabled"
        actions, pending_why = [], None
        _own_files(guest, state_dir, steps, actions)
        _tpm(guest, unit_dir, state_dir, live.get(TPM_UNIT % name) or {}, steps, actions, diff)
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
            for index, disk in enumerate(guest.get("disks") or []):
                if disk.get("create") and not _disks.exists(disk["path"]):
                    steps["create_disks"].append((guest, disk))
                    actions.append("create %s disk %s" % ("overlay" if disk["create"] == "overlay" else "new",
                                                          disk["path"]))
                elif disk.get("size") or disk.get("backing"):
                    _existing_disk(guest, index, disk, active, steps, actions)
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
                else:
                    why = _systemd.restart_reason(props, text, unit_changed=old != text)
                if why and restart_policy == "pending":
                    pending.append("%s: restart needed (%s); pending, as restart_policy is pending" % (_label(guest), why))
                    pending_why = why
                elif why:
                    steps["restart"].append(unit)
                    actions.append("restart (%s)" % why)
                if active and not (why and restart_policy != "pending"):
                    _media(guest, steps, actions)
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
    steps["fetch"] = _images.missing([g["fetch"] for g in guests if g.get("fetch") and g["state"] != "absent"])
    for item in steps["fetch"]:
        lines.append("fetch image %s into %s (verified: %s)" % (item["url"], item["path"], item["checksum"]))
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
    """Base images fetched (before anything changes); the guests' own users (they own taps and disks); guests to remove: stopped, disabled, units removed
    (their taps go with the device set)."""
    steps = result["steps"]
    for item in steps.get("fetch") or []:  # first: a fetch that fails (a wrong checksum) leaves the host as it was
        _images.fetch(item, "image")
    for user, group in steps["create_users"]:
        create_user(user, group)
    _systemd.apply_sets(WHAT, {"disable": steps["disable_absent"], "stop": steps["stop_absent"]})
    for path in steps["remove_units"]:
        _files.remove(path, WHAT)


def _ids(guest):
    ids = _user_ids(guest["user"])
    if ids is None:
        raise HostnetError("%s: user '%s' does not exist; create it first" % (_label(guest), guest["user"]))
    return ids


def apply_after_devices(result, qemu_img="qemu-img", iso_tool="genisoimage"):
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
    for guest, path in steps["remove_files"]:
        _disks.remove(path, _label(guest))
        _seed.remove_dir_if_empty(path)
    for guest, disk in steps["create_disks"]:
        ids = _ids(guest)
        _disks.create(disk, ids[0], ids[1], "%s: disk" % _label(guest), qemu_img)
    for guest, index, path, size, running in steps["resize"]:
        if running:
            try:
                _qmp.execute(guest["qmp"], [("block_resize", {"device": "disk%d" % index, "size": size})])
            except _qmp.QMPError as exc:
                raise HostnetError("%s: cannot grow disks[%d] %s through QMP: %s" % (_label(guest), index, path, exc))
        else:
            _disks.resize(path, size, "%s: disks[%d]" % (_label(guest), index), qemu_img)
    for guest, seed in steps["write_seeds"]:
        _seed.build(seed, _ids(guest)[1], _label(guest), iso_tool)
    for guest, path in steps["remove_tpm_state"]:
        shutil.rmtree(path, ignore_errors=True)
        _seed.remove_dir_if_empty(path)
    for guest, path in steps["tpm_dirs"]:
        ids = _ids(guest)
        _seed.guest_dir(path, ids[1], _label(guest))  # STATE_DIR/NAME
        _seed.user_dir(path, ids[0], ids[1], _label(guest))
    for guest, path, template in steps["copy_vars"]:
        ids = _ids(guest)
        _seed.copy_vars(path, template, ids[0], ids[1], _label(guest))
    for path, text in steps["write_units"]:
        _files.write_atomic(path, text, WHAT, mode=0o644)


def apply_units(result):
    """One daemon-reload; enable, disable, stop, restart and start as sets. Called after the host-wide lock is
    released: a guest unit requires hostnet-qemu-network.service, and starting that runs the boot CLI, which
    takes the lock."""
    _systemd.apply_sets(WHAT, result["steps"], parallel=result.get("restart_parallel") or 0)
    for guest, media in result["steps"]["media"]:
        _qmp.set_cdrom(guest["qmp"], media, _label(guest))
