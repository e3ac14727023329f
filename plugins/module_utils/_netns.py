# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Enter an existing network namespace in this process (setns), and come back.

pyroute2's netns proxy process was 4-5x slower here, and its setns() creates a
namespace on a typo; this never creates one. Sockets and /dev/net/tun files opened
while inside stay bound to the namespace after leaving it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes
import ctypes.util
import errno
import os

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

CLONE_NEWNET = 0x40000000
RUN_DIR = "/run/netns"

_LIBC = None


def _setns(fd):
    global _LIBC
    if hasattr(os, "setns"):  # Python >= 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    if _LIBC is None:
        _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if _LIBC.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def where(name):
    """How messages name a namespace: "namespace 'lab1'" or "the host namespace"."""
    return "namespace '%s'" % name if name else "the host namespace"


def path(name):
    """The bind-mount file of a named namespace; the name is validated, never created."""
    if not name or "/" in name or name in (".", ".."):
        raise HostnetError("netns '%s': not a valid namespace name (a file name under %s)" % (name, RUN_DIR))
    return os.path.join(RUN_DIR, name)


@contextlib.contextmanager
def entered(name):
    """Run the body inside network namespace `name` (None: stay where we are)."""
    if not name:
        yield
        return
    try:
        target = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise HostnetError(
                "netns '%s': network namespace does not exist (no %s); create it first, e.g. 'ip netns add %s'"
                % (name, path(name), name))
        raise HostnetError("netns '%s': cannot open %s: %s" % (name, path(name), exc.strerror))
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            _setns(target)
        except OSError as exc:
            raise HostnetError("netns '%s': cannot enter it (setns: %s); is %s a network namespace?"
                               % (name, exc.strerror, path(name)))
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)
