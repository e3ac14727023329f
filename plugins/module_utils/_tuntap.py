# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persistent TUN/TAP devices through /dev/net/tun ioctls.

The kernel does not create tun devices over rtnetlink, so this is the one other door:
TUNSETIFF (create or attach), TUNSETOWNER, TUNSETGROUP, TUNSETPERSIST.
Call these inside the target namespace: the device is created in the namespace of
the process that opened /dev/net/tun.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import struct

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

TUN_DEVICE = "/dev/net/tun"
TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
TUNSETOWNER = 0x400454CC
TUNSETGROUP = 0x400454CE

IFF_TUN = 0x0001
IFF_TAP = 0x0002
IFF_MULTI_QUEUE = 0x0100
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
IFF_TUN_EXCL = 0x8000

NO_ID = -1  # (uid_t)-1: no owner / no group


def _flags(mode, pi, vnet_hdr, multi_queue):
    flags = IFF_TAP if mode == "tap" else IFF_TUN
    if not pi:
        flags |= IFF_NO_PI
    if vnet_hdr:
        flags |= IFF_VNET_HDR
    if multi_queue:
        flags |= IFF_MULTI_QUEUE
    return flags


def _explain(name, action, exc):
    if exc.errno == errno.EBUSY:
        return HostnetError("%s '%s': %s failed: the device is in use by a running process (EBUSY); "
                            "stop the guest using it and run again" % ("tap", name, action))
    if exc.errno == errno.EPERM:
        return HostnetError("tap '%s': %s failed: operation not permitted; run as root (CAP_NET_ADMIN)" % (name, action))
    return HostnetError("tap '%s': %s failed: %s" % (name, action, exc.strerror or exc))


def configure(name, mode, pi, vnet_hdr, multi_queue, owner, group, create):
    """Create (create=True) or attach to a persistent device and set owner/group.

    owner/group None mean "no owner/group" (the kernel's -1). On an existing device
    the attach also re-applies pi/vnet_hdr, which the kernel allows in place.
    """
    flags = _flags(mode, pi, vnet_hdr, multi_queue)
    if create:
        flags |= IFF_TUN_EXCL
    try:
        fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise HostnetError("tap '%s': cannot open %s: %s; load the tun module (modprobe tun)"
                           % (name, TUN_DEVICE, exc.strerror))
    try:
        ifr = struct.pack("16sH22x", name.encode("utf-8"), flags)
        try:
            fcntl.ioctl(fd, TUNSETIFF, ifr)
        except OSError as exc:
            raise _explain(name, "TUNSETIFF", exc)
        for request, value, what in ((TUNSETOWNER, owner, "TUNSETOWNER"), (TUNSETGROUP, group, "TUNSETGROUP")):
            if create and value is None:
                continue  # a new device has no owner/group already
            try:
                fcntl.ioctl(fd, request, NO_ID if value is None else value)
            except OSError as exc:
                raise _explain(name, what, exc)
        if create:
            try:
                fcntl.ioctl(fd, TUNSETPERSIST, 1)
            except OSError as exc:
                raise _explain(name, "TUNSETPERSIST", exc)
    finally:
        os.close(fd)
