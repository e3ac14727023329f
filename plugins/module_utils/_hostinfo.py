# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a role's preflight needs to know about a host, read in one module call (hostnet.qemu.host_info).

Reads only. The user and group databases (through NSS, shaped like ansible.builtin.getent's facts), the network
interfaces, which paths exist, a bridge helper ACL with the files it includes, and - asked of the kernel as each
user, in a child process that drops to that user's uid, gid and groups - which devices and files each user may
open. Needs no Python library beyond the standard one (the host role runs it before it installs pyroute2).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import os
import pwd
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _files, _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

WHAT = "host_info"
NET = "/sys/class/net"
NOBODY = 65534
INCLUDE = re.compile(r"(?m)^\s*include\s+(\S+)")


def passwd():
    """{name: [password, uid, gid, gecos, home, shell]}, strings as getent gives them (the first entry of a name)."""
    out = {}
    for p in pwd.getpwall():
        out.setdefault(p.pw_name, [p.pw_passwd, str(p.pw_uid), str(p.pw_gid), p.pw_gecos, p.pw_dir, p.pw_shell])
    return out


def group():
    """{name: [password, gid, members]} with members comma-separated, as getent gives them."""
    out = {}
    for g in grp.getgrall():
        out.setdefault(g.gr_name, [g.gr_passwd, str(g.gr_gid), ",".join(g.gr_mem)])
    return out


def links(root=NET):
    try:
        return sorted(os.listdir(root))
    except OSError as exc:
        raise HostnetError("host_info: cannot list %s: %s" % (root, exc.strerror))


def acl(path):
    """{path, text, includes: {path: text}} of a bridge helper ACL; text None when the file does not exist,
    an included file that does not exist is left out (the helper skips it too)."""
    text = _files.read_text(path, WHAT)
    includes = {}
    for name in INCLUDE.findall(text or ""):
        found = _files.read_text(name, WHAT)
        if found is not None:
            includes[name] = found
    return {"path": path, "text": text, "includes": includes}


def _can(devices, paths):
    return {"devices": [d for d in devices if os.access(d, os.R_OK | os.W_OK)],
            "readable": [p for p in paths if os.access(p, os.R_OK)]}


def probe(uid, gid, groups, devices, paths):
    """What a process with this uid, gid and these supplementary groups may open: the kernel answers (access(2)
    after setgroups/setresgid/setresuid in a forked child, so the module itself keeps root)."""
    def ask():
        os.setgroups(groups)
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        return _can(devices, paths)

    answer = _proc.in_child(ask)
    if "error" in answer:
        raise HostnetError("host_info: the probe as uid %d gid %d failed (%s); is this module running as root?"
                           % (uid, gid, answer["error"]))
    return answer["ok"]


def gather(paths=(), users=(), stand_in_group=None, devices=(), acl_path=None):
    """The module's whole answer. Users that do not exist are left out of access (the caller sees them missing
    from passwd); the stand-in (nobody with only stand_in_group) answers for users that do not exist yet."""
    users_db, groups_db = passwd(), group()
    out = {"passwd": users_db, "group": groups_db, "links": links(),
           "exists": [p for p in paths if os.path.exists(p)], "access": {}, "stand_in": None, "acl": None}
    for name in users:
        if name in users_db and name not in out["access"]:
            uid, gid = int(users_db[name][1]), int(users_db[name][2])
            out["access"][name] = probe(uid, gid, os.getgrouplist(name, gid), devices, paths)
    if stand_in_group:
        if stand_in_group in groups_db:
            gid = int(groups_db[stand_in_group][1])
            out["stand_in"] = probe(NOBODY, NOBODY, [gid], devices, paths)
    if acl_path:
        out["acl"] = acl(acl_path)
    return out
