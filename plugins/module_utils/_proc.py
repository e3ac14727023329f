# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the collection runs a program (nft, systemctl, systemd-run, useradd, qemu-img, modprobe), and a
piece of its own code in a forked child (another user, another mount namespace).

No Ansible imports: the boot CLI uses it too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import subprocess

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def run(argv, what, hint=None, check=True, failed=None):
    """Run argv (text in and out, nothing on stdin); returns the CompletedProcess.

    A program that cannot be started is a HostnetError naming `what` and, when given, the `hint` to fix it
    (`install nftables`). With `check`, a non-zero exit is one too: "WHAT: PROGRAM ARGS failed: STDERR" or,
    when given, "WHAT: FAILED: STDERR"; the error carries rc, stdout and stderr for fail_json.
    """
    try:
        # AnsibleModule.run_command is not available here: the boot CLI runs this without Ansible
        proc = subprocess.run(  # pylint: disable=ansible-bad-function
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            universal_newlines=True, check=False)
    except OSError as exc:
        raise HostnetError("%s: cannot run %s: %s%s" % (what, argv[0], exc.strerror, "; " + hint if hint else ""))
    if check and proc.returncode != 0:
        message = (proc.stderr or proc.stdout).strip()
        head = failed or "%s failed" % " ".join(argv[:3])
        raise HostnetError("%s: %s: %s" % (what, head, message), rc=proc.returncode, stdout=proc.stdout,
                           stderr=proc.stderr)
    return proc


def in_child(work):
    """Run `work()` in a forked child (which may drop privileges or unshare without touching this process) and
    return {"ok": its JSON-able answer} or {"error": what went wrong}. The child never returns into the caller's
    code: it writes its answer to a pipe and ends with os._exit."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: whatever happens, it ends here
        code, data = 1, b'{"error": "the child stopped"}'
        try:
            os.close(rfd)
            try:
                data, code = json.dumps({"ok": work()}).encode("utf-8"), 0
            except Exception as exc:  # pylint: disable=broad-except  # reported to the parent, never raised here
                data = json.dumps({"error": str(exc) or exc.__class__.__name__}).encode("utf-8")
            os.write(wfd, data)
        finally:
            os._exit(code)  # pylint: disable=protected-access
    os.close(wfd)
    chunks = []
    while True:
        chunk = os.read(rfd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(rfd)
    _pid, status = os.waitpid(pid, 0)
    try:
        payload = json.loads(b"".join(chunks).decode("utf-8"))
    except ValueError:
        payload = {"error": "no answer (exit status %d)" % status}
    return payload if isinstance(payload, dict) and ("ok" in payload or "error" in payload) else {"error": "no answer"}
