# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Anti-spoofing on guest ports: the `bridge` family half of the collection's table.

A port is a guest's tap on the bridge of an isolated or nat network (the guest role names its taps, so the port is
known before the guest starts). What the guest sends through it is held to its NIC, libvirt's clean-traffic:

- Ethernet frames only from the NIC's MAC;
- ARP only for that MAC, and only for its addresses (or 0.0.0.0, the probe); DHCP messages only for that MAC;
- never from, nor claiming by ARP or by a neighbour advertisement, the host's own addresses on the bridge (the
  guests' gateway), nor any link-local address formed from another MAC (EUI-64: the host's own link-local address
  on the bridge is one, whatever the host's default, since _nftnet.devices gives the bridge addr_gen_mode eui64;
  it is the IPv6 guests' default router);
- IPv4 only from its addresses: the NIC's declared address (which is also its DHCP reservation), or, for a NIC
  that leases from the pool, its lease (pinned by _leasepins), else any address of the network's subnet; plus the
  DHCP request from 0.0.0.0; a guest that is the gateway of a routed network's `routes` also sends from the subnets
  behind it;
- IPv6 only from link-local addresses, the unspecified address (duplicate address detection) and the network's
  IPv6 prefix (its guests form their addresses by SLAAC, which the host cannot know beforehand), and never from, nor
  claiming, an address of either that another MAC forms (EUI-64); on a network with stateful DHCPv6 (no SLAAC)
  only from, and claiming only, the NIC's own address of the prefix (pinned by _leasepins);
- no router advertisements and no DHCP or DHCPv6 server replies (a guest would otherwise become its neighbours'
  router, or hand them itself as gateway and DNS server);
- no other EtherType (a VLAN tag would otherwise carry anything past the checks above).

A NIC with `trust: true` (a router guest) is not filtered. One base chain on the bridge prerouting hook jumps by
input interface (a verdict map, one lookup however many ports) to the port's own chain; a frame that passes
returns and goes on as before.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - reported by the module
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftexpr, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

SPEC = dict(
    ifname=dict(type="str", required=True),
    mac=dict(type="str", required=True),
    network=dict(type="str", required=True),
    addresses=dict(type="list", elements="str", default=[]),
    trust=dict(type="bool", default=False),
    label=dict(type="str"),
    hostname=dict(type="str"),
)
KINDS = ("isolated", "nat", "routed", "uplink")
PRIORITY = -200  # the bridge family's filter priority


