# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot-time CLI: re-apply the saved hostnet.qemu networks (hostnet-qemu-network.service runs it at boot).

Installed with its import closure by _bootfiles as LIB_DIR/hostnet-qemu-network, a launcher that calls main().

Reads the JSON the role saved, plus every *.json device set in netdevs.d/ next to it (the guest role saves
its guests' taps and macvtaps there), and converges them piece by piece, so that one broken piece never takes
down the rest (an uplink host must stay reachable):

1. each device set on its own, networks first; a set that fails is retried device by device;
2. the uplink NICs saved in uplinks.d/ back on their bridges (what was last confirmed);
3. the nftables ruleset (JSON; it recreates only the collection's table), whatever happened before;
4. the sysctls, only when the filter is in place (forwarding is switched on after the filter).

Every failure is reported by name at the end; the exit status is non-zero only after everything possible was
done. A missing, truncated or invalid state file is one line naming the file.

`hostnet-qemu-network uplink-apply|uplink-rollback|uplink-boot STATE_DIR [RESULT]` runs one uplink job only:
the move and its timed rollback run as transient systemd units started by the hostnet.qemu.uplink module.
`hostnet-qemu-network deconfig|bound|renew|leasefail|nak` is udhcpc's script for the DHCP client of an uplink
(_dhcpclient): the lease is in its environment.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import sys

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcpclient, _engine, _forwarding, _model, _proc, _uplink
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

DEFAULT = "/etc/hostnet-qemu/netdevs.json"
PREFIX = "hostnet-qemu-network: "


def say(line):
    sys.stdout.write(PREFIX + line + "\n")
    sys.stdout.flush()


def read_state(path, failures):
    """The saved JSON as a dict, or None with one failure line naming the file."""
    try:
        with open(path) as handle:
            state = json.load(handle)
        if not isinstance(state, dict) or not isinstance(state.get("devices", []), list):
            raise ValueError("not a hostnet.qemu state (a JSON object with a list 'devices')")
        return state
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        failures.append("%s: unreadable (%s); it was skipped, re-run the playbook to write it again" % (path, exc))
        return None


def converge_set(label, devices, failures):
    """One device set; when the set as a whole fails, each device on its own (the others still come up)."""
    try:
        result = _engine.converge(_model.normalise_all(devices))
        for line in result["plan"]:
            say("%s: %s" % (label, line))
        return
    except HostnetError as exc:
        say("%s: the set failed as a whole (%s); applying its devices one by one" % (label, exc))
    for device in devices:
        name = device.get("name") if isinstance(device, dict) else repr(device)
        try:
            for line in _engine.converge(_model.normalise_all([device]))["plan"]:
                say("%s: %s" % (label, line))
        except HostnetError as exc:
            failures.append("%s: device '%s': %s" % (label, name, exc))


def load_table(nft_file, failures):
    """True when the collection's table is in place (or none is wanted)."""
    if not nft_file:
        return True
    if not os.path.exists(nft_file):
        failures.append("%s: missing; the nftables table was not loaded (re-run the playbook)" % nft_file)
        return False
    # nftables JSON; a ruleset saved by an older release is in nft syntax
    args = (["-j"] if nft_file.endswith(".json") else []) + ["-f", nft_file]
    try:
        proc = _proc.run(["nft"] + args, nft_file, hint="install nftables", check=False)
    except HostnetError as exc:
        failures.append(str(exc))
        return False
    if proc.returncode != 0:
        failures.append("%s: nft %s failed: %s" % (nft_file, " ".join(args[:-1]), proc.stderr.strip()))
        return False
    say("loaded %s" % nft_file)
    return True


def write_sysctls(sysctls, table_ok, failures):
    for key, value in sorted(sysctls.items()):
        if not table_ok:
            failures.append("sysctl %s: not set to %s because the filter is not in place" % (key, value))
            continue
        try:
            _forwarding.write(key, value, "sysctl")
            say("%s = %s" % (key, value))
        except HostnetError as exc:
            failures.append(str(exc))


def main(argv):
    if len(argv) > 1 and argv[1].startswith("uplink-"):
        return _uplink.job_main(argv[1:])
    if len(argv) == 2 and argv[1] in _dhcpclient.EVENTS and os.environ.get("interface"):
        return _dhcpclient.event_main(argv[1], os.environ)  # udhcpc runs this CLI as its script
    path = argv[1] if len(argv) > 1 else DEFAULT
    base = os.path.dirname(path)
    failures = []
    state = read_state(path, failures) or {}
    converge_set("networks (%s)" % path, state.get("devices") or [], failures)
    for extra in sorted(glob.glob(os.path.join(base, "netdevs.d", "*.json"))):
        saved = read_state(extra, failures)
        if saved is not None:
            converge_set("devices of %s" % extra, saved.get("devices") or [], failures)
    if _uplink.job_main(["uplink-boot", os.path.join(base, "uplinks.d")]) != 0:
        failures.append("uplinks (%s): see the uplink-boot lines above" % os.path.join(base, "uplinks.d"))
    # the table even when the state file is unreadable: the ruleset sits beside it
    nft_file = state.get("nft_file") if state else os.path.join(base, "nftables.json")
    table_ok = load_table(nft_file, failures)
    write_sysctls(state.get("sysctls") or {}, table_ok, failures)
    for line in failures:
        sys.stderr.write(PREFIX + "FAILED: " + line + "\n")
    if failures:
        sys.stderr.write(PREFIX + "%d piece(s) failed; everything else was applied\n" % len(failures))
    return 1 if failures else 0
