# -*- coding: utf-8 -*-
"""_systemd._running_env: the running configuration is read from the main process only once it has exec'd.

systemd forks a unit's main process, names it "(NAME)" and execs the command a moment later; in between, the
process carries systemd's environment. A real process here plays that child: it names itself "(dnsmasq)", waits,
then execs with the unit's environment."""

import subprocess
import sys
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _systemd

CHILD = r"""
import os, sys, time
with open("/proc/self/comm", "w") as handle:
    handle.write("(dnsmasq)")
print("forked", flush=True)
time.sleep(0.4)
os.execve(sys.executable, [sys.executable, "-c", "import time; time.sleep(10)"], {"HOSTNET_QEMU_CONFIG": "abc123"})
"""


def test_the_environment_is_read_after_the_exec():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin", "SYSTEMD_LIKE": "1"})
    try:
        assert proc.stdout.readline().strip() == "forked"
        started = time.monotonic()
        found = _systemd._running_env({"MainPID": str(proc.pid)})
        assert found == {_systemd.CONFIG_KEY: "abc123"}
        assert time.monotonic() - started < 2
    finally:
        proc.kill()
        proc.wait()


def test_before_the_exec_the_environment_is_not_the_units():
    """The control: read at once, the forked child shows its parent's environment."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    try:
        proc.stdout.readline()
        with open("/proc/%d/environ" % proc.pid, "rb") as handle:
            assert b"HOSTNET_QEMU_CONFIG" not in handle.read()
    finally:
        proc.kill()
        proc.wait()
