# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Uplink networks, the saved entries: STATE_DIR/BRIDGE.json, one per uplink bridge, with what moved
(addresses, routes, MAC) and its `committed` and `pending` directions. Written atomically, mode 0600."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _files
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._uplinkplan import WHAT


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
            out[_checked(entry, os.path.join(state_dir, name))["bridge"]] = entry
    return out


# what every saved entry holds (save() writes them all): a file without them is not one of ours
_SHAPE = (("bridge", str), ("nic", str), ("addresses", list), ("routes", list))


def _checked(entry, path):
    """A saved entry as save() wrote it, named after its bridge; anything else in STATE_DIR is refused by name
    (it would be restored onto a host's NIC at boot)."""
    bridge = os.path.basename(path)[:-len(".json")]
    wrong = [key for key, kind in _SHAPE if not isinstance(entry, dict) or not isinstance(entry.get(key), kind)]
    if wrong:
        raise HostnetError("%s: %s is not an uplink entry of this collection (no %s); move it out of %s"
                           % (WHAT, path, ", ".join("'%s'" % key for key in wrong), os.path.dirname(path)))
    if entry["bridge"] != bridge:
        raise HostnetError("%s: %s is the entry of bridge '%s', not of '%s'; rename it to %s.json or remove it"
                           % (WHAT, path, entry["bridge"], bridge, entry["bridge"]))
    return entry


def save(state_dir, entry):
    entry = dict(entry)
    entry["comment"] = ("Managed by Ansible (hostnet.qemu.network): the NIC's addresses and routes on bridge %s;"
                        " read by hostnet-qemu-network.service at boot" % entry["bridge"])
    _files.write_atomic(_path(state_dir, entry["bridge"]), json.dumps(entry, indent=2, sort_keys=True) + "\n",
                        WHAT, mode=0o600)


def remove(state_dir, bridge):
    _files.remove(_path(state_dir, bridge), WHAT)
