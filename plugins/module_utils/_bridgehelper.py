# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu-bridge-helper: find it, plan its privilege (file capability or setuid) and owner/mode, and its ACL file.

Order matters when applying: chown(2) clears both file capabilities and the setuid bit (measured: even a
chown to the same owner), so the order is chown -> chmod -> security.capability, then a read-back check.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat

from ansible_collections.hostnet.qemu.plugins.module_utils import _bridgeconf
from ansible_collections.hostnet.qemu.plugins.module_utils import _fcaps
from ansible_collections.hostnet.qemu.plugins.module_utils import _files
from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

WHAT = "bridge_helper"
CANDIDATES = (
    "/usr/lib/qemu/qemu-bridge-helper",       # Debian, Ubuntu
    "/usr/libexec/qemu-bridge-helper",        # Fedora, RHEL, Arch, openSUSE
    "/usr/lib/qemu-kvm/qemu-bridge-helper",
    "/usr/libexec/qemu-kvm/qemu-bridge-helper",
)
DEFAULT_CONFIG = "/etc/qemu/bridge.conf"
CAP_NET_ADMIN = 12
WANTED_CAPS = _fcaps.FileCaps(permitted=[CAP_NET_ADMIN], effective=True)
NO_CAPS = None


def locate(path=None, candidates=CANDIDATES):
    """The helper's path: the given one (must exist) or the first candidate that exists."""
    tried = [path] if path else list(candidates)
    for candidate in tried:
        if os.path.isfile(candidate):
            return candidate
    raise HostnetError("%s: qemu-bridge-helper not found (tried %s); install it (Debian/Ubuntu: qemu-system-common,"
                       " Fedora/RHEL: qemu-kvm or qemu-system-x86-core) or give its location in path"
                       % (WHAT, ", ".join(tried)))


def parse_mode(value, field="mode"):
    """Permission bits (0..0o777) of `mode` or `config_mode`: a YAML int is already the bits (0640 is 416), a
    string is octal ('0640'); special bits are the module's business (setuid comes from `method`)."""
    if value is None:
        return None
    return _validate.mode(value, "%s: %s" % (WHAT, field), maximum=0o777)


def _privilege_text(owner, group, mode, caps):
    return "owner=%d group=%d mode=%04o caps=%s\n" % (owner, group, mode, caps.text() if caps else "")