def normalise(ports, networks):
    """Module-validated ports and the networks (as _nftnet.normalise gives them) -> the ports to render: each with
    its bridge, MAC, label and `allowed` (IPv4 addresses or the subnet; None: the network has no subnet to hold
    it to). Raises one HostnetError naming every problem."""
    by_name = dict((n["name"], n) for n in networks if n["state"] == "present")
    errors, out, seen, claims = [], [], {}, {}
    for index, port in enumerate(ports or []):
        label = port.get("label") or "port '%s'" % port.get("ifname")
        try:
            ifname = _validate.ifname(port["ifname"], what="%s: field 'ifname'" % label)
            mac = _validate.mac(port["mac"], what="%s: field 'mac'" % label)
            hostname = _validate.dns_label(port.get("hostname"), "%s: field 'hostname'" % label)
        except HostnetError as exc:
            errors.append(str(exc))
            continue
        if ifname in seen:
            errors.append("%s: interface '%s' is also the tap of %s; give each NIC its own tap"
                          % (label, ifname, seen[ifname]))
            continue
        seen[ifname] = label
        net = by_name.get(port["network"])
        if net is None or net["kind"] not in KINDS:
            errors.append("%s: network '%s' is not a present bridge network of this host; its ports"
                          " are not filtered here" % (label, port["network"]))
            continue
        subnet = netaddr.IPNetwork(net["subnet"]) if net.get("subnet") else None
        allowed = None if subnet is None else [str(subnet.cidr)]
        _claim(claims, (net["name"], mac), label, errors, "MAC %s" % mac, "MAC")
        if port["addresses"]:
            allowed = []
            for value in port["addresses"]:
                try:
                    if not _validate.literal(value.split("/")[0]):
                        raise ValueError(value)
                    address = netaddr.IPAddress(value.split("/")[0], 4)
                except (netaddr.AddrFormatError, ValueError):
                    errors.append("%s: address '%s' is not an IPv4 address" % (label, value))
                    continue
                if subnet is not None and address not in subnet:
                    errors.append("%s: address %s is outside network '%s' (%s)" % (label, address, net["name"], subnet))
                elif str(address) == _ip(net.get("address")):
                    errors.append("%s: address %s is the host's own on network '%s' (the guests' gateway); give the"
                                  " NIC another" % (label, address, net["name"]))
                _claim(claims, (net["name"], str(address)), label, errors, "address %s" % address, "address")
                allowed.append(str(address))
            # the subnets this guest routes for the host (a routed network's routes through its address)
            allowed += [r.split(" via ")[0] for r in net.get("routes") or [] if r.split(" via ")[1] in allowed]
        out.append({"ifname": ifname, "mac": mac, "bridge": net["bridge"], "network": net["name"], "label": label,
                    "trust": port["trust"], "allowed": allowed, "lan": net["kind"] == "uplink",
                    "leases": not port["addresses"],  # no declared address: it leases (_leasepins may pin it)
                    "hostname": hostname,  # the name its pin is written with
                    "prefix6": (net.get("ipv6") or {}).get("prefix"),
                    # the host's own addresses on the bridge (the guests' gateway), which no guest may claim
                    "host": _ip(net.get("address")), "host6": _ip((net.get("ipv6") or {}).get("address")),
                    "reject": net["reject"] if net["kind"] == "uplink" else [],
                    "allow": net["allow"] if net["kind"] == "uplink" else []})
    if errors:
        raise HostnetError("invalid ports: " + "; ".join(errors))
    return out


def _claim(claims, key, label, errors, what, noun):
    """One MAC, one address: a second NIC of the same network that claims it is an error naming both."""
    if key in claims and claims[key] != label:
        errors.append("%s: %s is also %s's on network '%s'; give each NIC its own %s"
                      % (label, what, claims[key], key[0], noun))
    claims.setdefault(key, label)


def _ip(cidr):
    """'ADDRESS/LEN' -> 'ADDRESS' (None stays None)."""
    return str(netaddr.IPNetwork(cidr).ip) if cidr else None


def _host_rules(doc, chain, port, who):
    """The host's own addresses on the bridge are the guests' gateway: a guest may not send from them, nor claim
    them by ARP or by a neighbour advertisement (it would take its neighbours' traffic to the gateway). A pool NIC's
    subnet contains them; a NIC with declared addresses is held tighter anyway."""
    if port["host"]:
        _drop(doc, chain, [_match("arp", "saddr ip", "==", port["host"])], "%s: ARP not for the host's %s" % (who, port["host"]))
        _drop(doc, chain, [_match("ip", "saddr", "==", port["host"])], "%s: not from the host's %s" % (who, port["host"]))
    if port["host6"]:
        _drop(doc, chain, [_match("ip6", "saddr", "==", port["host6"])], "%s: not from the host's %s" % (who, port["host6"]))
        _drop(doc, chain, [_match("icmpv6", "type", "==", "nd-neighbor-advert"), _target(port["host6"])],
              "%s: no neighbour advertisement for the host's %s" % (who, port["host6"]))


