# -*- coding: utf-8 -*-
"""The host-wide lock (module_utils/_lock.py): concurrent writers against one host, with the real flock.

The session's lock file comes from conftest (HOSTNET_QEMU_LOCK), never the machine's /run/hostnet-qemu.lock.
"""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from conftest import COLLECTIONS, links
from ansible_collections.hostnet.qemu.plugins.module_utils import _lock
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

TAPS = 200


# the real netdevs module, imported first, then started by both processes at the same instant (a barrier file),
# so the two runs overlap: without the lock they collide (EBUSY "in use by a running process")
RACER = """
import json, os, sys, time
sys.path.insert(0, sys.argv[3])
from ansible_collections.hostnet.qemu.plugins.modules import netdevs
sys.argv = [sys.argv[0], sys.argv[1], sys.argv[2]]
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
sys.argv = sys.argv[:2]
netdevs.main()
"""


def test_two_concurrent_netdevs_runs_of_200_taps_both_succeed(tmp_path, netns):
    devices = [{"kind": "tap", "name": "hqlk%d" % i} for i in range(TAPS)]
    go = tmp_path / "go"
    procs = []
    for which, order in (("a", devices), ("b", devices[::-1])):
        args = tmp_path / ("args-%s.json" % which)
        args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"devices": order, "netns": netns}}))
        procs.append(subprocess.Popen([sys.executable, "-c", RACER, str(args), str(go), COLLECTIONS],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    time.sleep(1.5)  # both have imported the module and wait at the barrier
    go.write_text("")
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        result = json.loads(out)
        assert not result.get("failed"), result.get("msg")
        outcomes.append(result["changed"])
    # one created all of them; the other waited for the lock, planned from what the first left, found nothing to do
    assert sorted(outcomes) == [False, True]
    assert sum(1 for name in links(netns) if name.startswith("hqlk")) == TAPS


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, b"%d netdevs\\n" % os.getpid())
sys.stdout.write("held\\n"); sys.stdout.flush()
time.sleep(30)
"""


@pytest.fixture
def held(tmp_path):
    path = str(tmp_path / "lock")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    yield path, proc
    proc.kill()
    proc.wait()


def test_a_writer_that_cannot_get_the_lock_in_time_names_the_holder(held):
    path, proc = held
    start = time.time()
    with pytest.raises(HostnetError) as info:
        with _lock.host_lock("nft_networks", path=path, timeout=0.5):
            raise AssertionError("the lock was taken while another process held it")
    assert time.time() - start >= 0.5
    assert str(info.value) == ("nft_networks: another hostnet.qemu run (pid and task: %d netdevs) has held the host lock"
                               " %s for more than 0.5 s; nothing was changed: run again when it has finished"
                               % (proc.pid, path))


def test_a_waiting_writer_proceeds_when_the_holder_ends(held):
    path, proc = held
    threading.Timer(0.5, proc.kill).start()
    with _lock.host_lock("netdevs", path=path, timeout=10):
        assert open(path).read() == "%d netdevs\n" % os.getpid()


def test_the_lock_is_reentrant_within_a_process_and_released_after(tmp_path):
    path = str(tmp_path / "lock")
    with _lock.host_lock("uplink", path=path):
        with _lock.host_lock("netdevs", path=path, timeout=0):
            pass
        probe = subprocess.run([sys.executable, "-c", "import fcntl, os, sys\nfd = os.open(sys.argv[1], os.O_RDWR)\n"
                                "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", path], capture_output=True, text=True,
                               check=False)
        assert probe.returncode != 0 and "BlockingIOError" in probe.stderr  # still held after the inner exit
    with _lock.host_lock("again", path=path, timeout=0):
        pass
