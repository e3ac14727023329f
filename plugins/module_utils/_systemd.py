# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd as the batch modules see it: one `systemctl show` for a set of units, verbs on sets of units, and the
configuration a running instance was started with.

A unit the collection writes carries `Environment=HOSTNET_QEMU_CONFIG=<hash of the unit>`; its main process
inherits it, so /proc/MAINPID/environ tells which configuration is *running*, whatever the unit file on disk
says. A run that died after writing a unit (before daemon-reload or before the restart) is completed by the
next one: NeedDaemonReload=yes, or a running hash that differs from the file's, means reload and restart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import re
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

SETTINGS_KEY = "HOSTNET_QEMU_SETTINGS"  # a guest unit's settings by field (JSON, base64): in the unit and in QEMU's env
PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState", "NeedDaemonReload", "MainPID")
CONFIG_KEY = "HOSTNET_QEMU_CONFIG"
_CONFIG_LINE = re.compile(r"^Environment=%s=([0-9a-f]+)$" % CONFIG_KEY, re.M)
_SETTINGS_LINE = re.compile(r"^Environment=%s=([A-Za-z0-9_=-]+)$" % SETTINGS_KEY, re.M)
RUNNING = ("active", "activating", "reloading", "deactivating")


# [Service] settings systemd applies without restarting the main process: a change of only these (or of comments,
# [Unit] or [Install]) is written and reloaded, but never restarts a guest
NO_RESTART = ("ExecStop", "ExecStopPost", "TimeoutStopSec", "Restart", "RestartSec")
# a guest's CD-ROM media (the launcher inserts it at start; the guests module changes it live through QMP)
CDROM_KEY = "HOSTNET_QEMU_CDROM"


def config_hash(text):
    """The hash a unit records of itself: of its [Service] settings that only a restart applies (not the recording
    line, comments, [Unit], [Install] or NO_RESTART), so a rewrite that changes none of them restarts nothing."""
    relevant, section = [], None
    for line in _CONFIG_LINE.sub("", text).splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped
        elif section == "[Service]" and stripped and not stripped.startswith(("#", ";")) \
                and stripped.partition("=")[0].strip() not in NO_RESTART \
                and not stripped.startswith("Environment=%s=" % CDROM_KEY):
            relevant.append(stripped)
    return hashlib.sha256("\n".join(relevant).encode("utf-8")).hexdigest()[:16]


def with_config_hash(text, section="[Service]"):
    """The unit text with `Environment=HOSTNET_QEMU_CONFIG=<hash>` as the first line of `section`."""
    if section + "\n" not in text:
        raise HostnetError("unit text has no %s section" % section)
    return text.replace(section + "\n", "%s\nEnvironment=%s=%s\n" % (section, CONFIG_KEY, config_hash(text)), 1)


