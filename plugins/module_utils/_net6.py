# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 on a managed network (field `ipv6`: the host's address with its /64 prefix, and NAT66 or not).

The bridge takes the address; the network's dnsmasq sends router advertisements for the prefix, so guests take
addresses by SLAAC (and the DNS server by stateless DHCPv6 when the network has DNS). On nat and routed networks
the host forwards IPv6 for the bridge and the uplink only (`force_forwarding`, Linux 6.17 and later: IPv6 has no
per-interface `forwarding` switch before it, only the global one, which the collection never sets), and
masquerades the prefix on the uplink when `nat` is true (the default of kind nat). An isolated network
advertises no default route. The guest ports hold IPv6 to link-local addresses and the prefix, and keep the
addresses formed from a MAC (EUI-64) for the NIC with that MAC.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _forwarding, _netspec, _validate

RA_INTERVAL = 10    # seconds between router advertisements (dnsmasq's own interval is up to ten minutes)
RA_LIFETIME = 1800  # the default route's lifetime they give (dnsmasq's default)

KINDS = ("isolated",) + _netspec.GATEWAY_KINDS
PREFIX_LENGTH = 64  # SLAAC forms addresses from a /64 only


def check(net, label, kind, seen):
    """The problems of field `ipv6`; `seen` collects (network, prefix) of present networks (overlaps between them)."""
    six = net.get("ipv6")
    if six is None:
        return []
    if kind not in KINDS:
        return ["%s: field 'ipv6' applies to kinds isolated, nat and routed (%s); drop it"
                % (label, "macvtap guests sit on the parent's LAN" if kind == "macvtap"
                   else "the guests of an uplink network take IPv6 from the LAN")]
    address, host = six.get("address"), host_address(net)
    if host is None:
        return ["%s: field 'ipv6.address' %r is not an IPv6 address with its prefix length; give the host's address,"
                " e.g. fd00:50::1/64" % (label, address)]
    errors = []
    if host.prefixlen != PREFIX_LENGTH:
        errors.append("%s: field 'ipv6.address' %s: the prefix must be a /64 (guests form their addresses from it by"
                      " SLAAC); give e.g. %s/64" % (label, address, host.ip))
    elif host.ip == host.network or host.ip.is_link_local() or host.ip.is_multicast() or host.ip.is_loopback():
        errors.append("%s: field 'ipv6.address' %s is not a host address of its prefix; give e.g. %s1/64"
                      % (label, address, host.network))
    if six.get("dhcp") is not None and not errors:
        errors += _check_dhcp(six["dhcp"], label, host)
    if six.get("nat") and kind == "isolated":
        errors.append("%s: field 'ipv6.nat' applies to kinds nat and routed (an isolated network forwards nothing);"
                      " drop it" % label)
    if errors or net.get("state", "present") != "present":
        return errors
    for other_name, other in seen:
        if _validate.overlaps(host.cidr, other):
            errors.append("%s: ipv6 prefix %s overlaps prefix %s of network '%s'; give each network its own prefix"
                          % (label, host.cidr, other, other_name))
    seen.append((net["name"], host.cidr))
    return errors


def host_address(net):
    """The host's address of field `ipv6` (a netaddr network) when it is IPv6 with a prefix length, else None."""
    address = (net.get("ipv6") or {}).get("address")
    found = _validate.network(address) if isinstance(address, str) and "/" in address else None
    return found if found is not None and found.version == 6 else None


def _check_dhcp(dhcp, label, host):
    """Field `ipv6.dhcp`: a range of the prefix for stateful DHCPv6, without the host's own address."""
    ends = {}
    for key in ("start", "end"):
        value = _validate.network(dhcp.get(key)) if isinstance(dhcp.get(key), str) and "/" not in dhcp[key] else None
        if value is None or value.version != 6:
            return ["%s: field 'ipv6.dhcp.%s' %r is not an IPv6 address; give one of %s, e.g. %s"
                    % (label, key, dhcp.get(key), host.cidr, host.network + (0x100 if key == "start" else 0x1ff))]
        ends[key] = value.ip
    text = "%s-%s" % (ends["start"], ends["end"])
    if ends["start"] > ends["end"]:
        return ["%s: field 'ipv6.dhcp' %s starts after it ends; swap start and end" % (label, text)]
    if ends["start"] not in host.cidr or ends["end"] not in host.cidr:
        return ["%s: field 'ipv6.dhcp' %s is not inside the prefix %s; give a range of it" % (label, text, host.cidr)]
    for what, address in (("host's own address (field 'ipv6.address')", host.ip),
                          ("prefix's subnet-router anycast address", host.network)):
        if ends["start"] <= address <= ends["end"]:
            return ["%s: field 'ipv6.dhcp' %s contains the %s %s; give a range without it" % (label, text, what, address)]
    formed = _validate.eui64_in(ends["start"], ends["end"])
    if formed is not None:
        return ["%s: field 'ipv6.dhcp' %s contains addresses formed from a MAC (ff:fe in the middle of the interface"
                " identifier, e.g. %s), which the guest ports keep for the NIC with that MAC; give a range without"
                " them, e.g. %s-%s" % (label, text, formed, host.network + 0x100, host.network + 0x1ff)]
    return []


