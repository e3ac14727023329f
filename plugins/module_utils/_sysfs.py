# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read sysfs as the current network namespace sees it.

/sys shows the network devices of the namespace it was mounted in, not of the reader.
Inside another namespace we do what `ip netns exec` does, in a short-lived child:
a private mount namespace with a fresh sysfs, so the parent's mounts are never touched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import ctypes.util
import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def _read_all(root, relpaths):
    out = {}
    for rel in relpaths:
        try:
            with open(os.path.join(root, rel)) as handle:
                out[rel] = handle.read()
        except (IOError, OSError):
            out[rel] = None
    return out


def read(netns, relpaths):
    """{relpath: text or None} for paths relative to /sys, as seen from the current netns.

    `netns` is the namespace the caller has already entered (None: the host's /sys is right).
    """
    if not netns:
        return _read_all("/sys", relpaths)

    def mount_and_read():
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        if libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
        if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            raise OSError(ctypes.get_errno(), "make / private")
        if libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None) != 0:
            raise OSError(ctypes.get_errno(), "mount sysfs")
        return _read_all("/sys", relpaths)

    answer = _proc.in_child(mount_and_read)
    if "error" in answer:
        raise HostnetError("cannot read sysfs inside namespace '%s': %s" % (netns, answer["error"]))
    return answer["ok"]
