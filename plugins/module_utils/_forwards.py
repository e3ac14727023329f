# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Port forwards into nat networks (the seed's vmnet8/nat.conf): the rules of the `forwards` field, their
normalised form, and their nftables JSON (DNAT from outside and from the host itself, the forward accept, and
the masquerade that lets guests of the same network reach a forward: hairpin). Pure.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftexpr, _validate

ANY = "*"


def _ip(value):
    try:
        return netaddr.IPAddress(value, 4) if "/" not in str(value) and _validate.literal(value) else None
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


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
        if fwd.get("host_address") is not None and _ip(fwd["host_address"]) is None:
            errors.append("%s.host_address' '%s' is not an IPv4 address; give one of the host's addresses, or leave it"
                          " out for all of them" % (field, fwd["host_address"]))
        guest = _ip(fwd["guest"])
        if guest is None and fwd["guest"] not in names:
            errors.append("%s.guest' '%s' is not a guest of network '%s': give an IPv4 address of its subnet or the"
                          " name of one of its dhcp.hosts (%s)" % (field, fwd["guest"], net["name"],
                                                                   ", ".join(sorted(names)) or "none has a name"))
        elif guest is not None and subnet is not None and (guest not in subnet or guest in (subnet.network, subnet.broadcast)
                                                           or (host is not None and guest == host.ip)):
            errors.append("%s.guest' %s is not a guest address of network '%s' (%s, the host's %s); give an address"
                          " inside the subnet" % (field, guest, net["name"], subnet, host.ip if host is not None else "-"))
        key = (fwd.get("proto") or "tcp", str(_ip(fwd["host_address"]) or fwd["host_address"])
               if fwd.get("host_address") else ANY, fwd.get("host_port"))
        here = "network '%s' forwards[%d]" % (net["name"], index)
        clash = [other for (proto, address, port), other in sorted(claims.items())
                 if (proto, port) == (key[0], key[2]) and (address == key[1] or ANY in (address, key[1]))]
        if clash:
            errors.append("%s: %s port %s%s is already forwarded by %s; give one of them another host_port"
                          % (here, key[0], "" if key[1] == ANY else key[1] + ":", key[2], clash[0]))
        else:
            claims[key] = here
    return errors


def normalise(net):
    """The forwards of a valid nat network: [{proto, host_address (None: every address of the host), host_port,
    guest (as written), address (the guest's), guest_port}]."""
    names = _named_guests(net)
    out = []
    for fwd in net.get("forwards") or []:
        address = str(_ip(fwd["guest"])) if _ip(fwd["guest"]) is not None else names[fwd["guest"]]
        out.append({"proto": fwd.get("proto") or "tcp",
                    "host_address": str(_ip(fwd["host_address"])) if fwd.get("host_address") else None,
                    "host_port": fwd["host_port"], "guest": fwd["guest"], "address": address,
                    "guest_port": fwd.get("guest_port") or fwd["host_port"]})
    return out


_match, _payload = _nftexpr.match, _nftexpr.payload  # the shared builders (_nftexpr)
_IPV4 = _match({"meta": {"key": "nfproto"}}, "ipv4")
_LOCAL = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")  # to one of this host's addresses
_DNATTED = _match({"ct": {"key": "status"}}, "dnat", op="in")


def rules(doc, net, counter):
    """Add one network's forwards to the table document (_nftrules._Table)."""
    for fwd in net["forwards"]:
        what = "network %s: forward %s %s:%d to %s:%d" % (net["name"], fwd["proto"], fwd["host_address"] or "*",
                                                          fwd["host_port"], fwd["address"], fwd["guest_port"])
        to_host = [_IPV4, _LOCAL] + ([_match(_payload("ip", "daddr"), fwd["host_address"])] if fwd["host_address"] else [])
        to_host.append(_match(_payload(fwd["proto"], "dport"), fwd["host_port"]))
        dnat = {"dnat": {"family": "ip", "addr": fwd["address"], "port": fwd["guest_port"]}}
        for chain in ("prerouting", "output"):  # from outside, and from the host itself
            doc.rule(chain, to_host + [counter, dnat], what)
        to_guest = [_IPV4, _match({"meta": {"key": "oifname"}}, net["bridge"]), _match(_payload("ip", "daddr"), fwd["address"]),
                    _match(_payload(fwd["proto"], "dport"), fwd["guest_port"]), _DNATTED]
        doc.rule("forward", to_guest + [counter, {"accept": None}], what)
        # hairpin: a guest of the network reaches the forward; the answer must come back through the host
        doc.rule("postrouting", to_guest + [_match(_payload("ip", "saddr"), _nftexpr.prefix(net["subnet"])),
                                            counter, {"masquerade": None}], what + " (hairpin)")
