# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the collection runs a program (nft, systemctl, systemd-run, useradd, qemu-img, modprobe).

No Ansible imports: the boot CLI uses it too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
