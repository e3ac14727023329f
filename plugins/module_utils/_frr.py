# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP EVPN for spanned networks through FRR (the distribution's package): the collection's part of FRR's
configuration, planned and applied like every other file the networks module owns.

What the collection owns, and nothing else: the default BGP instance (`router bgp ASN`) of FRR's integrated
configuration file (frr.conf) that carries its peer group `hostnet-qemu`, and `bgpd=yes` in FRR's daemons file.
Every other line of frr.conf stays the user's; a `router bgp` section without that peer group is the user's BGP,
and the module refuses to take it over (FRR has one default BGP instance). The section is recognised by its peer
group, not by comments, so it is still found after `write memory` rewrote the file. Changes reach the running FRR
through `systemctl reload frr` (frr-reload.py applies only the difference; sessions that did not change stay up).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _files, _proc, _systemd
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

PEER_GROUP = "hostnet-qemu"
UNIT = "frr.service"
PACKAGES = (("frr", "/usr/lib/frr/bgpd"), ("frr-pythontools", "/usr/lib/frr/frr-reload.py"))
_SECTION = re.compile(r"^router bgp (\d+)[ \t]*$")
_BGPD = re.compile(r"^bgpd=.*$", re.M)


def evpn_spans(networks):
    """The spans of the present networks whose control plane is EVPN (normalised networks)."""
    return [n["span"] for n in networks
            if n.get("span") and n["span"]["control_plane"] == "evpn" and n["state"] == "present"]


def missing_packages(networks):
    """Debian's packages EVPN needs that this host lacks (none when no network uses EVPN)."""
    if not evpn_spans(networks):
        return []
    return [package for package, path in PACKAGES if not os.path.exists(path)]


def render(asn, router_id, neighbors, reflector):
    """The collection's BGP section: iBGP in one AS, EVPN only (no IPv4 unicast), every neighbour in the peer group;
    a route reflector takes them all as its clients."""
    lines = ["router bgp %d" % asn, " bgp router-id %s" % router_id, " no bgp default ipv4-unicast",
             " neighbor %s peer-group" % PEER_GROUP, " neighbor %s remote-as internal" % PEER_GROUP]
    lines += [" neighbor %s peer-group %s" % (address, PEER_GROUP) for address in neighbors]
    lines += [" !", " address-family l2vpn evpn", "  neighbor %s activate" % PEER_GROUP]
    if reflector:
        lines.append("  neighbor %s route-reflector-client" % PEER_GROUP)
    lines += ["  advertise-all-vni", " exit-address-family", "exit"]
    return "\n".join(lines) + "\n"


def _sections(text):
    """[(first line, end line, asn, ours)] of the default BGP instances in frr.conf's lines (a section ends at its
    `exit`, or before the next line that starts in the first column)."""
    lines = text.splitlines(True)
    found, index = [], 0
    while index < len(lines):
        match = _SECTION.match(lines[index].rstrip("\n"))
        if not match:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and (lines[end][:1] in (" ", "\t", "!", "\n") or not lines[end].strip()):
            end += 1
        if end < len(lines) and lines[end].strip() == "exit":
            end += 1
        body = "".join(lines[index:end])
        ours = re.search(r"^ neighbor %s peer-group$" % re.escape(PEER_GROUP), body, re.M) is not None
        found.append((index, end, int(match.group(1)), ours))
        index = end
    return found


def conf_text(text, section):
    """frr.conf with the collection's section replaced by `section` ('' removes it); appended when absent."""
    lines = (text or "").splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    mine = [(start, end) for start, end, _asn, ours in _sections("".join(lines)) if ours]
    for start, end in reversed(mine[1:]):
        del lines[start:end]
    if mine:
        start, end = mine[0]
        lines[start:end] = [section] if section else []
    elif section:
        lines.append(section)
    return "".join(lines)


def _foreign(text, label):
    for _start, _end, asn, ours in _sections(text or ""):
        if not ours:
            raise HostnetError("%s: FRR already has a BGP instance of its own here (router bgp %d in frr.conf, without"
                               " the peer group %s), and FRR runs one default BGP instance; remove it, or move its"
                               " configuration into a VRF, before EVPN can be set up" % (label, asn, PEER_GROUP))