def plan_helper(path, state="present", method="setcap", group=None, mode=None):
    """Read the helper's stat and xattr once and compute the wanted owner/group/mode/caps."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise HostnetError("%s: cannot stat %s: %s" % (WHAT, path, exc.strerror))
    if not stat.S_ISREG(st.st_mode):
        raise HostnetError("%s: %s is not a regular file; give the path of the qemu-bridge-helper binary" % (WHAT, path))
    caps = _fcaps.read(path)
    group_id = _validate.gid(group, WHAT)
    perm = parse_mode(mode)
    if perm is None:
        perm = 0o750 if group_id is not None else st.st_mode & 0o777
    want_owner = 0
    want_group = st.st_gid if group_id is None else group_id
    want_mode = perm
    if state == "present" and method == "setuid":
        want_mode |= stat.S_ISUID
    want_caps = WANTED_CAPS if state == "present" and method == "setcap" else None
    who = _bridgeconf.writers(perm, want_group) if state == "present" else None
    if who:
        raise HostnetError("%s: %s would run privileged (%s) at mode %04o%s, which %s could"
                           " rewrite; give mode '0755' (or '0750' with a group)"
                           % (WHAT, path, method, perm, "" if mode is not None else " (its current mode; mode not given)",
                              who))

    cur_mode = st.st_mode & 0o7777
    chown = (st.st_uid, st.st_gid) != (want_owner, want_group)
    chmod = cur_mode != want_mode or (chown and want_mode & stat.S_ISUID)  # chown drops setuid: set it again
    setcaps = want_caps is not None and (caps != want_caps or chown)      # chown drops caps: write them again
    dropcaps = want_caps is None and caps is not None
    changed = chown or cur_mode != want_mode or caps != want_caps
    return {
        "path": path,
        "ops": {"chown": chown, "chmod": chmod, "setcaps": setcaps, "dropcaps": dropcaps},
        "want": {"uid": want_owner, "gid": want_group, "mode": want_mode, "caps": want_caps},
        "changed": changed,
        "caps_before": caps.names() if caps else [],
        "caps_after": want_caps.names() if want_caps else [],
        "fcaps_before": caps.as_dict() if caps else None,
        "mode_before": "%04o" % cur_mode,
        "mode_after": "%04o" % want_mode,
        "owner_before": [st.st_uid, st.st_gid],
        "owner_after": [want_owner, want_group],
        "diff": {"before_header": "%s (owner, mode, file capabilities)" % path,
                 "after_header": "%s (owner, mode, file capabilities)" % path,
                 "before": _privilege_text(st.st_uid, st.st_gid, cur_mode, caps),
                 "after": _privilege_text(want_owner, want_group, want_mode, want_caps)},
    }


def apply_helper(helper):
    path, ops, want = helper["path"], helper["ops"], helper["want"]
    try:
        if ops["chown"]:
            os.chown(path, want["uid"], want["gid"])
        if ops["chmod"] or ops["chown"]:
            os.chmod(path, want["mode"])
    except OSError as exc:
        raise HostnetError("%s: cannot change owner/mode of %s: %s" % (WHAT, path, exc.strerror))
    if ops["setcaps"]:
        _fcaps.write(path, want["caps"])
    elif ops["dropcaps"]:
        _fcaps.remove(path)
    st = os.stat(path)
    caps = _fcaps.read(path)
    if (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (want["uid"], want["gid"], want["mode"]) or caps != want["caps"]:
        got = _privilege_text(st.st_uid, st.st_gid, st.st_mode & 0o7777, caps).strip()
        wanted = _privilege_text(want["uid"], want["gid"], want["mode"], want["caps"]).strip()
        raise HostnetError("%s: %s reads back as %s after the change, wanted %s; is something (a package trigger,"
                           " a security tool) resetting it?" % (WHAT, path, got, wanted))


def plan_config(config, allow=None, deny=None, include=None, allow_all=False, exclusive=False, state="present",
                group=None, config_owner=None, config_group=None, config_mode=None):
    """Read the ACL file once and compute its new text and owner/mode."""
    allow, deny, include = _bridgeconf.validate(allow, deny, include, allow_all)
    warnings = []
    if state == "absent":
        body = []
    else:
        body = _bridgeconf.render_block(allow, deny, include, allow_all)
    group_id = _validate.gid(group, WHAT)
    if state == "present":
        warnings += _bridgeconf.include_problems(include, readable_by_group=group_id)
    if allow_all and state == "present":
        warnings.append("%s: allow_all writes 'allow all' to %s: every user who may run the helper can attach a tap to"
                        " every bridge, except those denied" % (WHAT, config))
    for name in _bridgeconf.missing_bridges(allow) if state == "present" else []:
        warnings.append("%s: allowed bridge '%s' does not exist (yet) in this network namespace; the helper fails"
                        " for it until it is created" % (WHAT, name))

    old = _files.read_text(config, WHAT)
    new = _bridgeconf.render(old, body, exclusive, config)
    if old is None and not new:
        new = None  # nothing to manage and no file: do not create an empty one
    uid = _validate.uid(config_owner if config_owner not in (None, "") else "0", WHAT + " config_owner")
    if config_group not in (None, ""):
        gid = _validate.gid(config_group, WHAT + " config_group")
    else:
        gid = group_id if group_id is not None else 0
    if config_mode is not None:
        mode = parse_mode(config_mode, "config_mode")
    else:
        mode = 0o640 if group_id is not None else 0o644
    who = _bridgeconf.writers(mode, gid) if state == "present" else None
    if who:
        raise HostnetError("%s: %s at mode %04o could be rewritten by %s, who could then allow themselves every bridge"
                           " through the privileged helper; give config_mode '0644' (or '0640' with a group)"
                           % (WHAT, config, mode, who))
    if not mode & 0o004 and not (mode & 0o040 and group_id is not None and gid == group_id):
        readers = "members of gid %d" % gid if mode & 0o040 else "uid %d" % uid
        warnings.append("%s: %s (mode %04o) is readable only by %s; the helper reads it as the calling user and"
                        " refuses everyone else ('failed to parse default acl file')" % (WHAT, config, mode, readers))

    meta_changed = False
    mode_before = owner_before = None
    if old is not None:
        st = os.stat(config)
        mode_before, owner_before = "%04o" % (st.st_mode & 0o7777), [st.st_uid, st.st_gid]
        meta_changed = (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (uid, gid, mode)
    text_changed = old != new and new is not None
    if new is not None:
        rules, problems = _bridgeconf.parse_rules(new.splitlines(), config)
        warnings += problems
        acl = _bridgeconf.effective_acl(rules, read_include=lambda p: _files.read_text(p, WHAT))
    else:
        acl = _bridgeconf.effective_acl([])
    if state == "present" and acl["all_bridges_allowed"] and not allow_all:
        raise HostnetError("%s: %s allows all bridges through a line the module does not manage ('allow all' outside "
                           "its block, or in an include): every user of the helper could attach a tap to every bridge. "
                           "Remove that line, set exclusive: true to own the whole file, or set allow_all: true if "
                           "that is what you mean" % (WHAT, config))
    for name in allow if state == "present" else []:
        if name in acl["deny"] or acl["deny_all"]:
            warnings.append("%s: bridge '%s' is allowed but also denied (a line outside the managed block or an"
                            " include); deny wins in the helper" % (WHAT, name))
    return {
        "path": config,
        "old": old,
        "new": new,
        "uid": uid,
        "gid": gid,
        "mode": mode,
        "text_changed": text_changed,
        "meta_changed": meta_changed,
        "changed": text_changed or meta_changed,
        "mode_before": mode_before,
        "owner_before": owner_before,
        "acl": acl,
        "warnings": warnings,
        "diff": {"before_header": config, "after_header": config, "before": old or "", "after": new or ""},
    }


def apply_config(cfg):
    if cfg["text_changed"]:
        _files.write_atomic(cfg["path"], cfg["new"], WHAT, mode=cfg["mode"], uid=cfg["uid"], gid=cfg["gid"])
    elif cfg["meta_changed"]:
        try:
            os.chown(cfg["path"], cfg["uid"], cfg["gid"])
            os.chmod(cfg["path"], cfg["mode"])
        except OSError as exc:
            raise HostnetError("%s: cannot change owner/mode of %s: %s" % (WHAT, cfg["path"], exc.strerror))


def run(params, check_mode):
    """The whole module: plan both parts, then apply unless check mode. Returns the result dict."""
    state = params.get("state") or "present"
    if state == "absent" and (params.get("allow") or params.get("deny") or params.get("include") or params.get("allow_all")):
        raise HostnetError("%s: state=absent removes the privilege and the managed block; do not combine it with"
                           " allow, deny, include or allow_all" % WHAT)
    path = locate(params.get("path"))
    helper = plan_helper(path, state, params.get("method") or "setcap", params.get("group"), params.get("mode"))
    cfg = plan_config(params.get("config") or DEFAULT_CONFIG, params.get("allow"), params.get("deny"),
                      params.get("include"), bool(params.get("allow_all")), bool(params.get("exclusive")), state,
                      params.get("group"), params.get("config_owner"), params.get("config_group"),
                      params.get("config_mode"))
    if not check_mode:
        # The ACL first: a freshly privileged helper never runs against a stale or missing ACL.
        if cfg["changed"]:
            apply_config(cfg)
        if helper["changed"]:
            apply_helper(helper)
    return {
        "changed": helper["changed"] or cfg["changed"],
        "helper": path,
        "method": params.get("method") or "setcap",
        "caps_before": helper["caps_before"],
        "caps_after": helper["caps_after"],
        "helper_mode_before": helper["mode_before"],
        "helper_mode_after": helper["mode_after"],
        "helper_owner_before": helper["owner_before"],
        "helper_owner_after": helper["owner_after"],
        "config": cfg["path"],
        "config_changed": cfg["changed"],
        "effective_acl": cfg["acl"],
        "warnings_list": cfg["warnings"],
        "diff": [helper["diff"], cfg["diff"]],
    }
