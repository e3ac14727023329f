# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File capabilities through the security.capability xattr (struct vfs_cap_data), never getcap text.

Layout (little-endian u32s, include/uapi/linux/capability.h):
  revision 1: magic_etc, permitted, inheritable                      (32 capabilities)
  revision 2: magic_etc, permitted[0], inheritable[0], permitted[1], inheritable[1]
  revision 3: revision 2 + rootid (the file's capabilities apply in user namespaces whose root is rootid)
magic_etc = revision | VFS_CAP_FLAGS_EFFECTIVE (0x1) when the permitted set is raised into the effective set at exec.

Measured on Linux 6.18: setcap writes revision 2; a revision-3 xattr written with rootid 0 from the initial
user namespace is stored as revision 2, one with another rootid is stored (and read back) as revision 3 and
grants nothing to processes in the initial namespace. chown(2), even to the same owner, removes the xattr.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import struct

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

XATTR = "security.capability"
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
VFS_CAP_REVISION_1 = 0x01000000
VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_REVISION_3 = 0x03000000

# Index = capability number (include/uapi/linux/capability.h).
CAP_NAMES = (
    "cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
    "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
    "cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner", "cap_sys_module",
    "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct", "cap_sys_admin", "cap_sys_boot",
    "cap_sys_nice", "cap_sys_resource", "cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease",
    "cap_audit_write", "cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
    "cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
)


def cap_name(number):
    return CAP_NAMES[number] if number < len(CAP_NAMES) else "cap_%d" % number


def cap_number(name):
    name = name.lower()
    if name in CAP_NAMES:
        return CAP_NAMES.index(name)
    raise HostnetError("file capabilities: unknown capability '%s'; use names like cap_net_admin" % name)


def _bits(mask_lo, mask_hi=0):
    mask = mask_lo | (mask_hi << 32)
    return frozenset(i for i in range(64) if mask >> i & 1)


def _mask(numbers):
    mask = 0
    for number in numbers:
        mask |= 1 << number
    return mask & 0xFFFFFFFF, mask >> 32


class FileCaps(object):
    """A decoded security.capability value. Equality is semantic: sets, effective flag and rootid."""

    def __init__(self, permitted=(), inheritable=(), effective=False, rootid=None, revision=VFS_CAP_REVISION_2):
        self.permitted = frozenset(permitted)
        self.inheritable = frozenset(inheritable)
        self.effective = bool(effective)
        self.rootid = rootid or None  # rootid 0 is what revision 2 means
        self.revision = revision

    def _key(self):
        return (self.permitted, self.inheritable, self.effective and bool(self.permitted), self.rootid)

    def __eq__(self, other):
        return isinstance(other, FileCaps) and self._key() == other._key()

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self._key())

    def names(self):
        """Sorted names of the permitted capabilities."""
        return sorted(cap_name(n) for n in self.permitted)

    def text(self):
        """A human summary in getcap's style, e.g. 'cap_net_admin=ep' (for diffs only, never parsed)."""
        parts = []
        both = self.permitted & self.inheritable
        for numbers, flags in ((both, "i" + "p"), (self.permitted - both, "p"), (self.inheritable - both, "i")):
            if numbers:
                parts.append("%s=%s%s" % (",".join(sorted(cap_name(n) for n in numbers)), "e" if self.effective else "", flags))
        text = " ".join(parts)
        if self.rootid:
            text += " [rootid=%d]" % self.rootid
        return text

    def as_dict(self):
        return {"permitted": self.names(), "inheritable": sorted(cap_name(n) for n in self.inheritable),
                "effective": self.effective, "rootid": self.rootid or 0, "revision": self.revision >> 24}


def decode(blob, what="file"):
    """bytes of security.capability -> FileCaps (revisions 1, 2 and 3)."""
    if len(blob) < 4:
        raise HostnetError("%s: security.capability xattr is %d bytes, too short to decode" % (what, len(blob)))
    magic = struct.unpack("<I", blob[:4])[0]
    revision = magic & VFS_CAP_REVISION_MASK
    effective = bool(magic & VFS_CAP_FLAGS_EFFECTIVE)
    if revision == VFS_CAP_REVISION_1 and len(blob) == 12:
        permitted, inheritable = struct.unpack("<III", blob)[1:]
        return FileCaps(_bits(permitted), _bits(inheritable), effective, None, revision)
    if revision == VFS_CAP_REVISION_2 and len(blob) == 20:
        p0, i0, p1, i1 = struct.unpack("<IIIII", blob)[1:]
        return FileCaps(_bits(p0, p1), _bits(i0, i1), effective, None, revision)
    if revision == VFS_CAP_REVISION_3 and len(blob) == 24:
        p0, i0, p1, i1, rootid = struct.unpack("<IIIIII", blob)[1:]
        return FileCaps(_bits(p0, p1), _bits(i0, i1), effective, rootid, revision)
    raise HostnetError("%s: security.capability xattr has unknown revision 0x%08x or length %d; remove it with"
                       " 'setcap -r' and rerun" % (what, revision, len(blob)))


def encode(caps):
    """FileCaps -> revision 2 bytes (rootid must be unset: revision 2 means 'root of our namespace')."""
    if caps.rootid:
        raise HostnetError("file capabilities: cannot encode rootid %d as revision 2" % caps.rootid)
    p0, p1 = _mask(caps.permitted)
    i0, i1 = _mask(caps.inheritable)
    magic = VFS_CAP_REVISION_2 | (VFS_CAP_FLAGS_EFFECTIVE if caps.effective else 0)
    return struct.pack("<IIIII", magic, p0, i0, p1, i1)


def read(path):
    """The file's FileCaps, or None when it has no security.capability xattr."""
    try:
        blob = os.getxattr(path, XATTR)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, getattr(errno, "ENOATTR", errno.ENODATA)):
            return None
        if exc.errno == errno.ENOTSUP:
            return None
        raise HostnetError("%s: cannot read %s: %s" % (path, XATTR, exc.strerror))
    return decode(blob, path)


def write(path, caps):
    try:
        os.setxattr(path, XATTR, encode(caps))
    except OSError as exc:
        if exc.errno == errno.ENOTSUP:
            raise HostnetError("%s: the filesystem does not support file capabilities (security.capability xattr);"
                               " use method: setuid or move the helper to a filesystem with xattrs" % path)
        raise HostnetError("%s: cannot set %s: %s (needs CAP_SETFCAP)" % (path, XATTR, exc.strerror))


def remove(path):
    try:
        os.removexattr(path, XATTR)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            return
        raise HostnetError("%s: cannot remove %s: %s" % (path, XATTR, exc.strerror))
