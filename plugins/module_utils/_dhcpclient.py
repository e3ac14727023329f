# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DHCP client of uplink networks with `dhcp_client` (the seed's `iface br0 inet dhcp`).

The client is busybox udhcpc in a transient systemd unit, hostnet-qemu-dhcp-BRIDGE.service, on the bridge that
took the NIC over (never on a NIC: given back, a NIC keeps the bridge's lease until it runs out). udhcpc only talks
DHCP: its script is the boot CLI (hostnet-qemu-network EVENT), which puts the lease on the bridge through
_netlink.Kernel - the address with the lease's lifetime (the kernel drops it if nobody renews it), the default
route with protocol dhcp and the uplink's metric. Nothing else the server sends is used (no DNS servers, domain,
host name or static routes).

No Ansible imports (the boot CLI and its jobs use this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import socket
import sys
import time

from ansible_collections.hostnet.qemu.plugins.module_utils import _proc
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel
from ansible_collections.hostnet.qemu.plugins.module_utils._nlwire import INFINITY_LIFE_TIME
from ansible_collections.hostnet.qemu.plugins.module_utils._engine import apply
from ansible_collections.hostnet.qemu.plugins.module_utils._planview import describe
from ansible_collections.hostnet.qemu.plugins.module_utils._uplinkplan import address_op, dynamic4, route_key, route_op
from ansible_collections.hostnet.qemu.plugins.module_utils._validate import DNS_LABEL, network

WHAT = "uplink DHCP client"
EVENTS = ("deconfig", "bound", "renew", "leasefail", "nak")
METRIC_ENV = "HOSTNET_QEMU_ROUTE_METRIC"
RTPROT_DHCP = 16
BRIDGE = "bridge"  # what the client runs on (the kind in its operations)
CLIENTS = ("dhclient", "dhcpcd", "udhcpc", "dhcpcd5")


def unit(dev):
    """The client's transient unit on `dev` (characters a unit name cannot hold escaped as systemd-escape does)."""
    return "hostnet-qemu-dhcp-%s.service" % "".join(
        c if c.isalnum() or c in "_." else "\\x%02x" % ord(c) for c in dev)


def _systemctl(*args):
    return _proc.run(["systemctl"] + list(args), WHAT, hint="the DHCP client runs as a systemd unit", check=False)


def active(dev):
    return _systemctl("is-active", "--quiet", unit(dev)).returncode == 0


def stop(dev):
    _systemctl("stop", unit(dev))
    _systemctl("reset-failed", unit(dev))


def command(busybox, dev, script, hostname=None):
    """udhcpc's command line: in the foreground (-f), with no client id (-C: the server knows the NIC by its MAC,
    which the bridge carries), the host's short name (option 12, as dhclient sends it, so that the LAN's DNS keeps
    the name), retrying for ever; `script` gets the events."""
    name = (hostname if hostname is not None else socket.gethostname()).split(".")[0]
    return [busybox, "udhcpc", "-f", "-C", "-i", dev, "-s", script, "-t", "4", "-T", "3", "-A", "10"] + (
        ["-x", "hostname:" + name] if DNS_LABEL.match(name) else [])


def start(dev, runner, metric):
    """Start udhcpc on `dev` (not waiting for a lease); a running client is left alone."""
    if active(dev):
        return False
    busybox = shutil.which("busybox", path=os.environ.get("PATH", "") + ":/usr/bin:/bin:/usr/sbin:/sbin")
    if busybox is None:
        raise HostnetError("%s on '%s': busybox (its udhcpc) is not installed; install the package busybox (the"
                           " network role does when an uplink network has dhcp_client)" % (WHAT, dev))
    _systemctl("reset-failed", unit(dev))
    proc = _proc.run(["systemd-run", "--unit=" + unit(dev), "--collect", "--quiet",
                      "--description=hostnet.qemu: DHCP client on %s" % dev,
                      "--property=Restart=always", "--property=RestartSec=5",
                      "--setenv=%s=%d" % (METRIC_ENV, metric or 0)] + command(busybox, dev, runner),
                     WHAT, hint="the DHCP client runs as a systemd unit", check=False)
    if proc.returncode != 0:
        raise HostnetError("%s on '%s': systemd-run failed: %s" % (WHAT, dev, (proc.stderr or proc.stdout).strip()))
    return True


def wait_lease(dev, timeout, netns=None):
    """The lease address on `dev` once there is one, else None after `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        with Kernel(netns) as kernel:
            try:
                index = kernel.resolve(dev)
            except HostnetError:
                index = None  # gone: no lease
            got = dynamic4([a for a in kernel.address_details() if a["index"] == index])
        if got or time.time() >= deadline:
            return got[0]["address"] if got else None
        time.sleep(0.5)


def foreign_clients(nic, proc_root="/proc"):
    """DHCP clients of other programs running on `nic`: [(pid, command line)] (the collection's own, whose script is
    the boot CLI hostnet-qemu-network, is skipped)."""
    out = []
    for pid in sorted((p for p in os.listdir(proc_root) if p.isdigit()), key=int):
        try:
            with open(os.path.join(proc_root, pid, "cmdline"), "rb") as handle:
                argv = [a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a]
        except (IOError, OSError):
            continue  # gone meanwhile, or not ours to read
        names = [os.path.basename(a) for a in argv[:2]]
        ours = any(os.path.basename(a) == "hostnet-qemu-network" for a in argv)
        if argv and nic in argv[1:] and not ours and any(n in CLIENTS for n in names):
            out.append((int(pid), " ".join(argv)))
    return out


# -- the udhcpc script: hostnet-qemu-network EVENT, with the lease in the environment ---------------
def event_ops(action, env, addresses, routes):
    """The kernel changes one udhcpc event asks for on env['interface'], given that device's address_details()
    and routes() entries: address and route operations (_uplinkplan.address_op, route_op) on the bridge."""
    dev = env["interface"]
    have = dynamic4(addresses)
    ours = [r for r in routes if r["family"] == 4 and r["protocol"] == RTPROT_DHCP]
    if action not in ("bound", "renew"):
        if action != "nak":
            # deconfig (udhcpc's start, a lease that ran out), leasefail: the lease stays - its address carries the
            # lease's lifetime (an expired one the kernel has dropped), so a restarted client cuts nothing off
            return []
        return [route_op("del", BRIDGE, dev, r) for r in ours] + [address_op("del", BRIDGE, dev, a) for a in have]  # taken back
    mask = env.get("mask") or ""
    if not mask.isdigit():
        raise HostnetError("%s on '%s': the server's lease has no usable subnet mask (%r)" % (WHAT, dev, mask))
    cidr = network("%s/%s" % (env.get("ip"), mask))
    if cidr is None or cidr.version != 4 or cidr.prefixlen == 0 or \
            (cidr.prefixlen < 31 and cidr.ip in (cidr.network, cidr.broadcast)):
        raise HostnetError("%s on '%s': the lease's address %r/%s is no IPv4 host address" % (WHAT, dev, env.get("ip"), mask))
    lease = env.get("lease") or ""
    lifetime = min(int(lease), INFINITY_LIFE_TIME - 1) if lease.isdigit() and int(lease) > 0 else INFINITY_LIFE_TIME - 1
    address = {"family": 4, "address": "%s/%d" % (cidr.ip, cidr.prefixlen), "scope": 0, "flags": 0,
               "broadcast": str(cidr.broadcast) if cidr.prefixlen < 31 else None, "lifetime": lifetime}
    ops = [address_op("del", BRIDGE, dev, a) for a in have if a["address"] != address["address"]]
    ops.append(address_op("add", BRIDGE, dev, address))  # add replaces: a renewal refreshes the lifetime
    metric = int(env.get(METRIC_ENV) or 0)
    gateway = next((net.ip for net in (network(r) for r in (env.get("router") or "").split())
                    if net is not None and net.version == 4 and net.prefixlen == 32), None)
    want = [] if gateway is None else [{
        "family": 4, "dst": "0.0.0.0/0", "gateway": str(gateway), "table": 254, "protocol": RTPROT_DHCP, "scope": 0,
        "type": 1, "metric": metric, "prefsrc": None, "onlink": False}]
    ops += [route_op("del", BRIDGE, dev, r) for r in ours if route_key(r) not in set(route_key(w) for w in want)]
    ops += [route_op("add", BRIDGE, dev, r) for r in want if route_key(r) not in set(route_key(o) for o in ours)]
    return ops


def event_main(action, env, netns=None):
    """udhcpc's script: apply one event; returns the exit code (udhcpc ignores it, the unit's journal keeps the line)."""
    dev = env.get("interface") or "?"
    try:
        with Kernel(netns) as kernel:
            index = kernel.resolve(dev)
            ops = event_ops(action, env, [a for a in kernel.address_details() if a["index"] == index],
                            [r for r in kernel.routes() if r["oif"] == index])
            apply(kernel, ops)
    except HostnetError as exc:
        sys.stdout.write("hostnet-qemu-network: %s %s: FAILED: %s\n" % (action, dev, exc))
        return 1
    for op in ops:
        sys.stdout.write("hostnet-qemu-network: %s %s: %s\n" % (action, dev, describe(op)))
    return 0
