# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A running guest's QEMU through its QMP socket: what its CD-ROM holds, and changing that live.

Every guest the role renders has a CD-ROM drive (`-drive if=none,id=cdrom0` on device `cd0`), empty or not, so
media can come and go without a restart: `blockdev-change-medium` (forced: a guest that locked its tray gets the
new disc anyway) and `blockdev-open-tray` + `blockdev-remove-medium` + `blockdev-close-tray`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

CDROM_DEVICE = "cd0"


class QMPError(Exception):
    pass


def execute(path, commands, timeout=5.0):
    """Run [(command, arguments)] on the QMP socket at path; their answers. QMPError on any failure."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        stream = sock.makefile("rb")
        json.loads(stream.readline() or b"null")["QMP"]  # the greeting
        answers = []
        for command, arguments in [("qmp_capabilities", None)] + list(commands):
            request = {"execute": command}
            if arguments:
                request["arguments"] = arguments
            sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
            while True:  # events may come first
                reply = json.loads(stream.readline() or b"null")
                if reply is None:
                    raise QMPError("QEMU closed the connection")
                if "error" in reply:
                    raise QMPError("%s: %s" % (command, reply["error"].get("desc")))
                if "return" in reply:
                    answers.append(reply["return"])
                    break
        return answers[1:]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QMPError(str(exc))
    finally:
        sock.close()


def cdrom_media(path):
    """(True, file or None) for the CD-ROM's media; (False, None) when QMP does not tell (not running yet, no drive)."""
    try:
        blocks = execute(path, [("query-block", None)])[0]
    except QMPError:
        return False, None
    for block in blocks:
        if block.get("qdev") == CDROM_DEVICE or block.get("device") == "cdrom0":
            return True, (block.get("inserted") or {}).get("file")
    return False, None


def set_cdrom(path, media, what):
    """Insert `media` (a path) into the running guest's CD-ROM, or eject it (None)."""
    if media:
        commands = [("blockdev-change-medium", {"id": CDROM_DEVICE, "filename": media, "format": "raw",
                                                "force": True, "read-only-mode": "read-only"})]
    else:
        commands = [("blockdev-open-tray", {"id": CDROM_DEVICE, "force": True}),
                    ("blockdev-remove-medium", {"id": CDROM_DEVICE}),
                    ("blockdev-close-tray", {"id": CDROM_DEVICE})]
    try:
        execute(path, commands)
    except QMPError as exc:
        raise HostnetError("%s: cannot %s through QMP (%s): %s" % (
            what, "insert %s into its CD-ROM" % media if media else "eject its CD-ROM", path, exc))
