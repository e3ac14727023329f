# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One escaping function per output format. Every value the collection writes into one of these formats goes
through its function here, so no value can end a line, add a key or start a new command.

- systemd unit files: `exec_arg` (one word of an Exec*= line), `unit_value` (the value of a plain setting),
  `unit_path` (a path in a setting such as ReadWritePaths=);
- QEMU option strings: `qemu_opts` (`kind,key=value,...`, every value with ',' doubled);
- dnsmasq configuration: `dnsmasq_value` (refuses what dnsmasq would read as another field or a comment).

nftables is written as nftables JSON (_nftrules): json.dumps is its escaper, and every interface name in it is
also whitelisted (_validate.ifname).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

_BARE_WORD = re.compile(r"[A-Za-z0-9_@+=:,./-]+\Z")
_QEMU_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*\Z")
_DNSMASQ_SAFE = re.compile(r"[A-Za-z0-9._:-]+\Z")


def exec_arg(arg):
    """One argument of an Exec*= line: specifiers ('%') and variables ('$') neutralised, quoted when it is not
    a plain word. Control characters are written as C escapes inside the quotes, so the line never ends."""
    text = str(arg).replace("%", "%%").replace("$", "$$")
    if _BARE_WORD.match(text):
        return text
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = _validate.CONTROL.sub(lambda m: "\\x%02x" % ord(m.group(0)), text)
    return '"%s"' % text


def unit_value(value, what="a systemd unit"):
    """The value of a plain unit setting (Description=, User=, ...): specifiers neutralised; a control
    character is refused (it would end the line and start a setting of its own)."""
    return _validate.no_control(str(value), what).replace("%", "%%")


def unit_path(path, what="a systemd unit"):
    """A path in a path-list setting (ReadWritePaths=, ...): specifiers neutralised, quoted when it holds a
    space; quotes and backslashes have no safe spelling there and are refused."""
    text = unit_value(path, what)
    if re.search(r"[\"'\\]", text):
        raise HostnetError("%s: path %r contains a quote or a backslash; rename the file" % (what, path))
    return '"%s"' % text if re.search(r"\s", text) else text


def qemu_value(value):
    """One QEMU option value: commas doubled (QEMU's escape), so a value never ends early or adds a key."""
    return _validate.no_control(str(value), "a QEMU option").replace(",", ",,")


def qemu_opts(head, *pairs):
    """`head,key=value,...` for -drive, -netdev, -device, -chardev ...; pairs whose value is None are left out.
    Keys are the collection's own (checked), values are escaped with qemu_value()."""
    parts = [qemu_value(head)] if head else []
    for key, value in pairs:
        if value is None:
            continue
        if not _QEMU_KEY.match(key):
            raise HostnetError("QEMU option key %r is not valid" % (key,))
        parts.append("%s=%s" % (key, qemu_value(value)))
    return ",".join(parts)


def dnsmasq_value(value, what="dnsmasq configuration"):
    """A value of a dnsmasq option line. dnsmasq has no quoting for most options (a ',' starts another field,
    '#' a comment), so only the characters of names, addresses and MACs are let through; the rest is refused."""
    text = str(value)
    if not _DNSMASQ_SAFE.match(text):
        raise HostnetError("%s: %r cannot be written into a dnsmasq configuration; use letters, digits, '.', '-', "
                           "'_' and ':' only" % (what, value))
    return text
