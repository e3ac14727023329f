# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pool NICs pinned to one address: what lets the port filter hold a leasing guest to its lease.

A guest NIC without a declared address leases from its network's DHCP pool. Its address is not known before the
guest asks, so the filter (_nftports) could only hold it to the subnet, where it could take a neighbour's address.
Instead, every held pool NIC on a network whose DHCP this host serves gets a reservation of its own, chosen here
once and kept:

1. the address its MAC is already reserved in the network's dnsmasq configuration (this module wrote it on an
   earlier run, or the NIC declared it before), if it is still in the subnet and nobody else claims it;
2. else the address its MAC holds in the network's lease file (a running guest keeps what it has);
3. else the first address of the network's DHCP ranges that is not the host's, not another reservation and not
   leased to another MAC (a guest the host does not hold, such as a helper NIC's).

The reservation becomes a `dhcp-host` line of that network and the port's only IPv4 address in the table, so
dnsmasq hands the guest exactly the address the filter lets through. Pure given the two files' texts: the same
files give the same pins, which keeps the plan, check mode and the second run (changed=0) in step. A network
without DHCP ranges (reservations only), or whose DHCP another host serves (a spanned network's other end), has no
pool to pin from: its pool NICs stay held to the subnet.

On a network with stateful DHCPv6 (no SLAAC) every held NIC also gets one address of the DHCPv6 range (_pins6), a
`dhcp-host=MAC,[ADDRESS]` line, and its port is held to it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _files, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

HOST_LINE = re.compile(r"dhcp-host=([0-9a-f]{2}(?::[0-9a-f]{2}){5}),([0-9.]+)(?:,|$)")
HOST6_LINE = re.compile(r"dhcp-host=([0-9a-f]{2}(?::[0-9a-f]{2}){5}),\[([0-9a-f:]+)\]$")


def reserved(conf, pattern=HOST_LINE):
    """The text of a network's dnsmasq configuration -> {MAC: IPv4 address} of its dhcp-host lines (with HOST6_LINE:
    {MAC: IPv6 address} of the DHCPv6 pins)."""
    out = {}
    for line in (conf or "").splitlines():
        match = pattern.match(line.strip().lower())
        if match:
            out[match.group(1)] = match.group(2)
    return out


def reserved6(conf):
    """The text of a network's dnsmasq configuration -> {MAC: IPv6 address} of its DHCPv6 pins
    (`dhcp-host=MAC,[ADDRESS]`); a bracketed value that is not one IPv6 address is skipped."""
    out = {}
    for mac, text in reserved(conf, HOST6_LINE).items():
        found = _validate.network(text)
        if found is not None and found.version == 6 and found.prefixlen == 128:
            out[mac] = str(found.ip)
    return out


def leased(text, now):
    """The text of a dnsmasq lease file -> {MAC: IPv4 address} of its IPv4 leases that have not expired (expiry 0:
    an infinite lease). DHCPv6 lines (the duid line, IAIDs instead of MACs) and broken lines are skipped."""
    out = {}
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 3 or not fields[0].isdigit() or _dhcp._mac(fields[1]) is None:
            continue
        if _dhcp._ipv4(fields[2]) is None or (int(fields[0]) and int(fields[0]) < now):
            continue
        out[_dhcp._mac(fields[1])] = fields[2]
    return out


def leased6(text, now):
    """The text of a dnsmasq lease file -> ({MAC: IPv6 address}, every IPv6 address) of its DHCPv6 leases that have
    not expired. A DHCPv6 line names its client by DUID (`EXPIRY IAID ADDRESS NAME DUID`); the MAC is read from a
    DUID-LLT or DUID-LL of an Ethernet address (ISC dhclient writes one), and other DUIDs give none."""
    macs, addresses = {}, set()
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[0].isdigit() or not fields[1].lstrip("T").isdigit() or ":" not in fields[2]:
            continue
        found = _validate.network(fields[2])
        if found is None or found.version != 6 or (int(fields[0]) and int(fields[0]) < now):
            continue
        address = str(found.ip)
        addresses.add(address)
        try:
            duid = bytearray.fromhex(fields[4].replace(":", ""))
        except ValueError:
            continue
        start = {(1, 14): 8, (3, 10): 4}.get((int.from_bytes(duid[:2], "big"), len(duid)))  # LLT, LL
        if start is not None and duid[2:4] == b"\x00\x01":  # hardware type 1, Ethernet
            mac = _dhcp._mac(":".join("%02x" % o for o in duid[start:start + 6]))
            if mac:
                macs[mac] = address
    return macs, addresses


def pin(networks, ports, conf_dir, leases_dir=_dhcp.LEASES_DIR, now=None):
    """Normalised networks and ports (_nftnet.normalise, _nftports.normalise) -> the same with a reservation added
    for every held pool port of a network whose DHCP pool this host serves, and that port's `allowed` narrowed to
    it (its `pinned` is the address; other ports get None), and each held port of a stateful DHCPv6 network its
    `pinned6` (_pins6). Reads each such network's dnsmasq configuration and lease file; raises HostnetError naming
    the NICs a full pool leaves without an address."""
    now = time.time() if now is None else now
    by_name = dict((n["name"], n) for n in networks)
    waiting = {}
    for port in ports:
        net = by_name.get(port["network"])
        dhcp = (net or {}).get("dhcp")
        if port["trust"] or port["lan"] or not port["leases"] or not dhcp or not dhcp["ranges"]:
            continue
        waiting.setdefault(net["name"], []).append(port)
    pins, errors = {}, []
    for name, held in sorted(waiting.items()):
        conf, leases = _texts(name, conf_dir, leases_dir)
        pins[name] = _choose(by_name[name], held, reserved(conf), leased(leases, now), errors)
    pins6 = _pins6(networks, ports, conf_dir, leases_dir, now, errors)
    if errors:
        raise HostnetError("; ".join(errors))
    out_nets = []
    for net in networks:
        declared = set(h["mac"] for h in (net.get("dhcp") or {}).get("hosts") or [])
        new = sorted((i for i in pins.get(net["name"], {}).items() if i[0] not in declared), key=lambda i: _int(i[1]))
        if new:
            pinned = dict(new)
            names = _names(net, [p for p in ports if p["network"] == net["name"] and p["mac"] in pinned])
            hosts = net["dhcp"]["hosts"] + [{"mac": mac, "address": address, "name": names.get(mac)}
                                            for mac, address in new]
            net = dict(net, dhcp=dict(net["dhcp"], hosts=hosts))
        if pins6.get(net["name"]):
            hosts6 = [{"mac": mac, "address": address} for mac, address in pins6[net["name"]].items()]
            net = dict(net, ipv6=dict(net["ipv6"], hosts=sorted(hosts6, key=lambda h: _int(h["address"]))))
        out_nets.append(net)
    out_ports = []
    for port in ports:
        address, address6 = pins.get(port["network"], {}).get(port["mac"]), pins6.get(port["network"], {}).get(port["mac"])
        out_ports.append(dict(port, pinned=address, allowed=[address] if address else port["allowed"], pinned6=address6))
    return out_nets, out_ports


def _texts(name, conf_dir, leases_dir):
    """A network's dnsmasq configuration and lease file, as text (None when absent)."""
    return tuple(_files.read_text(os.path.join(folder, "%s.%s" % (name, ext)), "network '%s'" % name)
                 for folder, ext in ((conf_dir, "conf"), (leases_dir, "leases")))


def _pins6(networks, ports, conf_dir, leases_dir, now, errors):
    """{network: {MAC: IPv6 address}}: on a network with stateful DHCPv6 (`ipv6.dhcp`, so no SLAAC), every held
    port gets one address of the range, as a DHCPv4 pool NIC does (IPv6 addresses are never declared): the one its
    MAC is pinned to in the network's dnsmasq configuration, else the one its MAC's DUID holds in the lease file (a
    running guest keeps its address), else the first free one (not leased to anyone). dnsmasq finds a DHCPv6
    client's MAC in the host's neighbour table (the port holds the frames' source to it), never in the DUID the
    client writes; a lease whose DUID names no MAC is not kept, and its guest takes its pin at its next renewal."""
    out = {}
    for net in networks:
        dhcp6 = (net.get("ipv6") or {}).get("dhcp")
        held = sorted((p for p in ports if p["network"] == net["name"] and not p["trust"] and not p["lan"]),
                      key=lambda p: p["ifname"])
        if not dhcp6 or not held or net.get("state", "present") != "present":
            continue
        conf, leases = _texts(net["name"], conf_dir, leases_dir)
        by_mac, leased_any = leased6(leases, now)
        chosen, taken = {}, set()
        _keep(held, (reserved6(conf), by_mac), chosen, taken, _int(dhcp6["start"]), _int(dhcp6["end"]))
        errors += _fill(held, chosen, _free([dhcp6], taken | leased_any),  # nor is any address leased now
                        lambda port: "%s (%s): network '%s' has no free address left in its DHCPv6 range (%s-%s); widen"
                        " ipv6.dhcp" % (port["label"], port["ifname"], net["name"], dhcp6["start"], dhcp6["end"]))
        out[net["name"]] = chosen
    return out


def _names(net, ports):
    """{MAC: host name} for the pins of one network: each port's `hostname`, to the first port (by ifname) that
    asks for it, unless the network's declared hosts give it already. A dhcp-host line with a name binds the name
    to the MAC: dnsmasq refuses it to any other client that asks for it by DHCP."""
    used = set((h.get("name") or "").lower() for h in net["dhcp"]["hosts"])
    out = {}
    for port in sorted(ports, key=lambda p: p["ifname"]):
        name = port.get("hostname")
        if name and name.lower() not in used:
            out[port["mac"]] = name
            used.add(name.lower())
    return out


def _int(address):
    return int(netaddr.IPAddress(address))


def _choose(net, held, conf_hosts, leases, errors):
    """{MAC: address} for the held pool ports of one network, in the order of the module docstring (a MAC the
    network's `dhcp.hosts` already reserves keeps that address)."""
    subnet = netaddr.IPNetwork(net["subnet"])
    host = str(netaddr.IPNetwork(net["address"]).ip)
    declared = net["dhcp"]["hosts"]
    taken = set([host] + [h["address"] for h in declared])
    macs = set(p["mac"] for p in held)
    chosen = dict((h["mac"], h["address"]) for h in declared if h["mac"] in macs)
    ordered = sorted(held, key=lambda p: p["ifname"])
    _keep(ordered, (conf_hosts, leases), chosen, taken, subnet.first + 1, subnet.last - 1)
    others = set(address for mac, address in leases.items() if mac not in macs)
    ranges = ", ".join("%s-%s" % (r["start"], r["end"]) for r in net["dhcp"]["ranges"])
    errors += _fill(ordered, chosen, _free(net["dhcp"]["ranges"], taken | others),
                    lambda port: "%s (%s): network '%s' has no free address left in its DHCP ranges (%s) for a NIC that"
                    " leases; widen dhcp.ranges or give the NIC a static address"
                    % (port["label"], port["ifname"], net["name"], ranges))
    return chosen


def _keep(ordered, sources, chosen, taken, low, high):
    """Each port of `ordered` without an address in `chosen` keeps the one its MAC has in the first of `sources`
    ({MAC: address}) that gives one from `low` to `high` (integers) that is not `taken`."""
    for source in sources:
        for port in ordered:
            address = source.get(port["mac"])
            if port["mac"] in chosen or address is None or address in taken:
                continue
            if low <= _int(address) <= high:
                chosen[port["mac"]] = address
                taken.add(address)


def _fill(ordered, chosen, free, problem):
    """Each port of `ordered` without an address in `chosen` takes the next of `free`; the errors (`problem(port)`)
    of the ports left without one."""
    errors = []
    for port in ordered:
        if port["mac"] in chosen:
            continue
        address = next(free, None)
        if address is None:
            errors.append(problem(port))
            continue
        chosen[port["mac"]] = address
    return errors


def _free(ranges, taken):
    """The addresses of the ranges (IPv4 or IPv6, as their `start`), in order, that are not taken."""
    for item in ranges:
        version = 6 if ":" in item["start"] else 4
        for value in range(_int(item["start"]), _int(item["end"]) + 1):
            address = str(netaddr.IPAddress(value, version))
            if address not in taken:
                yield address
