# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of kind routed that lie between fields, between networks and against the host (the spec checks the
types): its `routes` (subnets behind a guest, through that guest's address), and a subnet of its own that does not
overlap its uplink's. _nftnet.check() and validate_on_host() call them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _net6, _uplinkhost, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def check(net, label, kind, host, subnet):
    """A routed network's routes: subnets behind its guests, each through a guest's address in the network (an IPv6
    route through one of the network's IPv6 prefix)."""
    errors = []
    six = _net6.host_address(net)
    for index, route in enumerate(net.get("routes") or []):
        where = "%s: field 'routes[%d]'" % (label, index)
        if kind != "routed":
            return ["%s: field 'routes' applies to kind routed (subnets the host routes to guests); drop it or set"
                    " kind: routed" % label]
        try:
            _validate.route("%s via %s" % (route["to"], route["via"]), what=where)
        except HostnetError as exc:
            errors.append(str(exc))
            continue
        via, dst = netaddr.IPAddress(route["via"]), netaddr.IPNetwork(route["to"])
        own, own_host = (subnet, host) if dst.version == 4 else (six and six.cidr, six)
        if dst.version == 6 and six is None:
            if not (net.get("ipv6") or {}).get("address"):  # a malformed one has its own message
                errors.append("%s: an IPv6 route goes through a guest's address of the network's IPv6 prefix, and"
                              " the network has no field 'ipv6'; give it ipv6 (e.g. address: fd00:66::1/64)" % where)
        elif own is not None and (via not in own or (own_host is not None and via == own_host.ip)):
            errors.append("%s: gateway %s is not a guest address of the network (%s, the host's %s); give the address"
                          " of the guest that routes %s" % (where, via, own, own_host.ip if own_host else "none", dst))
        elif own is not None and _validate.overlaps(dst, own):
            errors.append("%s: %s overlaps the network's own %s %s; give a subnet behind a guest"
                          % (where, dst, "subnet" if dst.version == 4 else "IPv6 prefix", own))
        elif route.get("proxy_arp") and dst.prefixlen != (32 if dst.version == 4 else 128):
            errors.append("%s: proxy_arp answers for one address of the uplink's LAN; give 'to' as ADDRESS/32 (IPv4)"
                          " or ADDRESS/128 (IPv6, proxy NDP) (%s is a subnet)" % (where, dst))
    return errors


def check_overlaps(networks, subnets):
    """A routed network's routes must not claim another network's subnet."""
    errors = []
    for net in networks:
        if net.get("kind") != "routed" or net.get("state", "present") != "present":
            continue
        for index, route in enumerate(net.get("routes") or []):
            dst = _validate.network(route.get("to"))
            for other_name, other in subnets:
                if dst is not None and other_name != net["name"] and _validate.overlaps(dst, other):
                    errors.append("network '%s': field 'routes[%d]' %s overlaps subnet %s of network '%s'; give a"
                                  " subnet no network has" % (net["name"], index, route["to"], other, other_name))
    return errors


def proxies(net):
    """A typed routed network's proxy entries for the engine: 'ADDRESS dev UPLINK' for each route with
    proxy_arp (the host answers ARP, or NDP for an IPv6 address, for it on the uplink)."""
    return sorted("%s dev %s" % (str(netaddr.IPNetwork(r["to"]).ip), net["uplink"])
                  for r in net.get("routes") or [] if r.get("proxy_arp"))


def on_host(normalised, dump):
    """(normalised networks) A routed network's subnet is its own: one that overlaps a subnet of its uplink would
    have the LAN's hosts look for the guests on the LAN itself. A single address of the LAN reaches a guest by a
    route with proxy_arp (proxy NDP for an IPv6 one), which must lie in a subnet of the uplink of its family and not
    be the uplink's own address."""
    errors = []
    for net in normalised:
        if net["kind"] != "routed" or net["state"] != "present" or not net["subnet"]:
            continue
        subnet = netaddr.IPNetwork(net["subnet"])
        lans = [(lan, text) for lan, text in _uplinkhost.address_networks(dump, net["uplink"])
                if not lan.ip.is_link_local()]
        for lan, text in lans:
            if lan.version == 4 and lan.prefixlen < 32 and _validate.overlaps(subnet, lan.cidr):
                errors.append("network '%s': subnet %s overlaps subnet %s of its uplink '%s' (address %s); a routed"
                              " network needs a subnet of its own that the LAN routes to the host (or a route with"
                              " proxy_arp for single addresses of the LAN)" % (net["name"], subnet, lan.cidr, net["uplink"], text))
        for entry in net["proxy_arp"]:
            address = netaddr.IPAddress(entry.split(" ")[0])
            theirs = [lan for lan, _text in lans if lan.version == address.version]
            to = "%s/%d" % (address, 32 if address.version == 4 else 128)
            if any(address == lan.ip for lan in theirs):
                errors.append("network '%s': route to %s with proxy_arp: that is the uplink '%s''s own address;"
                              " give an unused address of its LAN" % (net["name"], to, net["uplink"]))
            elif not any(address in lan.cidr for lan in theirs):
                errors.append("network '%s': route to %s with proxy_arp: the address is in no subnet of the uplink"
                              " '%s' (%s), so no host there would ask for it; drop proxy_arp or give an address of"
                              " its LAN" % (net["name"], to, net["uplink"], ", ".join(str(lan.cidr) for lan in theirs)
                                            or "no IPv%d address" % address.version))
    return errors
