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

import hashlib
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState", "NeedDaemonReload", "MainPID")
CONFIG_KEY = "HOSTNET_QEMU_CONFIG"
_CONFIG_LINE = re.compile(r"^Environment=%s=([0-9a-f]+)$" % CONFIG_KEY, re.M)
RUNNING = ("active", "activating", "reloading", "deactivating")


def config_hash(text):
    """The hash a unit records of itself (of its text without the recording line)."""
    return hashlib.sha256(_CONFIG_LINE.sub("", text).encode("utf-8")).hexdigest()[:16]


def with_config_hash(text, section="[Service]"):
    """The unit text with `Environment=HOSTNET_QEMU_CONFIG=<hash>` as the first line of `section`."""
    if section + "\n" not in text:
        raise HostnetError("unit text has no %s section" % section)
    return text.replace(section + "\n", "%s\nEnvironment=%s=%s\n" % (section, CONFIG_KEY, config_hash(text)), 1)


def recorded_hash(text):
    """The hash a unit text records, or None."""
    found = _CONFIG_LINE.search(text or "")
    return found.group(1) if found else None


def systemctl(what, *args):
    """Run systemctl; HostnetError naming `what` and systemctl's message when it fails."""
    return _proc.run(["systemctl"] + list(args), what, hint="this host needs systemd",
                     failed="systemctl %s failed" % " ".join(args)).stdout


def apply_sets(what, steps):
    """One daemon-reload if steps["reload"], then enable, disable, stop, restart and start, each one systemctl
    call for its set of units (steps[verb]; a verb left out is nothing to do)."""
    if steps.get("reload"):
        systemctl(what, "daemon-reload")
    for verb in ("enable", "disable", "stop", "restart", "start"):
        if steps.get(verb):
            systemctl(what, verb, *((["--quiet"] if verb in ("enable", "disable") else []) + ["--"] + list(steps[verb])))


def show(units, what):
    """{unit: {property: value}} for every unit, in one systemctl call; `running_config` added for running ones."""
    if not units:
        return {}
    out = systemctl(what, "show", "--property=" + ",".join(PROPERTIES), "--", *units)
    blocks = out.strip("\n").split("\n\n")
    found = {}
    for block in blocks:
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            found[props["Id"]] = props
    result = {}
    for unit in units:
        props = found.get(unit, {"Id": unit, "LoadState": "not-found", "ActiveState": "inactive"})
        props["running_config"] = _running_config(props) if props.get("ActiveState") in RUNNING else None
        result[unit] = props
    return result


def _running_config(props):
    pid = props.get("MainPID") or "0"
    if pid == "0":
        return None
    try:
        with open("/proc/%s/environ" % pid, "rb") as handle:
            env = handle.read().split(b"\0")
    except (IOError, OSError):
        return None
    prefix = (CONFIG_KEY + "=").encode("ascii")
    for item in env:
        if item.startswith(prefix):
            return item[len(prefix):].decode("ascii", "replace")
    return None
