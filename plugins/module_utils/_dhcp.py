# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DHCP and DNS for the guests of a network (the hostnet.qemu.network role): validation, normalisation and the
dnsmasq configuration of one network.

Pure functions (no kernel, no files). `check()` is called by `_nftnet.check()` for every network and returns
every problem of its `dhcp` and `dns` fields, each naming network, field and fix; `normalise()` gives the
defaults; `instances()` is the set of dnsmasq instances (one per network, `hostnet-qemu-dnsmasq@NAME.service`)
with the text of each configuration file.

One dnsmasq per network, bound to that network's bridge only (`interface=`, `bind-dynamic`,
`except-interface=lo`): it never answers on the host's other interfaces or on the loopback, so it coexists
with systemd-resolved (127.0.0.53), a system dnsmasq bound to its own interfaces, or libvirt's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _escape, _net6, _netspec, _validate

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_NETADDR = False

UNIT = "hostnet-qemu-dnsmasq@%s.service"
LEASES_DIR = "/var/lib/hostnet-qemu/dnsmasq"
USER = "dnsmasq"    # created by Debian's dnsmasq-base
GROUP = "nogroup"
DEFAULT_LEASE = "1h"
MIN_LEASE = 120     # dnsmasq's own minimum (two minutes)

LABEL_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
MAC_RE = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}\Z")
LEASE_RE = re.compile(r"([0-9]+)([smhdw]?)\Z")
LEASE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _ipv4(value):
    """'A.B.C.D' -> netaddr.IPAddress (IPv4 only, strictly dotted-quad), or None."""
    if not isinstance(value, str):
        return None
    try:
        return netaddr.IPAddress(value.strip(), version=4, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def _lease_seconds(value):
    """'1h', '45m', 3600, 'infinite' -> seconds (None for infinite), or raise ValueError."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text == "infinite":
        return None
    match = LEASE_RE.match(text)
    if not match:
        raise ValueError(value)
    return int(match.group(1)) * LEASE_UNITS[match.group(2)]


def _domain_problem(value):
    if not isinstance(value, str) or not value:
        return "is empty"
    if len(value) > 253:
        return "'%s' is longer than 253 characters" % value
    for label in value.rstrip(".").split("."):
        if not LABEL_RE.match(label):
            return "'%s' is not a domain name (labels of letters, digits and '-', separated by dots)" % value
    return None


def _usable(subnet):
    """The host addresses of an IPv4 subnet as (first, last) integers (None below /30)."""
    if subnet.prefixlen > 30:
        return None
    return subnet.first + 1, subnet.last - 1


def default_range(subnet, host):
    """The range used when `dhcp.ranges` is not given: the upper half of the subnet's host addresses, without
    the host's own address (so the lower half stays free for static addresses)."""
    first, last = _usable(subnet)
    start, end = first + (last - first + 1) // 2, last
    hip = int(host.ip)
    if start <= hip <= end:
        if hip < end:
            start = hip + 1
        else:
            end = hip - 1
    if start > end:  # a /30: the one address that is not the host's
        start = end = first if hip != first else last
    return str(netaddr.IPAddress(start)), str(netaddr.IPAddress(end))


def _span(subnet):
    first, last = _usable(subnet)
    return "%s-%s" % (netaddr.IPAddress(first), netaddr.IPAddress(last))


def check(net, label, kind, host, subnet, state, seen_ranges):
    """Problems of the `dhcp` and `dns` fields of one network.

    `host` and `subnet` are what `_nftnet.check()` parsed (None if missing or invalid: those problems are
    reported there). `seen_ranges` collects (network, field, IPRange) of present networks, to find ranges that
    overlap across networks.
    """
    dhcp, dns = net.get("dhcp"), net.get("dns")  # typed by _netspec (dicts, booleans, lists of dicts)
    if dhcp is None and dns is None:
        return []
    errors = []
    if dns is not None and dns.get("domain") is not None:
        problem = _domain_problem(dns.get("domain"))
        if problem:
            errors.append("%s: field 'dns.domain' %s; give e.g. lab.example" % (label, problem))
    field = "dhcp" if dhcp is not None else "dns"
    # where dnsmasq may serve: the network's own bridge, with the host's address on it
    if kind in ("macvtap", "uplink"):
        why = ("the host's macvlan sits on the parent's real LAN" if kind == "macvtap"
               else "the bridge is the NIC's real LAN")
        return errors + ["%s: field '%s' does not apply to kind %s (%s, where a second DHCP server would answer"
                         " other machines); drop it, or use kind nat or isolated" % (label, field, kind, why)]
    if net.get("address") is None:
        return errors + ["%s: field '%s' needs field 'address' (dnsmasq serves from the host's address on the"
                         " bridge, which is the guests' DNS server and, on nat, their gateway); add e.g."
                         " address: 192.168.50.1/24, or drop %s" % (label, field, field)]
    if host is None or subnet is None:
        return errors  # the address or subnet is invalid: reported by _nftnet.check()
    if host.version != 4:
        return errors + ["%s: field '%s' needs an IPv4 field 'address' (DHCPv4 only here), got %s; give an IPv4"
                         " address, or drop %s" % (label, field, host, field)]
    if dhcp is None:
        return errors
    if _usable(subnet) is None:
        return errors + ["%s: field 'dhcp': the subnet %s has no room for guests next to the host's address;"
                         " use a /30 or larger subnet" % (label, subnet)]
    if "lease_time" in dhcp:
        lease = dhcp.get("lease_time")
        try:
            seconds = _lease_seconds(lease)
            if seconds is not None and seconds < MIN_LEASE:
                errors.append("%s: field 'dhcp.lease_time' %r is shorter than dnsmasq's minimum of two minutes;"
                              " give at least 2m (e.g. 1h)" % (label, lease))
        except ValueError:
            errors.append("%s: field 'dhcp.lease_time' %r is not a lease time; give seconds or a number with s, m,"
                          " h, d or w (e.g. 1h, 45m), or infinite" % (label, lease))
    errors.extend(_check_ranges(net, dhcp, label, host, subnet, state, seen_ranges))
    errors.extend(_check_hosts(dhcp, label, host, subnet))
    return errors


def _check_ranges(net, dhcp, label, host, subnet, state, seen_ranges):
    errors = []
    ranges = dhcp.get("ranges")
    if ranges is None:
        return errors
    mine = []
    inside = "a range inside %s (host addresses %s) that leaves out the host's %s" % (subnet, _span(subnet), host.ip)
    for index, item in enumerate(ranges):
        field = "dhcp.ranges[%d]" % index
        start, end = _ipv4(item.get("start")), _ipv4(item.get("end"))
        bad = False
        for key, value in (("start", start), ("end", end)):
            if value is None:
                errors.append("%s: field '%s.%s' %r is not an IPv4 address; give e.g. %s"
                              % (label, field, key, item.get(key), netaddr.IPAddress(_usable(subnet)[1])))
                bad = True
        if bad:
            continue
        text = "%s-%s" % (start, end)
        if start > end:
            errors.append("%s: field '%s' %s starts after it ends; swap start and end" % (label, field, text))
            continue
        if start not in subnet or end not in subnet:
            errors.append("%s: field '%s' %s is not inside the subnet %s; give %s" % (label, field, text, subnet, inside))
            continue
        span = netaddr.IPRange(start, end)
        for what, address in (("subnet's network address", subnet.network),
                              ("subnet's broadcast address", subnet.broadcast),
                              ("host's own address (field 'address')", host.ip)):
            if address in span:
                errors.append("%s: field '%s' %s contains the %s %s; give %s"
                              % (label, field, text, what, address, inside))
        for other_field, other in mine:
            if _validate.overlaps(span, other):
                errors.append("%s: field '%s' %s overlaps field '%s' %s-%s; give ranges that do not overlap"
                              % (label, field, text, other_field, other[0], other[-1]))
        if state == "present":
            for other_net, other_field, other in seen_ranges:
                if other_net != net.get("name") and _validate.overlaps(span, other):
                    errors.append("%s: field '%s' %s overlaps field '%s' %s-%s of network '%s'; give each network"
                                  " ranges inside its own subnet" % (label, field, text, other_field, other[0],
                                                                     other[-1], other_net))
        mine.append((field, span))
    if state == "present":
        seen_ranges.extend((net.get("name"), f, s) for f, s in mine)
    return errors


def _check_hosts(dhcp, label, host, subnet):
    errors = []
    hosts = dhcp.get("hosts")
    if hosts is None:
        return errors
    macs, addresses, names = {}, {}, {}
    for index, item in enumerate(hosts):
        field = "dhcp.hosts[%d]" % index
        mac = item.get("mac")
        norm = _mac(mac)
        if norm is None:
            errors.append("%s: field '%s.mac' %r is not a unicast MAC address; give the guest NIC's MAC, e.g."
                          " 52:54:00:12:34:56" % (label, field, mac))
        elif norm in macs:
            errors.append("%s: field '%s.mac' %s is also the MAC of field '%s'; give each host its own MAC"
                          % (label, field, norm, macs[norm]))
        else:
            macs[norm] = field
        address = _ipv4(item.get("address"))
        if address is None:
            errors.append("%s: field '%s.address' %r is not an IPv4 address; give an address inside %s, e.g. %s"
                          % (label, field, item.get("address"), subnet,
                             netaddr.IPAddress(_usable(subnet)[0] + 1 if _usable(subnet)[0] == int(host.ip)
                                               else _usable(subnet)[0])))
        elif address not in subnet or address in (subnet.network, subnet.broadcast):
            errors.append("%s: field '%s.address' %s is not inside the subnet %s; give a host address inside it (%s)"
                          % (label, field, address, subnet, _span(subnet)))
        elif address == host.ip:
            errors.append("%s: field '%s.address' %s is the host's own address (field 'address'); give the guest"
                          " another address" % (label, field, address))
        elif address in addresses:
            errors.append("%s: field '%s.address' %s is also the address of field '%s'; give each host its own"
                          % (label, field, address, addresses[address]))
        else:
            addresses[address] = field
        name = item.get("name")
        if name is not None:
            if not LABEL_RE.match(name):
                errors.append("%s: field '%s.name' %r is not a host name (one label of letters, digits and '-',"
                              " at most 63); give e.g. vm1" % (label, field, name))
            elif name.lower() in names:
                errors.append("%s: field '%s.name' '%s' is also the name of field '%s'; give each host its own name"
                              % (label, field, name, names[name.lower()]))
            else:
                names[name.lower()] = field
    return errors


def _mac(value):
    """A MAC in colon or hyphen form -> lower-case colon form, or None if malformed, multicast or all-zero."""
    if not isinstance(value, str) or not MAC_RE.match(value.strip()):
        return None
    octets = [int(part, 16) for part in re.split(r"[:-]", value.strip())]
    if not any(octets) or octets[0] & 1:
        return None
    return ":".join("%02x" % o for o in octets)


def normalise(net, kind, host, subnet):
    """Valid network -> {'dhcp': {...} or None, 'dns': {...} or None} with defaults applied.

    DNS is on when `dhcp` is given (unless dns.enabled is false) or when `dns` is given (unless enabled is
    false); it forwards other names to the host's resolvers on nat networks, not on isolated ones (unless
    dns.forward says otherwise). The DHCP router option is the host's address on nat networks, none on isolated
    ones (nothing is forwarded there).
    """
    dhcp_in, dns_in = net.get("dhcp"), net.get("dns")
    out = {"dhcp": None, "dns": None}
    if kind not in ("nat", "routed", "isolated") or host is None or (dhcp_in is None and dns_in is None):
        return out
    dns_in = dns_in or {}
    if dns_in.get("enabled", True):
        forward = dns_in.get("forward")
        out["dns"] = {
            "domain": dns_in["domain"].rstrip(".").lower() if dns_in.get("domain") else None,
            "forward": (kind in _netspec.GATEWAY_KINDS) if forward is None else bool(forward),
        }
    if dhcp_in is not None:
        ranges = [{"start": str(_ipv4(r["start"])), "end": str(_ipv4(r["end"]))} for r in dhcp_in.get("ranges") or []]
        hosts = [{"mac": _mac(h["mac"]), "address": str(_ipv4(h["address"])), "name": h.get("name")}
                 for h in dhcp_in.get("hosts") or []]
        if dhcp_in.get("ranges") is None and not hosts:
            start, end = default_range(subnet, host)
            ranges = [{"start": start, "end": end}]
        lease = dhcp_in.get("lease_time", DEFAULT_LEASE)
        out["dhcp"] = {
            "ranges": ranges,
            "hosts": hosts,
            "lease_time": "infinite" if _lease_seconds(lease) is None else str(_lease_seconds(lease)),
            "router": str(host.ip) if kind in _netspec.GATEWAY_KINDS else None,
            "domain": dns_in.get("domain").rstrip(".").lower() if dns_in.get("domain") else None,
        }
    return out


def render(net):
    """The dnsmasq configuration of one normalised network (with 'dhcp' and/or 'dns').

    Every value taken from the user passes _escape.dnsmasq_value (dnsmasq has no quoting: a ',' would start
    another field, a newline another option)."""
    what = "network '%s'" % net["name"]
    name, bridge = _v(net["name"], what), _v(net["bridge"], what + ": bridge")
    dhcp, dns = net.get("dhcp"), net.get("dns")
    lines = [
        "# Managed by Ansible (hostnet.qemu.network); local changes will be overwritten.",
        "# DHCP/DNS of network '%s' (%s) on bridge %s, run by %s." % (name, net["kind"], bridge, UNIT % name),
        "# Only this bridge: never the loopback or the host's other interfaces.",
        "interface=%s" % bridge,
        "except-interface=lo",
        "bind-dynamic",
        "user=%s" % USER,
        "group=%s" % GROUP,
        "pid-file=",
        "no-hosts",
    ]
    if dns is None:
        lines += ["# DNS off", "port=0"]
    else:
        host = netaddr.IPNetwork(net["address"])
        lines += [
            "# DNS on %s port 53" % host.ip,
            "domain-needed",
            "bogus-priv",
        ]
        if not dns["forward"]:
            lines += ["# local names only: nothing is forwarded to the host's resolvers", "no-resolv"]
        else:
            lines += ["# other names are forwarded to the host's resolvers (/etc/resolv.conf)"]
        if dns["domain"]:
            domain = _v(dns["domain"], what + ": dns.domain")
            lines += ["domain=%s" % domain, "local=/%s/" % domain]
        for item in (dhcp or {}).get("hosts") or []:
            if item["name"]:
                names = [item["name"]] + (["%s.%s" % (item["name"], dns["domain"])] if dns["domain"] else [])
                lines.append("host-record=%s" % ",".join(_v(v, what + ": dhcp.hosts") for v in names + [item["address"]]))
    if dhcp is not None:
        subnet, host = netaddr.IPNetwork(net["subnet"]), netaddr.IPNetwork(net["address"])
        mask = subnet.netmask
        lines.append("# DHCP")
        # leases go by the MAC (chaddr), which each guest port holds to the NIC's own: a client identifier is
        # whatever a guest writes, and would let it release or decline a neighbour's lease
        lines.append("dhcp-ignore-clid")
        for item in dhcp["ranges"]:
            lines.append("dhcp-range=%s,%s,%s,%s" % (item["start"], item["end"], mask, dhcp["lease_time"]))
        if not dhcp["ranges"]:
            lines.append("dhcp-range=%s,static,%s,%s" % (subnet.network, mask, dhcp["lease_time"]))
        for item in dhcp["hosts"]:
            lines.append("dhcp-host=%s" % ",".join(_v(v, what + ": dhcp.hosts") for v in
                                                   (item["mac"], item["address"], item["name"]) if v))
        if dhcp["router"]:
            lines.append("dhcp-option=option:router,%s" % dhcp["router"])
        else:
            lines.append("# no router: nothing is forwarded from this network")
            lines.append("dhcp-option=3")
        if dhcp.get("mtu"):
            lines.append("# the network spans hosts over VXLAN: its MTU")
            lines.append("dhcp-option=option:mtu,%d" % dhcp["mtu"])
        if dns is not None:
            lines.append("dhcp-option=option:dns-server,%s" % host.ip)
        else:
            lines.append("dhcp-option=6")
        if dns is None and dhcp["domain"]:
            lines.append("domain=%s" % _v(dhcp["domain"], what + ": dns.domain"))
    if dhcp is not None or (net.get("ipv6") or {}).get("dhcp"):
        lines += [
            "dhcp-authoritative",
            "dhcp-leasefile=%s/%s.leases" % (LEASES_DIR, name),
        ]
    lease = (net.get("dhcp") or {}).get("lease_time") or str(_lease_seconds(DEFAULT_LEASE))
    lines += _net6.router_advertisements(net, bridge, dns is not None, lease)
    return "\n".join(lines) + "\n"


def _v(value, what):
    return _escape.dnsmasq_value(value, what)


def instances(networks):
    """The dnsmasq instances of normalised networks (present ones with dhcp or dns): name, bridge, unit, conf."""
    return [{"name": n["name"], "bridge": n["bridge"], "unit": UNIT % n["name"], "conf": render(n)}
            for n in networks
            if n["state"] == "present" and (n.get("dhcp") is not None or n.get("dns") is not None
                                            or (n.get("ipv6") or {}).get("address"))]
