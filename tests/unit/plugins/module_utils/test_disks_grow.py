# -*- coding: utf-8 -*-
"""Existing disks (module_utils/_guestset._existing_disk and _disks): grown to a larger size, never shrunk or
rebased. Real images made and read back with the real qemu-img."""

import json
import subprocess

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _disks, _guestset
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

GUEST = {"name": "vm1", "qmp": "/nonexistent/qmp.sock"}


def image(path, size, backing=None):
    args = ["qemu-img", "create", "-q", "-f", "qcow2"] + (["-b", backing, "-F", "qcow2"] if backing else []) + [str(path)]
    subprocess.run(args + ([size] if size else []), check=True)
    return str(path)


def virtual_size(path):
    return json.loads(subprocess.run(["qemu-img", "info", "--output=json", path], check=True, capture_output=True,
                                     text=True).stdout)["virtual-size"]


def plan(disk, running=False):
    steps, actions = {"resize": []}, []
    _guestset._existing_disk(GUEST, 0, disk, running, steps, actions)
    return steps["resize"], actions


@pytest.mark.parametrize("size, want", [("10G", 10 << 30), ("512M", 512 << 20), ("4096K", 4 << 20), ("1048576", 1 << 20)])
def test_size_bytes(size, want):
    assert _disks.size_bytes(size) == want
    assert _disks.human(want) in (size, "1M", "4M")


def test_grow_offline_then_nothing(tmp_path):
    path = image(tmp_path / "d.qcow2", "64M")
    steps, actions = plan({"path": path, "size": "128M"})
    assert actions == ["grow disk %s from 64M to 128M" % path]
    assert steps == [(GUEST, 0, path, 128 << 20, False)]
    _guestset.apply_after_devices({"steps": dict(_empty(), resize=steps)})
    assert virtual_size(path) == 128 << 20
    assert plan({"path": path, "size": "128M"}) == ([], [])


def test_grow_live_is_planned_through_qmp(tmp_path):
    path = image(tmp_path / "d.qcow2", "64M")
    assert plan({"path": path, "size": "1G"}, running=True)[1] == [
        "grow disk %s from 64M to 1G (live, QMP block_resize)" % path]


def test_shrink_and_rebase_are_refused(tmp_path):
    base = image(tmp_path / "base.qcow2", "64M")
    other = image(tmp_path / "other.qcow2", "64M")
    path = image(tmp_path / "d.qcow2", None, backing=base)
    with pytest.raises(HostnetError) as err:
        plan({"path": path, "size": "32M", "backing": base})
    assert str(err.value) == ("guest 'vm1': disks[0].size: 32M is smaller than %s's 64M; a disk is never shrunk: give at"
                              " least 64M" % path)
    with pytest.raises(HostnetError) as err:
        plan({"path": path, "backing": other})
    assert str(err.value) == ("guest 'vm1': disks[0].backing: %s is an overlay on %s, not an overlay on %s; a disk is never"
                              " rebased: remove it (state absent with remove_disks) to have it made anew, or give the"
                              " backing it has" % (path, base, other))
    with pytest.raises(HostnetError) as err:
        plan({"path": base, "backing": other})
    assert "%s is no overlay, not an overlay on %s" % (base, other) in str(err.value)
    assert virtual_size(path) == 64 << 20  # untouched
    assert plan({"path": path, "backing": base, "size": "64M"}) == ([], [])


def test_devices_and_dangling_links_are_not_sized(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert plan({"path": str(tmp_path / "dangling"), "size": "1G"}) == ([], [])
    assert plan({"path": "/dev/null", "size": "1G"}) == ([], [])


def _empty():
    return {"devices_file": None, "remove_disks": [], "remove_files": [], "create_disks": [], "resize": [],
            "write_seeds": [], "copy_vars": [], "write_units": [], "tpm_dirs": [], "remove_tpm_state": []}


def test_an_overlay_larger_than_its_base(tmp_path):
    import os
    base = image(tmp_path / "base.qcow2", "64M")
    path = str(tmp_path / "o.qcow2")
    disk = {"path": path, "create": "overlay", "backing": base, "backing_format": "qcow2", "size": "256M"}
    assert _disks.create(disk, os.getuid(), os.getgid(), "guest 'vm1': disk") is True
    assert virtual_size(path) == 256 << 20
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", path], check=True, capture_output=True,
                                     text=True).stdout)
    assert info["backing-filename"] == base