def _raw(base, offset, length, value, op="=="):
    """A raw payload match: `length` bits at bit `offset` of header `base` (nh, th) compared with `value`."""
    return _nftexpr.match({"payload": {"base": base, "offset": offset, "len": length}},
                          "0x%0*x" % (length // 4, value), op=op)


def _target(address, op="=="):
    """A neighbour advertisement's target address (bytes 8-23 of the ICMPv6 message; nft 1.0.6 has no
    `icmpv6 taddr`)."""
    return _raw("th", 64, 128, int(netaddr.IPAddress(address)), op=op)


def _eui64_rules(doc, chain, port, who):
    """No address formed from another MAC (EUI-64: ff:fe in the middle of the interface identifier), as a source or
    claimed by a neighbour advertisement: in fe80::/64, and in the network's IPv6 prefix, where the kernel forms a
    SLAAC address the same way. The host's own link-local address on the bridge is one of them (the kernel forms it
    from the bridge's MAC), and it is every IPv6 guest's default router: a guest that claimed it would take its
    neighbours' traffic to the outside; a neighbour's SLAAC address would take that neighbour's. The NIC's own
    addresses of that shape pass, and so do addresses of other kinds (stable-privacy, random, temporary, DHCPv6),
    which the host cannot know beforehand."""
    scopes = [("fe80::/64", "link-local", "link-local address")]
    if port["prefix6"]:
        scopes.append((port["prefix6"], port["prefix6"], "address of " + port["prefix6"]))
    for prefix, source, what in scopes:
        own, upper = _validate.eui64(port["mac"], prefix), _upper64(prefix)
        _drop(doc, chain, [_match("ip6", "saddr", "!=", own), _raw("nh", 64, 64, upper), _raw("nh", 152, 16, 0xfffe)],
              "%s: no EUI-64 %s source but its own (%s)" % (who, source, own))
        _drop(doc, chain, [_match("icmpv6", "type", "==", "nd-neighbor-advert"), _target(own, op="!="),
                           _raw("th", 64, 64, upper), _raw("th", 152, 16, 0xfffe)],
              "%s: no neighbour advertisement for an EUI-64 %s but its own" % (who, what))


def _upper64(prefix):
    """A /64's first 64 bits, as an integer (what a raw payload match of an address's upper half compares)."""
    return int(netaddr.IPNetwork(prefix).network) >> 64


def _match(protocol, field, op, right):
    return _nftexpr.match(_nftexpr.payload(protocol, field), right, op=op)


def _prefixes(values):
    """Addresses stay as they are; a subnet (A.B.C.D/N) becomes an nftables prefix."""
    return [_nftexpr.prefix(value) if "/" in value else value for value in values]


def _drop(doc, chain, expr, comment):
    doc.rule(chain, expr + [_nftexpr.COUNTER, _nftexpr.verdict("drop")], comment)


def _destinations(doc, chain, port, who):
    """An uplink network's `filter` on what its guests send onto the LAN: `reject` destinations dropped, and with
    `allow` only those (and the DHCP request) pass. The bridge family has no reject here, so it is a drop."""
    for cidr in port["reject"]:
        _drop(doc, chain, [_match("ip" if ":" not in cidr else "ip6", "daddr", "==", _prefixes([cidr])[0])],
              "%s: reject %s" % (who, cidr))
    allow4 = [c for c in port["allow"] if ":" not in c]
    allow6 = [c for c in port["allow"] if ":" in c]
    if port["allow"]:
        doc.rule(chain, [_match("ip", "daddr", "==", "255.255.255.255"), _match("udp", "dport", "==", 67),
                         {"return": None}], "%s: DHCP requests" % who)
        ipv4 = _match("ip", "daddr", "!=", {"set": _prefixes(allow4)}) if allow4 else _match("ether", "type", "==", "ip")
        _drop(doc, chain, [ipv4], "%s: IPv4 only to the allowed destinations" % who)
        local6 = [{"prefix": {"addr": "ff02::", "len": 16}}, {"prefix": {"addr": "fe80::", "len": 10}}]
        _drop(doc, chain, [_match("ip6", "daddr", "!=", {"set": _prefixes(allow6) + local6})],
              "%s: IPv6 only to the allowed destinations (and link-local)" % who)


def render(doc, ports):
    """Add the port chains and the base chain to `doc` (a bridge family _Table); nothing for trusted ports."""
    held = [p for p in ports if not p["trust"]]
    if not held:
        return False
    doc.chain("guests", "filter", "prerouting", PRIORITY)
    jumps = []
    for number, port in enumerate(sorted(held, key=lambda p: p["ifname"])):
        chain, who = "port%d" % number, "%s (%s)" % (port["label"], port["ifname"])
        doc.chain(chain)
        jumps.append([port["ifname"], {"jump": {"target": chain}}])
        _drop(doc, chain, [_match("ether", "saddr", "!=", port["mac"])], "%s: frames only from %s" % (who, port["mac"]))
        _drop(doc, chain, [_match("arp", "saddr ether", "!=", port["mac"])], "%s: ARP only for its MAC" % who)
        # a DHCP message names its client by chaddr (bytes 28-33 of the BOOTP payload, after the 8-byte UDP header):
        # another's would release, decline or take over that NIC's lease at the server
        _drop(doc, chain, [_match("udp", "dport", "==", 67), _raw("th", 288, 48, int(port["mac"].replace(":", ""), 16), op="!=")],
              "%s: DHCP only as its MAC (chaddr)" % who)
        _host_rules(doc, chain, port, who)
        if port["allowed"] is not None:
            _drop(doc, chain, [_match("arp", "saddr ip", "!=", {"set": ["0.0.0.0"] + _prefixes(port["allowed"])})],
                  "%s: ARP only for its addresses" % who)
            doc.rule(chain, [_match("ip", "saddr", "==", "0.0.0.0"), _match("ip", "daddr", "==", "255.255.255.255"),
                             _match("udp", "sport", "==", 68), _match("udp", "dport", "==", 67), {"return": None}],
                     "%s: DHCP requests" % who)
            _drop(doc, chain, [_match("ip", "saddr", "!=", {"set": _prefixes(port["allowed"])})],
                  "%s: IPv4 only from its addresses" % who)
        _eui64_rules(doc, chain, port, who)
        _drop(doc, chain, [_match("icmpv6", "type", "==", "nd-router-advert")], "%s: no router advertisements" % who)
        _drop(doc, chain, [_match("udp", "sport", "==", 67)], "%s: no DHCP server (nor relay)" % who)
        _drop(doc, chain, [_match("udp", "sport", "==", 547)], "%s: no DHCPv6 server" % who)
        if port.get("pinned6"):  # stateful DHCPv6: the NIC's one address of the prefix (_leasepins)
            _drop(doc, chain, [_match("icmpv6", "type", "==", "nd-neighbor-advert"), _target(port["pinned6"], op="!="),
                               _raw("th", 64, 64, _upper64(port["prefix6"]))],
                  "%s: no neighbour advertisement for an address of %s but its own (%s)"
                  % (who, port["prefix6"], port["pinned6"]))
        if not port["lan"]:  # on an uplink network the LAN gives IPv6 addresses the host does not know
            own = port.get("pinned6") or port["prefix6"]
            sources = ["::", {"prefix": {"addr": "fe80::", "len": 10}}] + _prefixes([own] if own else [])
            _drop(doc, chain, [_match("ip6", "saddr", "!=", {"set": sources})],
                  "%s: IPv6 only link-local and from %s" % (who, own) if own
                  else "%s: IPv6 only link-local (the network has no IPv6 prefix)" % who)
        _destinations(doc, chain, port, who)
        _drop(doc, chain, [_match("ether", "type", "!=", {"set": ["ip", "arp", "ip6"]})],
              "%s: no other EtherType (no VLAN tags)" % who)
    doc.rule("guests", [{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": {"set": jumps}}}],
             "guest ports: each to its own chain")
    return True
