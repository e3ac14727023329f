# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host role's variables checked once, in Python: a nested spec (types, choices, unknown variables) through
module_utils/_argspec.py, then the rules against the host (group, users, include files, the helper).

The role calls this through the hostnet.qemu.host_settings filter with every hostnet_host_* variable and what
its preflight read from the host; it gets back the validated values (device_mode as an octal string).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _argspec, _guestspec, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._:~-]*\Z")
_MODULE = re.compile(r"[A-Za-z0-9_-]+\Z")
DEVICES = ["tun", "vhost-net", "kvm"]


def _pattern(regex, fix):
    def check(value, what):
        if not regex.match(value):
            raise HostnetError("%s: %r is not valid; %s" % (what, value, fix))
        return value
    return check


def _helper_path(value, what):
    return value if value == "" else _validate.abspath(value, what)


SPEC = dict(
    install_packages=dict(type="bool", default=True),
    packages=dict(type="list", elements="str", default=[],
                  check=_pattern(_PACKAGE, "give a package name such as qemu-utils")),
    apt_cache_valid_time=dict(type="int", default=3600),
    group=dict(type="str", default="qemusers",
               check=_pattern(_guestspec.POSIX_NAME, "use lower-case letters, digits, '_', '.' and '-', starting "
                                                     "with a letter or '_', at most 32 characters")),
    create_group=dict(type="bool", default=True),
    group_gid=dict(type="int", default=0),
    users=dict(type="list", elements="str", default=["qemu"], check=_guestspec.user_name),
    create_users=dict(type="bool", default=True),
    user_shell=dict(type="str", default="/usr/sbin/nologin", check=_validate.abspath),
    user_home=dict(type="str", default="/nonexistent", check=_validate.abspath),
    devices=dict(type="list", elements="str", default=["tun", "vhost-net", "kvm"], choices=DEVICES),
    device_mode=dict(type="raw", default="0660", check=lambda v, w: "%04o" % _validate.mode(v, w, maximum=0o777)),
    udev_rules_file=dict(type="str", default="/etc/udev/rules.d/60-hostnet-qemu.rules", check=_validate.abspath),
    tmpfiles_file=dict(type="str", default="/etc/tmpfiles.d/hostnet-qemu-devices.conf", check=_validate.abspath),
    kernel_modules=dict(type="list", elements="str", default=["tun", "vhost_net", "macvtap", "bridge"],
                        check=_pattern(_MODULE, "use kernel module names such as tun or vhost_net")),
    modules_load_file=dict(type="str", default="/etc/modules-load.d/hostnet-qemu.conf", check=_validate.abspath),
    ping_group_range=dict(type="bool", default=True),
    ping_group_range_policy=dict(type="str", default="extend", choices=["extend", "exact"]),
    bridge_helper=dict(type="bool", default=True),
    bridge_helper_path=dict(type="str", default="", check=_helper_path),
    bridge_helper_method=dict(type="str", default="setcap", choices=["setcap", "setuid"]),
    bridge_helper_allow=dict(type="list", elements="str", default=[], check=lambda v, w: v if v == "all" else
                             _validate.ifname(v, w)),
    bridge_helper_deny=dict(type="list", elements="str", default=[], check=lambda v, w: v if v == "all" else
                            _validate.ifname(v, w)),
    bridge_helper_include=dict(type="list", elements="str", default=[], check=_validate.abspath),
    bridge_helper_allow_all=dict(type="bool", default=False),
    bridge_helper_exclusive=dict(type="bool", default=False),
)
PREFIX = "hostnet_host_"


# variables of earlier releases whose meaning is gone: a message instead of "unknown variable"
REMOVED = {
    "macvtap_devices": "removed: a udev rule gave every /dev/tapN to the group, so each member could open every"
                       " guest's macvtap; each node now belongs to its guest's user only (hostnet.qemu.guest, the"
                       " netdevs device_owner). Drop the variable",
}


def fail(field, text):
    return HostnetError("host role: %s%s: %s" % (PREFIX, field, text))


def settings(variables, host):
    """`variables`: {hostnet_host_NAME: value} as the play sees them; `host`: what the preflight read
    (groups, users: getent maps; paths: existing paths; os_supported, helper_candidates, helper_from_package,
    hostname), or None to check the variables alone. Returns {NAME: validated value}; HostnetError names the
    variable and the fix."""
    given = dict((key[len(PREFIX):], value) for key, value in (variables or {}).items())
    for name, why in REMOVED.items():
        if name in given:
            raise fail(name, why)
    out = _argspec.validate(SPEC, given, "host role", prefix=PREFIX)
    if host is None:
        return out
    where = host.get("hostname", "this host")
    if out["install_packages"] and not host.get("os_supported", True):
        raise fail("install_packages", "the role has no package list for %s; it knows the Debian (Debian, Ubuntu) "
                   "and RedHat (Fedora, RHEL) families. Install QEMU, qemu-bridge-helper, pyroute2 and netaddr "
                   "yourself and set %sinstall_packages: false" % (host.get("distribution", "this system"), PREFIX))
    group = (host.get("groups") or {}).get(out["group"])
    if group is None and not out["create_group"]:
        raise fail("group", "group '%s' does not exist on %s; create it first or set %screate_group: true"
                   % (out["group"], where, PREFIX))
    if group is not None and out["group_gid"] and int(group[1]) != out["group_gid"]:
        raise fail("group_gid", "group '%s' already exists on %s with gid %s, not %d; the role never renumbers a "
                   "group (files would keep the old gid). Set %sgroup_gid to %s or 0"
                   % (out["group"], where, group[1], out["group_gid"], PREFIX, group[1]))
    missing = [user for user in out["users"] if user not in (host.get("users") or {})]
    if missing and not out["create_users"]:
        raise fail("users", "user(s) %s do not exist on %s; create them first or set %screate_users: true (system "
                   "users without a login shell)" % (", ".join(missing), where, PREFIX))
    if out["bridge_helper"]:
        _check_helper(out, host, where)
    return out


def _check_helper(out, host, where):
    if "all" in out["bridge_helper_allow"]:
        raise fail("bridge_helper_allow", "'all' is refused here because it lets the group attach guests to every "
                   "bridge; list the bridges, or set %sbridge_helper_allow_all: true to allow all in so many words"
                   % PREFIX)
    paths = host.get("paths") or []
    absent = [path for path in out["bridge_helper_include"] if path not in paths]
    if absent:
        raise fail("bridge_helper_include", "%s does not exist on %s; the helper silently ignores a missing include "
                   "(its deny lines would be lost). Create the file first or remove it from the list"
                   % (", ".join(absent), where))
    candidates = host.get("helper_candidates") or []
    if not [path for path in candidates if path in paths] and not host.get("helper_from_package"):
        raise fail("bridge_helper_path", "qemu-bridge-helper not found on %s (tried %s). Install %s (or set "
                   "%sinstall_packages: true), point %sbridge_helper_path at the binary, or set %sbridge_helper: "
                   "false" % (where, ", ".join(candidates) or "nothing", host.get("helper_package") or
                              "the QEMU package that ships it", PREFIX, PREFIX, PREFIX))
