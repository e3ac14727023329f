# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port forwards into nat networks (the seed's vmnet8/nat.conf): the rules of the `forwards` field, their
normalised form, and their nftables JSON (DNAT from outside and from the host itself, the forward accept, and
the masquerade that lets guests of the same network reach a forward: hairpin). Pure.

A forward is IPv4 or IPv6, by its guest's address: an IPv6 guest lies in the network's `ipv6` prefix, which must
be masqueraded (NAT66); a port may be forwarded once per family.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _net6, _nftexpr, _validate

ANY = "*"


def _ip(value):
    try:
        return netaddr.IPAddress(value) if "/" not in str(value) and _validate.literal(value) else None
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def _nat66(net):
    """The nat network's IPv6 host address (netaddr.IPNetwork) when it masquerades IPv6 (as _net6 reads `ipv6`),
    else None."""
    host = _validate.network((net.get("ipv6") or {}).get("address"))
    return host if host is not None and _net6.normalise(net, "nat")["nat"] else None


def _named_guests(net):
    """{name: address} of the network's static DHCP hosts that have a name (what a forward's `guest` may name)."""
    return dict((h["name"], h["address"]) for h in ((net.get("dhcp") or {}).get("hosts") or []) if h.get("name"))


def check(net, label, host, subnet, claims):
    """Problems of one network's forwards. `claims` {(proto, host_address, host_port): 'network N forwards[i]'}
    across the host's networks (a port forwarded twice, also by a forward on every address, is a clash)."""
    forwards = net.get("forwards")
    if not forwards:
        return []
    if net.get("kind", "isolated") != "nat":
        return ["%s: field 'forwards' applies to kind nat (DNAT into a masqueraded network); drop it or set kind: nat"
                % label]
    errors = []
    names = _named_guests(net)
    for index, fwd in enumerate(forwards):
        field = "%s: field 'forwards[%d]" % (label, index)
        for key in ("host_port", "guest_port"):
            value = fwd.get(key)
            if value is not None and not 1 <= value <= 65535:
                errors.append("%s.%s' %s is out of range (1..65535)" % (field, key, value))
        on = _ip(fwd["host_address"]) if fwd.get("host_address") is not None else None
        if fwd.get("host_address") is not None and on is None:
            errors.append("%s.host_address' '%s' is not an IP address; give one of the host's addresses, or leave it"
                          " out for all of them" % (field, fwd["host_address"]))
        guest = _ip(fwd["guest"])
        six = _nat66(net)
        if guest is None and fwd["guest"] not in names:
            errors.append("%s.guest' '%s' is not a guest of network '%s': give an address of its subnet (or of its"
                          " ipv6 prefix) or the name of one of its dhcp.hosts (%s)"
                          % (field, fwd["guest"], net["name"], ", ".join(sorted(names)) or "none has a name"))
        elif guest is not None and guest.version == 6 and six is None:
            errors.append("%s.guest' %s is an IPv6 address, but network '%s' does not masquerade IPv6; give it"
                          " ipv6 with nat (NAT66), or forward to an IPv4 address" % (field, guest, net["name"]))
        elif guest is not None and guest.version == 6 and (guest not in six.cidr or guest in (six.network, six.ip)):
            errors.append("%s.guest' %s is not a guest address of network '%s' (%s, the host's %s); give an address"
                          " inside the ipv6 prefix" % (field, guest, net["name"], six.cidr, six.ip))
        elif guest is not None and guest.version == 4 and subnet is not None and (
                guest not in subnet or guest in (subnet.network, subnet.broadcast) or (host is not None and guest == host.ip)):
            errors.append("%s.guest' %s is not a guest address of network '%s' (%s, the host's %s); give an address"
                          " inside the subnet" % (field, guest, net["name"], subnet, host.ip if host is not None else "-"))
        family = guest.version if guest is not None else 4  # a named guest has its IPv4 reservation
        if on is not None and on.version != family:
            errors.append("%s.host_address' %s is IPv%d and the guest %s is IPv%d; give an address of the guest's"
                          " family, or leave it out" % (field, on, on.version, fwd["guest"], family))
        key = (family, fwd.get("proto") or "tcp", str(on) if on is not None else fwd.get("host_address") or ANY,
               fwd.get("host_port"))
        here = "network '%s' forwards[%d]" % (net["name"], index)
        clash = [other for (fam, proto, address, port), other in sorted(claims.items())
                 if (fam, proto, port) == (key[0], key[1], key[3]) and (address == key[2] or ANY in (address, key[2]))]
        if clash:
            errors.append("%s: %s port %s%s is already forwarded by %s; give one of them another host_port"
                          % (here, key[1], "" if key[2] == ANY else (key[2] if family == 4 else "[%s]" % key[2]) + ":",
                             key[3], clash[0]))
        else:
            claims[key] = here
    return errors


