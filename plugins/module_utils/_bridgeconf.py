# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu-bridge-helper's ACL file (/etc/qemu/bridge.conf): parse, render our block, compute the effective ACL.

The helper (QEMU 7.2, checked with the real binary) reads the file as the *calling* user (with setcap it
never was root; setuid builds drop to the real uid first), line by line: leading whitespace and '#'
comments are skipped, then 'allow NAME|all', 'deny NAME|all' or 'include PATH'; any other line makes the
whole file fail to parse ("failed to parse default acl file"). A deny wins over an allow regardless of
order. An include that is missing or unreadable is silently ignored, so deny lines in it are lost.

This module owns only the lines between BEGIN and END markers; everything else is kept verbatim
unless exclusive is requested.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

BEGIN = "# BEGIN hostnet.qemu managed block (hostnet.qemu.bridge_helper): do not edit between these markers"
END = "# END hostnet.qemu managed block"
WHAT = "bridge_helper"
SYS_CLASS_NET = "/sys/class/net"


def _is_begin(line):
    return line.strip().startswith("# BEGIN hostnet.qemu managed block")


def _is_end(line):
    return line.strip().startswith(END)


def split(text, path="bridge.conf"):
    """Text -> (head_lines, block_lines or None, tail_lines). Lines keep no newline."""
    lines = text.splitlines() if text else []
    begins = [i for i, line in enumerate(lines) if _is_begin(line)]
    ends = [i for i, line in enumerate(lines) if _is_end(line)]
    if not begins and not ends:
        return lines, None, []
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise HostnetError("%s: %s has %d BEGIN and %d END hostnet.qemu markers (or END before BEGIN); fix or remove"
                           " them by hand so exactly one managed block remains" % (WHAT, path, len(begins), len(ends)))
    return lines[:begins[0]], lines[begins[0] + 1:ends[0]], lines[ends[0] + 1:]


def parse_rules(lines, path="bridge.conf"):
    """Helper-equivalent parse of lines -> (rules [(cmd, arg)], problems [str])."""
    rules, problems = [], []
    for number, raw in enumerate(lines, 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        cut = [i for i in (line.find(" "), line.find("\t")) if i >= 0]
        if not cut:
            problems.append("%s line %d: %r has no argument; the helper refuses the whole file" % (path, number, raw))
            continue
        cmd, arg = line[:min(cut)], line[min(cut) + 1:].strip()
        if cmd not in ("allow", "deny", "include"):
            problems.append("%s line %d: unknown command '%s'; the helper refuses the whole file" % (path, number, cmd))
            continue
        rules.append((cmd, arg))
    return rules, problems


def effective_acl(rules, read_include=None, seen=None):
    """What the helper will decide: deny wins, 'all' handled, includes followed (loops cut)."""
    allow, deny = set(), set()
    allow_all = deny_all = False
    seen = set() if seen is None else seen
    for cmd, arg in rules:
        if cmd == "include":
            if read_include is None or arg in seen:
                continue
            seen.add(arg)
            text = read_include(arg)
            if text is None:
                continue
            sub = effective_acl(parse_rules(text.splitlines(), arg)[0], read_include, seen)
            allow.update(sub["allow"])
            deny.update(sub["deny"])
            allow_all = allow_all or sub["allow_all"]
            deny_all = deny_all or sub["deny_all"]
        elif arg == "all":
            if cmd == "allow":
                allow_all = True
            else:
                deny_all = True
        elif cmd == "allow":
            allow.add(arg)
        else:
            deny.add(arg)
    allowed = [] if deny_all else sorted(allow - deny)
    return {"allow": sorted(allow), "deny": sorted(deny), "allow_all": allow_all, "deny_all": deny_all,
            "allowed_bridges": allowed, "all_bridges_allowed": allow_all and not deny_all}


def validate(allow, deny, include, allow_all):
    """Validate and normalise the wanted lists -> (allow, deny, include) sorted and unique."""
    allow = list(allow or [])
    deny = list(deny or [])
    include = list(include or [])
    if "all" in allow:
        raise HostnetError("%s: 'all' in allow would let every user of the helper attach to every bridge;"
                           " set allow_all: true to mean that, or list the bridges by name" % WHAT)
    for name in allow:
        _validate.ifname(name, "%s: allowed bridge" % WHAT)
    for name in deny:
        if name != "all":
            _validate.ifname(name, "%s: denied bridge" % WHAT)
    for path in include:
        if not isinstance(path, str) or not path.startswith("/"):
            raise HostnetError("%s: include '%s' is not an absolute path; the helper resolves includes from its"
                               " caller's working directory, give an absolute path" % (WHAT, path))
        if path != path.strip() or "\n" in path or "\r" in path:
            raise HostnetError("%s: include %r has leading/trailing whitespace or a newline, which the helper would"
                               " strip or split; rename the file" % (WHAT, path))
    return sorted(set(allow)), sorted(set(deny)), sorted(set(include))


def render_block(allow, deny, include, allow_all):
    """Our block's lines (without markers); empty list when there is nothing to manage."""
    body = ["include %s" % p for p in include]
    if allow_all:
        body.append("allow all")
    body += ["allow %s" % n for n in allow]
    body += ["deny %s" % n for n in deny]
    return body


def render(current_text, body, exclusive, path="bridge.conf"):
    """The new file text: our block replaced/appended/removed; foreign lines kept unless exclusive."""
    if exclusive:
        head, tail = [], []
    else:
        parts = split(current_text or "", path)
        head, tail = parts[0], parts[2]
    lines = list(head)
    if body:
        lines += [BEGIN] + body + [END]
    lines += tail
    return "\n".join(lines) + "\n" if lines else ""


def writers(mode, gid):
    """Who besides the owner may write a file of `mode` and group `gid`: 'others', 'the members of gid N', or
    None. Group root's members (gid 0) are the host's admins and do not count."""
    if mode & 0o002:
        return "others"
    if mode & 0o020 and gid != 0:
        return "the members of gid %d" % gid
    return None


def include_problems(include, readable_by_group=None):
    """Missing includes are errors (the helper ignores them silently, losing their deny lines), and so are
    includes that users may rewrite (the privileged helper obeys their allow lines).

    Returns warnings for includes the helper's callers may not be able to read.
    """
    warnings = []
    for path in include:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise HostnetError("%s: include file '%s' does not exist (%s); qemu-bridge-helper silently ignores missing"
                               " includes, so its rules would be lost; create the file first or drop it from include"
                               % (WHAT, path, exc.strerror))
        who = writers(st.st_mode, st.st_gid)
        if who:
            raise HostnetError("%s: include file '%s' (mode %04o) can be rewritten by %s, who could allow themselves"
                               " every bridge through the privileged helper; chmod go-w '%s' (or drop it from"
                               " include)" % (WHAT, path, st.st_mode & 0o7777, who, path))
        group_ok = readable_by_group is not None and st.st_gid == readable_by_group and st.st_mode & 0o040
        if not st.st_mode & 0o004 and not group_ok:
            warnings.append("%s: include file '%s' is not readable by other users (mode %04o); the helper reads it as"
                            " the calling user and silently ignores it when it cannot" % (WHAT, path, st.st_mode & 0o7777))
    return warnings


def missing_bridges(names, sys_class_net=SYS_CLASS_NET):
    """Allowed names that are not (yet) bridges in this network namespace."""
    return [n for n in names if not os.path.isdir(os.path.join(sys_class_net, n, "bridge"))]
