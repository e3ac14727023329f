# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small file helpers shared by modules that own a config file: read-or-None, remove-if-there, atomic write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import tempfile

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def read_text(path, what):
    """A file's text, or None if it does not exist."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise HostnetError("%s: cannot read %s: %s" % (what, path, exc.strerror))


def remove(path, what):
    """Remove a file; one that is already gone is fine."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise HostnetError("%s: cannot remove %s: %s" % (what, path, exc.strerror))


def write_atomic(path, text, what, mode=0o644, uid=None, gid=None):
    """Write text to path via a temporary file in the same directory and rename(2).

    Owner and mode are set on the temporary file before the rename, so the final path
    never exists with the wrong permissions. The directory is created (0755) if missing.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    except (IOError, OSError) as exc:
        raise HostnetError("%s: cannot create a file in %s: %s" % (what, directory, exc.strerror))
    try:
        try:
            os.write(fd, text.encode("utf-8"))
            if uid is not None or gid is not None:
                os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except (IOError, OSError) as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HostnetError("%s: cannot write %s: %s" % (what, path, exc.strerror))
