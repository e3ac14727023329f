# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network role's saved state: the nftables ruleset (nftables JSON), the device set (JSON), loading the table.

Plan (read files and the live tables once), then apply unless check mode. Only the collection's own
table, `inet TABLE` and `bridge TABLE` (guest ports), is ever listed, loaded or deleted.

- A new ruleset is checked with `nft -j -c` before it replaces the saved one: a ruleset nft refuses is never saved
  (the next run would otherwise find it "unchanged" while the old rules stay live).
- After every load the live tables' stateless listing (`nft -s list table`, no counters) is fingerprinted in
  RULESET.live; a live table that no longer matches (a hand edit, a flushed chain) is reported as a change and
  loaded again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _files, _forwarding, _nftnet, _nftrules, _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._lock import host_lock

WHAT = "nft_networks"


def _nft(args, nft="nft"):
    proc = _proc.run([nft] + list(args), WHAT, hint="install nftables", check=False)
    return proc.returncode, proc.stdout, proc.stderr


FAMILIES = ("inet", "bridge")  # the collection's table in each (_nftrules): routed traffic, guest ports


def _listing(family, table, nft):
    rc, out, _err = _nft(["-s", "list", "table", family, table], nft)
    return out if rc == 0 else None


def listing(table, nft="nft"):
    """The live tables' stateless listing (no counter values), or None when neither family has the table."""
    parts = [p for p in (_listing(f, table, nft) for f in FAMILIES) if p is not None]
    return "".join(parts) if parts else None


def table_exists(table, nft="nft"):
    return listing(table, nft) is not None


def fingerprint(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest() + "\n"


def load_args(path):
    """nft's arguments to load a saved ruleset: JSON, or (a ruleset saved by an older release) nft syntax."""
    return (["-j"] if path.endswith(".json") else []) + ["-f", path]


def load(path, nft="nft", table=None):
    """nft -j -f PATH; with `table`, the loaded table's fingerprint is saved next to PATH."""
    rc, _out, err = _nft(load_args(path), nft)
    if rc != 0:
        raise HostnetError("%s: nft %s failed: %s" % (WHAT, " ".join(load_args(path)), err.strip()))
    live = listing(table, nft) if table else None
    if live is not None:
        _files.write_atomic(path + ".live", fingerprint(live), WHAT, mode=0o600)


def write_checked(path, text, mode, nft="nft"):
    """Save a new ruleset only after `nft -c` accepted it (checked from a temporary file beside it)."""
    tmp = "%s.check-%d%s" % (path, os.getpid(), os.path.splitext(path)[1])
    _files.write_atomic(tmp, text, WHAT, mode=mode)
    try:
        rc, _out, err = _nft(["-c"] + load_args(tmp), nft)
        if rc != 0:
            raise HostnetError("%s: nft refused the new ruleset (nft -c): %s; nothing was saved or loaded, %s and "
                               "the live table are unchanged" % (WHAT, err.strip().replace(tmp, path), path))
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def delete_table(table, nft="nft"):
    for family in FAMILIES:
        rc, _out, err = _nft(["delete", "table", family, table], nft)
        if rc != 0 and _listing(family, table, nft) is not None:
            raise HostnetError("%s: nft delete table %s %s failed: %s" % (WHAT, family, table, err.strip()))


def render_state(networks, ruleset_path, forwarding=None):
    """The JSON the boot-time CLI reads: devices for the engine, sysctls, the ruleset's path; and the uplinks'
    forwarding values found before the collection switched them on (`forwarding`, see _forwarding.plan)."""
    state = {
        "comment": "Managed by Ansible (hostnet.qemu.network); read at boot by hostnet-qemu-network.service",
        "devices": [d for d in _nftnet.devices(networks) if d["state"] == "present"],
        "sysctls": _nftnet.sysctls(networks, forwarding),
        "nft_file": ruleset_path,
    }
    if forwarding:
        state["forwarding_before"] = dict(forwarding)
    return json.dumps(state, indent=2, sort_keys=True) + "\n"


def _legacy(ruleset_path):
    """Files of an older release's nft-syntax ruleset next to a JSON one (replaced by it, so removed)."""
    if not ruleset_path.endswith(".json"):
        return []
    old = ruleset_path[:-len(".json")] + ".nft"
    return [p for p in (old, old + ".live") if os.path.exists(p)]


def plan(networks, table, ruleset_path, state_path, state="present", nft="nft", forwarding=None, ports=()):
    """Read files and the live tables; return what to change. `forwarding`: the uplinks' values found before
    (_forwarding.plan's `before`): the ones that were off get the table's guard and are recorded. `ports`: the guest
    ports held to their NICs (_nftports.normalise)."""
    result = {"changed": False, "actions": [], "diff": []}
    current = listing(table, nft)
    live = current is not None
    if state == "absent":
        for path in [ruleset_path, state_path, ruleset_path + ".live"] + _legacy(ruleset_path):
            if os.path.exists(path):
                result["actions"].append(("remove", path))
        if live:
            result["actions"].append(("delete_table", table))
        result["changed"] = bool(result["actions"])
        return result
    script = _nftrules.render(networks, table, guarded=_forwarding.guarded(forwarding), ports=ports)
    # with only macvtap networks (or none) the ruleset just deletes the table: then no live table is the goal
    wants_table = _nftrules.wants_table(script)
    files = ((ruleset_path, script, 0o600),
             (state_path, render_state(networks, ruleset_path, forwarding), 0o600))
    rules_changed = False
    for path, text, mode in files:
        old = _files.read_text(path, WHAT)
        if old != text:
            result["actions"].append(("write_ruleset" if path == ruleset_path else "write", path, text, mode))
            result["diff"].append({"before_header": path, "after_header": path, "before": old or "", "after": text})
            rules_changed = rules_changed or path == ruleset_path
    drifted = wants_table and live and _files.read_text(ruleset_path + ".live", WHAT) != fingerprint(current)
    if drifted:
        result["diff"].append({"before_header": "live tables inet/bridge %s" % table, "after_header": ruleset_path,
                               "before": current, "after": "(the saved ruleset, loaded again)\n"})
    if rules_changed or live != wants_table or drifted:
        result["actions"].append(("load", ruleset_path, table))
    result["actions"].extend(("remove", path) for path in _legacy(ruleset_path))
    result["changed"] = bool(result["actions"])
    return result


def apply(result, nft="nft"):
    for action in result["actions"]:
        if action[0] == "write":
            _files.write_atomic(action[1], action[2], WHAT, mode=action[3])
        elif action[0] == "write_ruleset":
            write_checked(action[1], action[2], action[3], nft)
        elif action[0] == "load":
            load(action[1], nft, action[2])
        elif action[0] == "remove":
            _files.remove(action[1], WHAT)
        elif action[0] == "delete_table":
            delete_table(action[1], nft)


def converge(networks, table, ruleset_path, state_path, state="present", nft="nft", check_mode=False, forwarding=None,
             ports=()):
    """plan() and (unless check mode) apply() under the host-wide lock; returns the plan."""
    with host_lock(WHAT):
        result = plan(networks, table, ruleset_path, state_path, state=state, nft=nft, forwarding=forwarding,
                      ports=ports)
        if result["changed"] and not check_mode:
            apply(result, nft=nft)
    return result
