# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Guest disk images: created when missing, grown when asked, never otherwise touched when present.

- Anything already at a disk's path (an image, a symlink, a device, a directory) is left exactly as it is:
  no owner, mode or content change, and a symlink is never followed.
- A new image is made under a temporary name in the same directory, given to the guest's user (0600), and
  linked into place with link(2), which fails rather than replace a file that appeared meanwhile.
- Missing parent directories are created (root, 0755); an existing directory's owner and mode are kept.
- An existing image is grown to a larger `size` (qemu-img resize, or QMP block_resize by its running guest); a
  smaller size, or another backing image than the one it has, is refused: nothing shrinks or rebases a disk.
- Removing a disk removes that path only: a symlink is removed, not its target; a directory is refused.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import stat

from ansible_collections.hostnet.qemu.plugins.module_utils import _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def exists(path):
    """Whether anything is at path (a dangling symlink counts: it is not ours to replace)."""
    return os.path.lexists(path)


def missing_dirs(path):
    """The parent directories of path that do not exist, outermost first."""
    out, parent = [], os.path.dirname(path)
    while parent and parent != "/" and not os.path.lexists(parent):
        out.insert(0, parent)
        parent = os.path.dirname(parent)
    return out


def make_parents(path, what):
    """Create the missing parent directories of path (root's, 0755); one that appears meanwhile is fine."""
    for directory in missing_dirs(path):
        try:
            os.mkdir(directory, 0o755)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise HostnetError("%s: cannot create directory %s: %s" % (what, directory, exc.strerror))


def qemu_img_args(disk, path):
    args = ["qemu-img", "create", "-q", "-f", "qcow2"]
    if disk["create"] == "overlay":
        args += ["-b", disk["backing"], "-F", disk["backing_format"]]
    args.append(path)
    if disk.get("size"):  # a new image's size; an overlay's, when it is to be larger than its base
        args.append(str(disk["size"]))
    return args


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def size_bytes(size):
    """'10G' (qemu-img's binary units, as the guest schema allows them) -> bytes."""
    text = str(size)
    unit = text[-1] if text[-1:] in _UNITS and not text[-1:].isdigit() else ""
    return int(text[:-1] if unit else text) * _UNITS[unit]


def human(size):
    for unit in ("T", "G", "M", "K"):
        if size % _UNITS[unit] == 0 and size >= _UNITS[unit]:
            return "%d%s" % (size // _UNITS[unit], unit)
    return str(size)


def info(path, what, qemu_img="qemu-img"):
    """qemu-img info of an existing image (-U: it may be in use by its running guest): virtual size, format, backing."""
    proc = _proc.run([qemu_img, "info", "-U", "--output=json", path], what, hint="install qemu-utils", check=False)
    if proc.returncode != 0:
        raise HostnetError("%s: qemu-img info %s failed: %s" % (what, path, proc.stderr.strip()),
                           rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)
    data = json.loads(proc.stdout)
    return {"virtual_size": int(data["virtual-size"]), "format": data.get("format"),
            "backing": data.get("full-backing-filename") or data.get("backing-filename")}


def resize(path, size, what, qemu_img="qemu-img"):
    """Grow an image that no QEMU holds (qemu-img resize; never --shrink)."""
    proc = _proc.run([qemu_img, "resize", "-q", path, str(size)], what, hint="install qemu-utils", check=False)
    if proc.returncode != 0:
        raise HostnetError("%s: qemu-img resize %s failed: %s" % (what, path, proc.stderr.strip()),
                           rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


def create(disk, uid, gid, what, qemu_img="qemu-img"):
    """Create disk['path'] (new image or overlay) for uid:gid, unless something is there. True if created."""
    path = disk["path"]
    if exists(path):
        return False
    make_parents(path, what)
    tmp = os.path.join(os.path.dirname(path), ".%s.hostnet-%d" % (os.path.basename(path), os.getpid()))
    args = qemu_img_args(disk, tmp)
    args[0] = qemu_img
    try:
        proc = _proc.run(args, what, hint="install qemu-utils", check=False)
        if proc.returncode != 0:
            raise HostnetError("%s: qemu-img create %s failed: %s" % (what, path, proc.stderr.strip().replace(tmp, path)),
                               rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)
        st = os.lstat(tmp)
        if not stat.S_ISREG(st.st_mode):
            raise HostnetError("%s: %s is not a regular file after qemu-img create" % (what, tmp))
        os.chown(tmp, uid, gid, follow_symlinks=False)
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False  # something appeared at path meanwhile: it stays, ours is dropped
            raise HostnetError("%s: cannot create %s: %s" % (what, path, exc.strerror))
        return True
    except OSError as exc:
        raise HostnetError("%s: cannot prepare %s: %s" % (what, path, exc.strerror))
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def remove(path, what):
    """Remove what is at path (never what a symlink points to). True if something was removed."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise HostnetError("%s: cannot look at %s: %s" % (what, path, exc.strerror))
    if stat.S_ISDIR(st.st_mode):
        raise HostnetError("%s: %s is a directory, not a disk image; remove it by hand or fix the disk's path"
                           % (what, path))
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise HostnetError("%s: cannot remove %s: %s" % (what, path, exc.strerror))
    return True
