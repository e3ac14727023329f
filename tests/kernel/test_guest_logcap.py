# -*- coding: utf-8 -*-
"""The serial log cap of the guest launcher (cap-logs), on real files held open with O_APPEND as QEMU's
chardev file (append=on) holds them."""

import os
import stat
import subprocess
import sys

from conftest import ROOT

LAUNCHER = os.path.join(ROOT, "roles", "guest", "files", "hostnet-qemu-guest")


def cap(limit, base):
    return subprocess.run([sys.executable, LAUNCHER, "cap-logs", str(limit), str(base)], capture_output=True, text=True,
                          check=False)


def test_a_log_over_the_cap_is_rotated_and_the_writer_goes_on_in_the_same_file(tmp_path):
    log = tmp_path / "vm1" / "serial.log"
    log.parent.mkdir()
    fd = os.open(str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # as QEMU opens it
    try:
        os.write(fd, b"a" * 9000 + b"TAIL")
        os.chown(str(log), 65534, 65534)
        proc = cap(4096, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "vm1/serial.log: rotated (over 4096 bytes)" in proc.stdout
        old = log.parent / "serial.log.1"
        assert old.read_bytes() == (b"a" * 9000 + b"TAIL")[-4096:]
        st = os.lstat(str(old))
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600)
        assert os.path.getsize(str(log)) == 0
        os.write(fd, b"after")  # the same open file: now at the start, no hole
        assert log.read_bytes() == b"after"
    finally:
        os.close(fd)
    assert cap(4096, tmp_path).stdout == ""  # under the cap: untouched


def test_small_logs_and_symlinks_are_left_alone(tmp_path):
    (tmp_path / "vm1").mkdir()
    (tmp_path / "vm1" / "serial.log").write_bytes(b"x" * 100)
    (tmp_path / "vm2").mkdir()
    target = tmp_path / "elsewhere"
    target.write_bytes(b"y" * 10000)
    os.symlink(str(target), str(tmp_path / "vm2" / "serial.log"))
    proc = cap(4096, tmp_path)
    assert proc.returncode == 0 and proc.stdout == ""
    assert (tmp_path / "vm1" / "serial.log").read_bytes() == b"x" * 100
    assert target.read_bytes() == b"y" * 10000 and not (tmp_path / "vm2" / "serial.log.1").exists()
