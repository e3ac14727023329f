# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-wide lock that serialises the collection's writers.

Every writer of host state (the device engine: netdevs and the single-device modules, the guest role's devices
and the boot unit; the uplink jobs; nft_networks) plans and applies while holding an exclusive flock() on
LOCK_PATH. Two runs against one host then never interleave: the second waits, plans from what the first left,
and finds nothing to do for what they share. A lock dies with its process, so it is never stale.

The holder writes "PID WHAT" into the file, so a run that gives up after `timeout` seconds says who holds it.
The lock is re-entrant within a process (a writer that calls another writer does not wait for itself).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import errno
import fcntl
import os
import time

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

LOCK_PATH = "/run/hostnet-qemu.lock"
TIMEOUT = 600  # seconds; a converge of hundreds of devices takes seconds, a guest role run minutes at most
_held = {}  # path -> [fd, depth] of this process


def _holder(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def host_lock(what, path=None, timeout=None):
    """Hold the host-wide lock for `what` (a module or job name) around a plan and its apply."""
    path = path or os.environ.get("HOSTNET_QEMU_LOCK") or LOCK_PATH
    timeout = TIMEOUT if timeout is None else timeout
    if path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise HostnetError("%s: cannot open the host lock %s: %s; run as root" % (what, path, exc.strerror))
    try:
        deadline = time.time() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise HostnetError("%s: cannot take the host lock %s: %s" % (what, path, exc.strerror))
                if time.time() >= deadline:
                    raise HostnetError("%s: another hostnet.qemu run (pid and task: %s) has held the host lock %s for"
                                       " more than %g s; nothing was changed: run again when it has finished"
                                       % (what, _holder(fd), path, timeout))
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, ("%d %s\n" % (os.getpid(), what)).encode("utf-8"))
        _held[path] = [fd, 1]
        try:
            yield
        finally:
            del _held[path]
    finally:
        os.close(fd)  # releases the flock