def plan(networks, frr_dir, check_mode=False):
    """What EVPN needs of FRR on this host (normalised networks): {changed, plan, diff, files, start, enable,
    reload}. Nothing at all when no network uses EVPN and frr.conf holds no section of the collection's. Without
    FRR installed: an error, or in check mode (where the role's package task installed nothing) the plan says so."""
    spans = evpn_spans(networks)
    out = {"changed": False, "plan": [], "diff": [], "files": [], "start": False, "enable": False, "reload": False}
    conf_path, daemons_path = os.path.join(frr_dir, "frr.conf"), os.path.join(frr_dir, "daemons")
    text = _files.read_text(conf_path, "FRR")
    if not spans and not any(ours for _s, _e, _a, ours in _sections(text or "")):
        return out
    section = ""
    if spans:
        label = "networks %s (control_plane evpn)" % ", ".join(
            "'%s'" % n["name"] for n in networks if n.get("span") in spans)
        missing = missing_packages(networks)
        if missing and check_mode:
            out["plan"] = ["install %s, then write the BGP EVPN section in %s, enable and start %s"
                           % (", ".join(missing), conf_path, UNIT)]
            out["changed"] = True
            return out
        if missing:
            raise HostnetError("%s: BGP EVPN needs FRR on this host (bgpd, zebra and frr-reload.py), and the packages"
                               " %s are not installed; install them (the network role installs missing packages"
                               " itself), or use control_plane static" % (label, ", ".join(missing)))
        _foreign(text, label)
        bgp = spans[0]["bgp"]
        section = render(bgp["asn"], spans[0]["local"], bgp["neighbors"], bgp["reflector"])
    new = conf_text(text, section)
    if new != (text or ""):
        out["files"].append((conf_path, new))
        out["diff"].append({"before_header": conf_path, "after_header": conf_path, "before": text or "", "after": new})
        out["plan"].append("%s BGP EVPN section in %s" % ("write the" if section else "remove the", conf_path))
    state = _unit_state()
    if spans:
        daemons = _files.read_text(daemons_path, "FRR") or ""
        wanted = _BGPD.sub("bgpd=yes", daemons) if _BGPD.search(daemons) else daemons + "bgpd=yes\n"
        if wanted != daemons:
            out["files"].append((daemons_path, wanted))
            out["diff"].append({"before_header": daemons_path, "after_header": daemons_path,
                                "before": daemons, "after": wanted})
            out["plan"].append("bgpd=yes in %s" % daemons_path)
        out["start"] = state["ActiveState"] not in ("active", "reloading", "activating")
        out["enable"] = state["UnitFileState"] not in ("enabled", "enabled-runtime", "static")
        out["plan"] += (["enable %s" % UNIT] if out["enable"] else []) + (["start %s" % UNIT] if out["start"] else [])
    # a running FRR takes the new files; removing the section from a stopped one needs nothing more
    out["reload"] = bool(out["files"]) and not out["start"] and (bool(spans) or state["ActiveState"] == "active")
    if out["reload"]:
        out["plan"].append("reload %s (frr-reload.py applies the difference)" % UNIT)
    out["changed"] = bool(out["plan"])
    return out


def _unit_state():
    text = _systemd.systemctl("FRR", "show", "--property=ActiveState,UnitFileState", "--", UNIT)
    state = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {"ActiveState": state.get("ActiveState", "inactive"), "UnitFileState": state.get("UnitFileState", "")}


def apply(result):
    """Write the files (FRR's own owner and mode kept), then enable, start or reload FRR."""
    for path, text in result["files"]:
        try:
            info = os.stat(path)
            mode = info.st_mode & 0o7777
        except OSError:  # a new file: FRR's mode, and the owner of its directory (frr), so its daemons read it
            info, mode = os.stat(os.path.dirname(path)), 0o640
        uid, gid = info.st_uid, info.st_gid
        _files.write_atomic(path, text, "FRR", mode=mode, uid=uid, gid=gid)
    if result["enable"]:
        _systemd.systemctl("FRR", "enable", "--quiet", "--", UNIT)
    if result["start"]:
        _systemd.systemctl("FRR", "start", "--", UNIT)
    elif result["reload"]:
        _systemd.systemctl("FRR", "reload", "--", UNIT)


def sessions():
    """FRR's BGP EVPN sessions as vtysh reports them: {asn, router_id, neighbors: {address: {state, uptime,
    prefixes_received}}}, or None when FRR is not installed, not running or has no BGP instance."""
    if not os.path.exists(PACKAGES[0][1]):
        return None
    proc = _proc.run(["vtysh", "-c", "show bgp l2vpn evpn summary json"], "FRR", check=False)
    try:
        summary = json.loads(proc.stdout) if proc.returncode == 0 else None
    except ValueError:  # no BGP instance: vtysh prints a sentence
        summary = None
    if not isinstance(summary, dict) or "routerId" not in summary:
        return None
    return {"asn": summary.get("as"), "router_id": summary["routerId"],
            "neighbors": dict((address, {"state": peer.get("state"), "uptime": peer.get("peerUptime"),
                                         "prefixes_received": peer.get("pfxRcd")})
                              for address, peer in (summary.get("peers") or {}).items())}