def normalise(net):
    """The forwards of a valid nat network: [{family (4|6), proto, host_address (None: every address of the host),
    host_port, guest (as written), address (the guest's), guest_port}]."""
    names = _named_guests(net)
    out = []
    for fwd in net.get("forwards") or []:
        address = str(_ip(fwd["guest"])) if _ip(fwd["guest"]) is not None else names[fwd["guest"]]
        out.append({"family": 6 if ":" in address else 4, "proto": fwd.get("proto") or "tcp",
                    "host_address": str(_ip(fwd["host_address"])) if fwd.get("host_address") else None,
                    "host_port": fwd["host_port"], "guest": fwd["guest"], "address": address,
                    "guest_port": fwd.get("guest_port") or fwd["host_port"]})
    return out


_match, _payload = _nftexpr.match, _nftexpr.payload  # the shared builders (_nftexpr)
_NFPROTO = {4: _match({"meta": {"key": "nfproto"}}, "ipv4"), 6: _match({"meta": {"key": "nfproto"}}, "ipv6")}
_L3 = {4: "ip", 6: "ip6"}
_LOCAL = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")  # to one of this host's addresses
_DNATTED = _match({"ct": {"key": "status"}}, "dnat", op="in")


def rules(doc, net, counter):
    """Add one network's forwards to the table document (_nftrules._Table)."""
    for fwd in net["forwards"]:
        family = fwd.get("family", 4)
        l3, bracket = _L3[family], "[%s]" if family == 6 else "%s"
        what = "network %s: forward %s %s:%d to %s:%d" % (
            net["name"], fwd["proto"], bracket % fwd["host_address"] if fwd["host_address"] else "*", fwd["host_port"],
            bracket % fwd["address"], fwd["guest_port"])
        to_host = [_NFPROTO[family], _LOCAL] + (
            [_match(_payload(l3, "daddr"), fwd["host_address"])] if fwd["host_address"] else [])
        to_host.append(_match(_payload(fwd["proto"], "dport"), fwd["host_port"]))
        dnat = {"dnat": {"family": l3, "addr": fwd["address"], "port": fwd["guest_port"]}}
        for chain in ("prerouting", "output"):  # from outside, and from the host itself
            doc.rule(chain, to_host + [counter, dnat], what)
        to_guest = [_NFPROTO[family], _match({"meta": {"key": "oifname"}}, net["bridge"]),
                    _match(_payload(l3, "daddr"), fwd["address"]), _match(_payload(fwd["proto"], "dport"), fwd["guest_port"]),
                    _DNATTED]
        doc.rule("forward", to_guest + [counter, {"accept": None}], what)
        # hairpin: a guest of the network reaches the forward; the answer must come back through the host
        inside = net["subnet"] if family == 4 else net["ipv6"]["prefix"]
        doc.rule("postrouting", to_guest + [_match(_payload(l3, "saddr"), _nftexpr.prefix(inside)),
                                            counter, {"masquerade": None}], what + " (hairpin)")
