# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's own files under the state directory (STATE_DIR/NAME/): the cloud-init seed and the UEFI variables.

- The seed is an ISO 9660 image labelled `cidata` (NoCloud) made by genisoimage (or xorriso's mkisofs), root's,
  readable by the guest's group (0640). It records the hash of its content as its application id, so the next
  run reads that back (the primary volume descriptor) and rebuilds the seed only when the content changed.
- The UEFI variable store is a copy of OVMF's template, made once, the guest's user's (0600): it survives
  restarts and runs, and goes only with remove_disks.
- The guest's directory is root's, group the guest user's primary group, 0750.
Files are written under a temporary name and renamed into place.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import shutil
import tempfile

from ansible_collections.hostnet.qemu.plugins.module_utils import _disks, _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

APP_PREFIX = "HOSTNET-SEED-"
_PVD = 16 * 2048            # the primary volume descriptor
_APP_ID = slice(574, 702)   # its application identifier field (128 bytes)
ISO_TOOLS = ("genisoimage", "xorrisofs", "mkisofs")


def recorded_hash(path):
    """The content hash a seed made here records (None: no seed there, or not one of ours)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(_PVD)
            block = handle.read(2048)
    except (IOError, OSError):
        return None
    if len(block) < 702 or block[0:6] != b"\x01CD001":
        return None
    app = block[_APP_ID].decode("ascii", "replace").strip()
    return app[len(APP_PREFIX):].lower() if app.startswith(APP_PREFIX) else None


def app_id(digest):
    return APP_PREFIX + digest[:32].upper()


def guest_dir(path, gid, what):
    """The guest's directory under the state directory (and the state directory itself, root's 0755)."""
    directory = os.path.dirname(path)
    _disks.make_parents(path, what)
    try:
        os.chown(directory, 0, gid, follow_symlinks=False)
        os.chmod(directory, 0o750)
    except OSError as exc:
        raise HostnetError("%s: cannot prepare directory %s: %s" % (what, directory, exc.strerror))


def user_dir(path, uid, gid, what):
    """A directory of the guest's own (its TPM's state): the guest user's, 0700."""
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise HostnetError("%s: cannot create directory %s: %s" % (what, path, exc.strerror))
    os.chown(path, uid, gid, follow_symlinks=False)
    os.chmod(path, 0o700)


def build(seed, gid, what, tool):
    """Write the seed ISO for `seed` ({'path', 'files', 'hash'}) with `tool` (genisoimage-compatible)."""
    path = seed["path"]
    guest_dir(path, gid, what)
    work = tempfile.mkdtemp(prefix=".seed-", dir=os.path.dirname(path))
    try:
        names = sorted(seed["files"])
        for name in names:
            with open(os.path.join(work, name), "w") as handle:
                handle.write(seed["files"][name])
        image = os.path.join(work, "seed.iso")
        _proc.run([tool, "-quiet", "-output", image, "-volid", "cidata", "-appid", app_id(seed["hash"]),
                   "-joliet", "-rock", "-input-charset", "utf-8"] + [os.path.join(work, n) for n in names],
                  what, hint="install genisoimage", failed="%s could not make the cloud-init seed %s" % (tool, path))
        os.chown(image, 0, gid)
        os.chmod(image, 0o640)
        os.rename(image, path)
    except OSError as exc:
        raise HostnetError("%s: cannot write the cloud-init seed %s: %s" % (what, path, exc.strerror))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def copy_vars(vars_path, template, uid, gid, what):
    """The guest's UEFI variable store, copied from OVMF's template when missing. True if made."""
    if _disks.exists(vars_path):
        return False
    guest_dir(vars_path, gid, what)
    tmp = "%s.hostnet-%d" % (vars_path, os.getpid())
    try:
        shutil.copyfile(template, tmp)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o600)
        os.rename(tmp, vars_path)
    except (IOError, OSError) as exc:
        raise HostnetError("%s: cannot make the UEFI variable store %s from %s: %s"
                           % (what, vars_path, template, getattr(exc, "strerror", exc)))
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return True


def remove_dir_if_empty(path):
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # not empty (a kept variable store) or already gone
