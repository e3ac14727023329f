# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs: the guests of a host as systemd, their units and their guest agents see them (guest_info module).

Read only. One `systemctl show` for every guest unit; each unit file for what it records (settings by field:
NICs with their MACs, the configuration hash a restart would apply); each running guest's qemu-guest-agent,
through the channel the role gives every guest, for its addresses; the managed networks' DHCP leases for the
guests whose agent does not answer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import socket
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _files, _systemd
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

WHAT = "guest_info"
UNIT = re.compile(r"\Ahostnet-guest-(.+)\.service\Z")
EXTRA = ("SubState", "Result", "ExecMainStartTimestampMonotonic")
_MAC = re.compile(r"\A[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")


def guest_names(unit_dir):
    """The guests that have a unit in unit_dir, by name."""
    found = []
    for path in glob.glob(os.path.join(unit_dir, "hostnet-guest-*.service")):
        match = UNIT.match(os.path.basename(path))
        if match:
            found.append(match.group(1))
    return sorted(found)


def nics_of(summary):
    """The NICs a unit records ('tap vmnet0 52:54:00:.. virtio-net-pci, user 52:54:..') -> [{kind, mac, network}]."""
    out = []
    for part in (summary or "").split(", "):
        words = part.split()
        macs = [w for w in words if _MAC.match(w)]
        if not words or not macs:
            continue
        at = words.index(macs[0])
        out.append({"kind": words[0], "mac": macs[0], "network": " ".join(words[1:at]) or None})
    return out


def leases(leases_dir):
    """{mac: [address]} from the managed networks' dnsmasq lease files (newest lease last)."""
    found = {}
    for path in sorted(glob.glob(os.path.join(leases_dir, "*.leases"))):
        text = _files.read_text(path, WHAT) or ""
        for line in text.splitlines():
            fields = line.split()
            if len(fields) >= 3 and _MAC.match(fields[1].lower()):
                found.setdefault(fields[1].lower(), []).append(fields[2])
    return found


def agent_interfaces(path, timeout):
    """qemu-guest-agent's guest-network-get-interfaces through its channel; None when nobody answers in time."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        sock.connect(path)
        stream = sock.makefile("rb")
        token = int(time.time() * 1000) % 2147483647
        # guest-sync first: the channel may hold an answer meant for an earlier client
        sock.sendall(json.dumps({"execute": "guest-sync", "arguments": {"id": token}}).encode() + b"\n")
        while True:
            if time.monotonic() > deadline:
                return None
            reply = json.loads(stream.readline() or b"null")
            if reply is None:
                return None
            if reply.get("return") == token:
                break
        sock.sendall(b'{"execute": "guest-network-get-interfaces"}\n')
        reply = json.loads(stream.readline() or b"null")
        return reply.get("return") if isinstance(reply, dict) else None
    except (OSError, ValueError):
        return None
    finally:
        sock.close()


def _agent_addresses(interfaces):
    out = []
    for iface in interfaces or []:
        mac = (iface.get("hardware-address") or "").lower()
        for addr in iface.get("ip-addresses") or []:
            ip = addr.get("ip-address")
            if iface.get("name") == "lo" or not ip or ip.startswith("fe80:"):
                continue
            out.append({"interface": iface.get("name"), "mac": mac or None, "address": ip,
                        "prefix": addr.get("prefix"), "source": "agent"})
    return out


def gather(names, unit_dir, run_dir, leases_dir, agent_timeout=2.0):
    """{name: facts} for the guests named (all that have a unit when None)."""
    names = guest_names(unit_dir) if names is None else list(names)
    for name in names:
        if "/" in name or name.startswith("."):
            raise HostnetError("guest_info: %r is not a guest name" % name)
    units = dict((name, "hostnet-guest-%s.service" % name) for name in names)
    props = _systemd.show(list(units.values()), WHAT, extra=EXTRA)
    lease_map = leases(leases_dir) if names else {}
    now = time.monotonic()
    out = {}
    for name in names:
        unit = units[name]
        prop = props.get(unit, {})
        text = _files.read_text(os.path.join(unit_dir, unit), WHAT)
        settings = _systemd.recorded_settings(text) or {}
        running = prop.get("ActiveState") in _systemd.RUNNING
        pid = int(prop.get("MainPID") or 0)
        started = int(prop.get("ExecMainStartTimestampMonotonic") or 0)
        here = os.path.join(run_dir, name)
        agent = os.path.join(here, "qga.sock")
        nics = nics_of(settings.get("nics"))
        facts = {
            "unit": unit,
            "installed": text is not None,
            "user": settings.get("user"),
            "load_state": prop.get("LoadState"),
            "active_state": prop.get("ActiveState"),
            "sub_state": prop.get("SubState"),
            "result": prop.get("Result"),
            "main_pid": pid or None,
            "uptime": int(now - started / 1e6) if running and pid and started else None,
            "pending_restart": _systemd.restart_reason(prop, text) if text is not None else None,
            "nics": nics,
            "macs": [nic["mac"] for nic in nics],
            "networks": sorted(set(nic["network"] for nic in nics if nic["network"])),
            "console": os.path.join(here, "console.sock"),
            "qmp": os.path.join(here, "qmp.sock"),
            "guest_agent": agent if os.path.exists(agent) else None,
            "agent_answered": False,
            "addresses": [],
        }
        if running and facts["guest_agent"]:
            interfaces = agent_interfaces(agent, agent_timeout)
            if interfaces is not None:
                facts["agent_answered"] = True
                facts["addresses"] = _agent_addresses(interfaces)
        if not facts["agent_answered"]:
            facts["addresses"] = [{"interface": None, "mac": mac, "address": ip, "prefix": None, "source": "dhcp"}
                                  for mac in facts["macs"] for ip in lease_map.get(mac, [])]
        out[name] = facts
    return out
