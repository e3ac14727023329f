# -*- coding: utf-8 -*-
"""Guest disk images (module_utils/_disks.py) on the real filesystem, with the real qemu-img.

What is already at a disk's path is never touched (owner, mode, content, and a symlink's target); a new image
belongs to the guest's user with mode 0600; checked with os.lstat and `qemu-img info`, not the module's code.
"""

import json
import os
import stat
import subprocess

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _disks
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

NOBODY = 65534


def info(path):
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", "-U", path], capture_output=True,
                                     text=True, check=True).stdout)


def test_a_new_image_belongs_to_the_guest_user_and_new_directories_to_root(tmp_path):
    path = str(tmp_path / "a" / "b" / "vm1.qcow2")
    assert _disks.create({"path": path, "create": "new", "size": "16M"}, NOBODY, NOBODY, "guest 'vm1': disk")
    st = os.lstat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o600)
    assert info(path)["virtual-size"] == 16 * 1024 * 1024 and info(path)["format"] == "qcow2"
    for directory in (tmp_path / "a", tmp_path / "a" / "b"):
        dst = os.lstat(str(directory))
        assert (dst.st_uid, stat.S_IMODE(dst.st_mode)) == (0, 0o755)
    assert sorted(os.listdir(str(tmp_path / "a" / "b"))) == ["vm1.qcow2"]  # no temporary file left


def test_an_overlay_records_its_backing_image(tmp_path):
    base = str(tmp_path / "base.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "8M"], check=True)
    path = str(tmp_path / "vm1.qcow2")
    disk = {"path": path, "create": "overlay", "backing": base, "backing_format": "qcow2"}
    assert _disks.create(disk, NOBODY, NOBODY, "guest 'vm1': disk")
    assert info(path)["backing-filename"] == base


@pytest.mark.parametrize("kind", ["image", "symlink", "dangling symlink"])
def test_what_is_already_there_is_never_touched(tmp_path, kind):
    target = tmp_path / "precious.img"
    target.write_bytes(b"user data")
    os.chmod(str(target), 0o644)
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o711)
    os.chmod(str(directory), 0o711)
    path = directory / "vm1.qcow2"
    if kind == "image":
        path.write_bytes(b"user data")
        os.chmod(str(path), 0o640)
    elif kind == "symlink":
        os.symlink(str(target), str(path))
    else:
        os.symlink(str(tmp_path / "nowhere"), str(path))
    before = [os.lstat(str(p)) for p in (path, target, directory)]
    assert not _disks.create({"path": str(path), "create": "new", "size": "16M"}, NOBODY, NOBODY, "guest 'vm1': disk")
    after = [os.lstat(str(p)) for p in (path, target, directory)]
    for old, new in zip(before, after):
        assert (old.st_uid, old.st_gid, old.st_mode, old.st_size, old.st_mtime_ns) == \
            (new.st_uid, new.st_gid, new.st_mode, new.st_size, new.st_mtime_ns)
    assert target.read_bytes() == b"user data"
    assert not (tmp_path / "nowhere").exists()


def test_removing_a_symlinked_disk_removes_the_link_not_its_target(tmp_path):
    target = tmp_path / "precious.img"
    target.write_bytes(b"user data")
    link = tmp_path / "vm1.qcow2"
    os.symlink(str(target), str(link))
    assert _disks.remove(str(link), "guest 'vm1': disk")
    assert not os.path.lexists(str(link)) and target.read_bytes() == b"user data"
    assert not _disks.remove(str(link), "guest 'vm1': disk")


def test_a_directory_at_a_disk_path_is_refused_and_kept(tmp_path):
    (tmp_path / "vm1.qcow2").mkdir()
    with pytest.raises(HostnetError) as info_:
        _disks.remove(str(tmp_path / "vm1.qcow2"), "guest 'vm1': disk")
    assert str(info_.value) == ("guest 'vm1': disk: %s is a directory, not a disk image; remove it by hand or fix the"
                                " disk's path" % (tmp_path / "vm1.qcow2"))
    assert (tmp_path / "vm1.qcow2").is_dir()


def test_a_failing_qemu_img_leaves_nothing(tmp_path):
    path = str(tmp_path / "vm1.qcow2")
    with pytest.raises(HostnetError) as info_:
        _disks.create({"path": path, "create": "new", "size": "not-a-size"}, NOBODY, NOBODY, "guest 'vm1': disk")
    assert str(info_.value).startswith("guest 'vm1': disk: qemu-img create %s failed: " % path)
    assert os.listdir(str(tmp_path)) == []
