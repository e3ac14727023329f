# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A macvtap's character device, /dev/tapN (a part of _netlink.Kernel): read from sysfs and /dev, and made to exist
with its owner, group and mode where udev does not (or is not there), without a stale node of an earlier device
that the kernel's reused minor would open."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import re
import stat

from ansible_collections.hostnet.qemu.plugins.module_utils import _sysfs
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def _unlink(path):
    """Remove a node; one already gone (devtmpfs removes a deleted macvtap's node itself) is fine."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise


def drop_nodes(rdev, keep=None, directory="/dev"):
    """Remove every /dev/tapN character device with major:minor `rdev` except `keep`: a node left by a deleted
    macvtap keeps its owner, and the kernel gives its minor to the next macvtap, so an old guest's user would
    open a new guest's device through it."""
    wanted = os.makedev(*rdev)
    for entry in os.listdir(directory):
        path = os.path.join(directory, entry)
        if not re.match(r"tap[0-9]+\Z", entry) or path == keep:
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == wanted:
            _unlink(path)


class DeviceNodesMixin(object):
    """The macvtaps' /dev/tapN nodes; mixed into _netlink.Kernel (which gives resolve() and netns)."""

    def device_nodes(self, names):
        """The /dev/tapN character devices of macvtaps `names`: {name: info}.

        info: path, rdev (major, minor) from sysfs, ok (node exists with that rdev),
        and the node's owner, group and mode when it exists.
        """
        rels = {}
        for name in names:
            index = self.resolve(name)
            rels[name] = (index, "class/net/%s/macvtap/tap%d/dev" % (name, index))
        texts = _sysfs.read(self.netns, [rel for _index, rel in rels.values()]) if rels else {}
        out = {}
        for name, (index, rel) in rels.items():
            text = texts.get(rel)
            if text is None:
                raise HostnetError("macvtap '%s': no character device in sysfs (/sys/%s); is the macvtap module loaded?"
                                   % (name, rel))
            major, minor = (int(x) for x in text.strip().split(":"))
            info = {"path": "/dev/tap%d" % index, "rdev": (major, minor), "ok": False,
                    "owner": None, "group": None, "mode": None}
            try:
                st = os.stat(info["path"])
            except OSError:
                st = None
            if st is not None:
                info["ok"] = stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(major, minor)
                info.update({"owner": st.st_uid, "group": st.st_gid, "mode": stat.S_IMODE(st.st_mode)})
            out[name] = info
        return out

    def device_node(self, name, owner, group, mode):
        """Make /dev/tapN for macvtap `name` exist with the given owner/group/mode (udev may be absent)."""
        info = self.device_nodes([name])[name]
        path = info["path"]
        if not info["ok"]:
            if info["mode"] is not None:
                _unlink(path)  # a stale node from an earlier device with this ifindex
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(*info["rdev"]))
        os.chown(path, 0 if owner is None else owner, 0 if group is None else group)
        os.chmod(path, mode)
        drop_nodes(info["rdev"], keep=path)  # the kernel reuses minors: an old node must not open this device
        return path
