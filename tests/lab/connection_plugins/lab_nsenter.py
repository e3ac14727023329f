# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A connection for the test lab only: run in a local rootful podman container by entering its namespaces."""

from __future__ import annotations

DOCUMENTATION = r"""
name: lab_nsenter
short_description: Run in a local rootful podman lab container through nsenter, with pipelining
description:
  - Test-lab plumbing for the molecule scenarios, not part of the collection.
  - Enters the namespaces (mount, UTS, IPC, network, PID, cgroup) of the container's init with C(nsenter) and runs
    the command there with a clean environment. One C(nsenter) per task instead of several C(podman exec) calls, and
    modules are pipelined over stdin, so no temporary files are copied in.
  - The init's PID is asked from C(podman inspect) once and kept in a small cache that is checked against the
    process's start time, so a restarted container (a new init) is found again.
author: hostnet.qemu maintainers
options:
  remote_addr:
    description: The container's name or ID.
    default: inventory_hostname
    type: str
    vars:
      - name: inventory_hostname
      - name: ansible_host
"""

import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleError
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()

# What `podman exec` would give a root shell in the lab image; nothing of the controller's environment leaks in.
ENVIRONMENT = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
               "USER=root", "LOGNAME=root", "SHELL=/bin/sh"]
CACHE = os.path.join(os.path.expanduser("~"), ".ansible", "tmp", "lab_nsenter")


def _start_time(pid):
    """The process's start time in clock ticks (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return None


class Connection(ConnectionBase):
    """Enter a lab container's namespaces with nsenter."""

    transport = "lab_nsenter"
    has_pipelining = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pid = None

    def is_pipelining_enabled(self, wrap_async=False):
        # always pipelined, except the async wrapper (it needs its files)
        return not wrap_async

    def _container(self):
        return self.get_option("remote_addr")

    def _cached_pid(self, path):
        try:
            with open(path, encoding="ascii") as cache:
                pid, start = cache.read().split()
            pid = int(pid)
        except (OSError, ValueError):
            return None
        return pid if _start_time(pid) == start else None

    def _connect(self):
        if self._connected:
            return self
        name = self._container()
        path = os.path.join(CACHE, name.replace("/", "_"))
        pid = self._cached_pid(path)
        if pid is None:
            proc = subprocess.run(["podman", "container", "inspect", "--format", "{{.State.Pid}}", name],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0 or not proc.stdout.strip().isdigit() or int(proc.stdout) == 0:
                raise AnsibleConnectionFailure("lab container '%s' is not running: %s"
                                               % (name, (proc.stderr or proc.stdout).strip()))
            pid = int(proc.stdout)
            start = _start_time(pid)
            if start is not None:
                os.makedirs(CACHE, exist_ok=True)
                with open(path + ".new", "w", encoding="ascii") as cache:
                    cache.write("%d %s\n" % (pid, start))
                os.replace(path + ".new", path)
        display.vvv("NSENTER INTO %s (init pid %d)" % (name, pid), host=name)
        self._pid = pid
        self._connected = True
        return self

    def _run(self, cmd, in_data):
        argv = ["nsenter", "--target", str(self._pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup",
                "--", "/usr/bin/env", "-i"] + ENVIRONMENT + ["/bin/sh", "-c", cmd]
        if in_data is None:
            return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False)
        return subprocess.run(argv, input=in_data, capture_output=True, check=False)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        self._connect()
        display.vvv("EXEC %s" % cmd, host=self._container())
        proc = self._run(cmd, in_data)
        if proc.returncode == 1 and proc.stderr.startswith(b"nsenter:"):
            # the cached init may have been an earlier container of that name, going away: look it up once more
            try:
                os.unlink(os.path.join(CACHE, self._container().replace("/", "_")))
            except OSError:
                pass
            self.close()
            self._connect()
            proc = self._run(cmd, in_data)
        if proc.returncode == 1 and proc.stderr.startswith(b"nsenter:"):
            # nsenter itself failed (the container stopped under us): unreachable, not a task failure
            raise AnsibleConnectionFailure("lab container '%s': %s"
                                           % (self._container(), proc.stderr.decode(errors="replace").strip()))
        return proc.returncode, proc.stdout, proc.stderr

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        with open(in_path, "rb") as source:
            data = source.read()
        rc, _out, err = self.exec_command("cat > %s" % shlex.quote(out_path), in_data=data)
        if rc != 0:
            raise AnsibleError("lab container '%s': cannot write %s: %s"
                               % (self._container(), out_path, err.decode(errors="replace").strip()))

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        rc, out, err = self.exec_command("cat %s" % shlex.quote(in_path))
        if rc != 0:
            raise AnsibleError("lab container '%s': cannot read %s: %s"
                               % (self._container(), in_path, err.decode(errors="replace").strip()))
        with open(out_path, "wb") as target:
            target.write(out)

    def reset(self):
        # wait_for_connection resets: forget the init's PID, the next command looks it up again
        self.close()

    def close(self):
        self._connected = False
        self._pid = None