def settings_line(settings):
    """`Environment=HOSTNET_QEMU_SETTINGS=...`: a guest's settings by field, inherited by its QEMU, so a later run
    can say which fields a restart is for. base64 (URL alphabet): nothing in it needs quoting or a specifier."""
    data = json.dumps(settings, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return "Environment=%s=%s" % (SETTINGS_KEY, base64.urlsafe_b64encode(data).decode("ascii"))


def cdrom_line(path):
    """`Environment=HOSTNET_QEMU_CDROM=...`: a guest's CD-ROM media (base64, nothing to quote), or None."""
    if not path:
        return None
    return "Environment=%s=%s" % (CDROM_KEY, base64.urlsafe_b64encode(path.encode("utf-8")).decode("ascii"))


def decode_settings(value):
    """The settings dict of a HOSTNET_QEMU_SETTINGS value, None when it is missing or unreadable."""
    try:
        settings = json.loads(base64.urlsafe_b64decode(value.encode("ascii")).decode("utf-8"))
    except (AttributeError, ValueError, TypeError, UnicodeError):
        return None
    return settings if isinstance(settings, dict) else None


def recorded_settings(text):
    """The settings a unit text records, or None (a unit of an older release)."""
    found = _SETTINGS_LINE.search(text or "")
    return decode_settings(found.group(1)) if found else None


def setting_changes(old, new):
    """'cpus 1 -> 2, memory 512 -> 1024' between two settings dicts; None when either is unknown."""
    if old is None or new is None:
        return None
    changes = ["%s %s -> %s" % (key, _shown(old.get(key)), _shown(new.get(key)))
               for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]
    return ", ".join(changes) or None


def _shown(value):
    return "(none)" if value in (None, "") else value


def restart_reason(props, text, unit_changed=False):
    """Why a running unit needs a restart to run `text` (the unit as written, or about to be), or None: its main
    process inherited another configuration hash than `text` records. Named by field when both settings are known."""
    if props.get("ActiveState") not in RUNNING or props.get("running_config") == recorded_hash(text):
        return None
    return setting_changes(props.get("running_settings"), recorded_settings(text)) or (
        "its unit changed" if unit_changed else
        "it runs another configuration than its unit records: an earlier run stopped before the restart")


def recorded_hash(text):
    """The hash a unit text records, or None."""
    found = _CONFIG_LINE.search(text or "")
    return found.group(1) if found else None


def systemctl(what, *args):
    """Run systemctl; HostnetError naming `what` and systemctl's message when it fails."""
    return _proc.run(["systemctl"] + list(args), what, hint="this host needs systemd",
                     failed="systemctl %s failed" % " ".join(args)).stdout


def apply_sets(what, steps, parallel=0):
    """One daemon-reload if steps["reload"], then enable, disable, stop, restart and start, each one systemctl
    call for its set of units (steps[verb]; a verb left out is nothing to do). systemd runs the jobs of one call
    at once; `parallel` > 0 restarts at most that many units per call (each stop may wait its whole timeout)."""
    if steps.get("reload"):
        systemctl(what, "daemon-reload")
    for verb in ("enable", "disable", "stop", "restart", "start"):
        units = list(steps.get(verb) or [])
        size = parallel if verb == "restart" and parallel and parallel > 0 else len(units) or 1
        for start in range(0, len(units), size):
            systemctl(what, verb, *((["--quiet"] if verb in ("enable", "disable") else []) + ["--"]
                                    + units[start:start + size]))


def show(units, what, extra=()):
    """{unit: {property: value}} for every unit (PROPERTIES and `extra`), in one systemctl call; `running_config`
    and `running_settings` added for running ones."""
    if not units:
        return {}
    out = systemctl(what, "show", "--property=" + ",".join(PROPERTIES + tuple(extra)), "--", *units)
    blocks = out.strip("\n").split("\n\n")
    found = {}
    for block in blocks:
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            found[props["Id"]] = props
    result = {}
    for unit in units:
        props = found.get(unit, {"Id": unit, "LoadState": "not-found", "ActiveState": "inactive"})
        running = _running_env(props) if props.get("ActiveState") in RUNNING else {}
        props["running_config"] = running.get(CONFIG_KEY)
        props["running_settings"] = decode_settings(running.get(SETTINGS_KEY))
        result[unit] = props
    return result


def _wait_for_exec(pid, tries=40):
    """A unit's main process is forked by systemd, named "(NAME)", and only then execs the command; until it has,
    its environment is systemd's own. Wait (up to 2 s) until it is no longer that child."""
    for _attempt in range(tries):
        try:
            with open("/proc/%s/comm" % pid) as handle:
                comm = handle.read().strip()
        except (IOError, OSError):
            return
        if not (comm.startswith("(") and comm.endswith(")")):
            return
        time.sleep(0.05)


def _running_env(props):
    """The collection's variables (CONFIG_KEY, SETTINGS_KEY) in the main process's environment: {} when unknown."""
    pid = props.get("MainPID") or "0"
    if pid == "0":
        return {}
    _wait_for_exec(pid)
    try:
        with open("/proc/%s/environ" % pid, "rb") as handle:
            env = handle.read().split(b"\0")
    except (IOError, OSError):
        return {}
    found = {}
    for item in env:
        key, sep, value = item.partition(b"=")
        if sep and key.decode("ascii", "replace") in (CONFIG_KEY, SETTINGS_KEY):
            found[key.decode("ascii")] = value.decode("ascii", "replace")
    return found
