# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kind macvtap: guests on macvtaps over a parent link, the host on its own macvlan (host_interface) beside them.
The checks of its fields (_nftnet.check) and against the host (_nftnet.validate_on_host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _uplinkhost, _validate


def check(net, label, host_if, state, links):
    """Problems of a macvtap network: its parent link, and the host interface that needs an address."""
    errors = []
    link = net.get("link")
    if not link:
        return ["%s: a macvtap network needs field 'link' (the parent interface its guests' macvtaps sit on, e.g. eth1)"
                % label]
    if link == host_if:
        errors.append("%s: field 'link' is the network's own host interface; give the parent interface" % label)
    elif links is not None and link not in links and state == "present":
        errors.append("%s: field 'link' '%s' does not exist on this host; give an existing interface (found: %s)"
                      % (label, link, ", ".join(sorted(links)) or "none"))
    for field in ("host_interface", "takeover"):
        if net.get(field) and not net.get("address"):
            errors.append("%s: field '%s' needs field 'address' (the host's address on the guests' LAN);"
                          " add it, or drop %s" % (label, field, field))
    return errors


def on_host(normalised, dump):
    """(normalised networks) The host reaches macvtap guests only through its macvlan: the macvlan layer does not
    hand the parent's own traffic to the guests. A parent that keeps an address in the network's subnet (with a
    prefix route as long as the network's, or longer) has the host's traffic to the guests leave by the parent,
    where it never arrives: refused, unless the network takes the parent's addresses over (`takeover`), which needs
    the network's address on the parent (or, moved already, on the host's macvlan)."""
    errors = []
    for net in normalised:
        if net["kind"] != "macvtap" or net["state"] != "present" or not net["address"]:
            continue
        if net["takeover"]:
            parent = [a for _n, a in _uplinkhost.address_networks(dump, net["link"])]
            moved = [a for _n, a in _uplinkhost.address_networks(dump, net["host_interface"])]
            if net["address"] not in parent + moved:
                errors.append("network '%s': field 'takeover' moves the parent's addresses to '%s', but the parent '%s'"
                              " does not have the network's address %s (it has: %s); give as address the one the"
                              " parent has" % (net["name"], net["host_interface"], net["link"], net["address"],
                                               ", ".join(parent) or "none"))
            continue
        subnet = netaddr.IPNetwork(net["subnet"])
        for theirs, address in _uplinkhost.address_networks(dump, net["link"]):
            # a wider prefix on the parent loses to the network's own route; an equal or narrower one wins
            if theirs.prefixlen < subnet.prefixlen or theirs.prefixlen == (32 if theirs.version == 4 else 128) \
                    or not _validate.overlaps(subnet, theirs.cidr):
                continue
            errors.append("network '%s': the parent '%s' keeps address %s in the network's subnet %s, so the host's"
                          " traffic to the guests would leave by '%s', where macvtap guests never see it (the macvlan"
                          " layer does not hairpin to its parent). Either use a subnet '%s' does not have, or let the"
                          " network take the parent's addresses and routes over: address: %s and takeover: true"
                          % (net["name"], net["link"], address, subnet, net["link"], net["link"], address))
    return errors