def normalise(net, kind):
    """A checked network's IPv6: {address, prefix, nat} or None."""
    six = net.get("ipv6")
    if six is None or kind not in KINDS:
        return None
    host = _validate.network(six["address"])
    nat, dhcp = six.get("nat"), six.get("dhcp")
    return {"address": "%s/%d" % (host.ip, host.prefixlen), "prefix": str(host.cidr),
            "nat": (kind == "nat") if nat is None else bool(nat) and kind != "isolated",
            "dhcp": None if dhcp is None else dict((k, str(_validate.network(dhcp[k]).ip)) for k in ("start", "end"))}


def gateways(normalised):
    """The present nat and routed networks with IPv6: the ones the host forwards IPv6 for."""
    return [n for n in normalised if n.get("ipv6") and n["kind"] in _netspec.GATEWAY_KINDS and n["state"] == "present"]


def on_host(normalised, proc="/proc/sys"):
    """A network that forwards IPv6 needs the per-interface switch; without IPv6 on the host, none has IPv6."""
    errors = []
    wanted = [n for n in normalised if n.get("ipv6") and n["state"] == "present"]
    if wanted and not os.path.isdir(os.path.join(proc, "net/ipv6")):
        return ["network '%s': field 'ipv6': IPv6 is disabled on this host (no %s/net/ipv6); enable it or drop 'ipv6'"
                % (wanted[0]["name"], proc)]
    for net in gateways(normalised):
        if not os.path.exists(os.path.join(proc, _forwarding.KEY6 % "default")):
            errors.append("network '%s': field 'ipv6' on a %s network needs IPv6 forwarding for single interfaces"
                          " (net.ipv6.conf.IF.force_forwarding, Linux 6.17 and later); this kernel (%s) forwards IPv6"
                          " only for all interfaces at once, which the collection does not switch on. Use a newer"
                          " kernel, or kind isolated for IPv6 between the guests and the host"
                          % (net["name"], net["kind"], os.uname()[2]))
    return errors


def router_advertisements(net, bridge, dns, lease):
    """The IPv6 part: router advertisements for the bridge's prefix (SLAAC), stateless DHCPv6 for the DNS server
    when the network has DNS; with `ipv6.dhcp`, stateful DHCPv6 from that range instead of SLAAC (the lease time
    is `lease`, the network's DHCP lease time). Advertisements go out every RA_INTERVAL seconds; an
    isolated network is no default router (router lifetime 0)."""
    six = net.get("ipv6")
    if not six or not six["address"]:
        return []
    if six.get("dhcp"):
        lines = ["# IPv6: stateful DHCPv6 from %s to %s; the router advertisements say so (managed flag, no SLAAC)"
                 % (six["dhcp"]["start"], six["dhcp"]["end"]), "enable-ra",
                 "dhcp-range=%s,%s,64,%s" % (six["dhcp"]["start"], six["dhcp"]["end"], lease)]
        if six.get("hosts"):  # _leasepins: each held guest NIC's one address, which its port lets through
            lines.append("# each guest NIC's address, by its MAC (dnsmasq reads a DHCPv6 client's from the neighbour table)")
            lines += ["dhcp-host=%s,[%s]" % (host["mac"], host["address"]) for host in six["hosts"]]
    else:
        lines = ["# IPv6: router advertisements for %s; guests form their addresses by SLAAC" % six["prefix"],
                 "enable-ra", "dhcp-range=::,constructor:%s,%s,64" % (bridge, "ra-stateless" if dns else "ra-only")]
    # every RA_INTERVAL seconds, not dnsmasq's ten minutes: a guest whose solicitations went unanswered (the bridge
    # had no link-local address yet) has its prefix and route within seconds
    if net["kind"] not in _netspec.GATEWAY_KINDS:
        return lines + ["# nothing is forwarded from this network: no default route (router lifetime 0)",
                        "ra-param=%s,%d,0" % (bridge, RA_INTERVAL)]
    return lines + ["# the host is the default router (router lifetime %d s)" % RA_LIFETIME,
                    "ra-param=%s,%d,%d" % (bridge, RA_INTERVAL, RA_LIFETIME)]
