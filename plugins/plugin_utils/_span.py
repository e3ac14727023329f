# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Networks that span hosts, seen from the whole inventory (controller side, pure): every host that declares a
spanned network takes part; its peers are the tunnel endpoints (VTEPs) of the other hosts that declare it, taken
from each host's own variables and facts, never from the order of hosts; one host is the network's gateway and
DHCP/DNS owner. Definitions are checked across hosts before anything changes, with messages naming both hosts.

The per-host rules of a `span` (types, ranges, the VTEP being on the host, the MTU fitting the underlay) are the
networks module's (module_utils/_spannet.py); this file only reads what it needs and leaves malformed entries to
that module's messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    import netaddr
except ImportError:  # pragma: no cover - the filter says so
    netaddr = None

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._argspec import plain
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._spannet import ASN_RANGE
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _cloudinit, _guest

# what every host must declare alike (the gateway host too: two hosts naming different gateways is a conflict)
SAME = (("kind", "isolated"), ("subnet", None), ("span.vni", None), ("span.port", 4789), ("span.mtu", None),
        ("span.control_plane", "static"), ("span.gateway_host", None))
DERIVED = ("local", "peers", "gateway", "bgp")
DEFAULT_ASN = 64512  # the first private 16-bit AS number (RFC 6996)


def _field(net, path, default):
    value = net
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return default if value is None else value


def _subnet(net):
    """The network's subnet as text (given, or the one of its address), None when neither parses."""
    for key in ("subnet", "address"):
        value = net.get(key)
        if isinstance(value, str) and "/" in value:
            net = _validate.network(value)
            return None if net is None else str(net.cidr)
    return None


def _spanned(networks):
    """{name: network} of the well-formed spanned networks of one host (malformed ones are the module's to report)."""
    out = {}
    for net in networks if isinstance(networks, list) else []:
        if not (isinstance(net, dict) and isinstance(net.get("name"), str) and isinstance(net.get("span"), dict)):
            continue
        vni = net["span"].get("vni")
        if isinstance(vni, str) and vni.isdigit():  # as the module's spec converts it
            net["span"]["vni"] = vni = int(vni)
        if isinstance(vni, int) and not isinstance(vni, bool):
            out[net["name"]] = net
    return out


def _vtep(host, data):
    """(address, problem) of a host's tunnel endpoint: hostnet_network_vtep_address, else the IPv4 address of
    hostnet_network_vtep_interface, else the host's default IPv4 address, from its facts."""
    given, iface, facts = data.get("vtep_address"), data.get("vtep_interface"), data.get("facts") or {}
    if given:
        try:
            if not _validate.literal(str(given)):
                raise ValueError(given)
            address = netaddr.IPAddress(str(given))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            return None, "host '%s': hostnet_network_vtep_address '%s' is not an IP address" % (host, given)
        return str(address), None
    if not facts:
        return None, ("host '%s': its VTEP address is unknown (no facts: it is not in this play, or facts were not"
                      " gathered); set hostnet_network_vtep_address for it in the inventory, or run the play on it"
                      % host)
    if iface:
        if iface not in (facts.get("interfaces") or []):
            return None, ("host '%s': hostnet_network_vtep_interface '%s' does not exist (found: %s); name the"
                          " interface the tunnels run over" % (host, iface, ", ".join(sorted(facts.get("interfaces") or []))))
        address = ((facts.get(iface.replace("-", "_")) or facts.get(iface) or {}).get("ipv4") or {}).get("address")
        if not address:
            return None, ("host '%s': hostnet_network_vtep_interface '%s' has no IPv4 address; give it one or set"
                          " hostnet_network_vtep_address" % (host, iface))
        return address, None
    address = (facts.get("default_ipv4") or {}).get("address")
    if not address:
        return None, ("host '%s': it has no default IPv4 address to use as its VTEP; set hostnet_network_vtep_address"
                      " or hostnet_network_vtep_interface" % host)
    return address, None


def plan(hosts, evpn=None):
    """hosts: {host: {networks, vtep_address, vtep_interface, facts, absent, guests, mac_prefix}} for every host of
    the inventory (absent: the host's hostnet_network_state is absent, so it takes part in no network; guests and
    mac_prefix: its hostnet_guest_guests and hostnet_guest_mac_prefix). evpn: {asn, route_reflectors} for the
    networks with control_plane evpn (one iBGP AS for the inventory).

    Returns {"problems": [...], "networks": {host: its networks with span.local, span.peers, span.gateway and, under
    EVPN, span.bgp filled in; on the gateway host, the other members' guests' static addresses in its DHCP and
    DNS}}. A host without spanned networks gets its networks back unchanged."""
    if netaddr is None:
        raise HostnetError("the Python library netaddr is required on the controller for spanned networks"
                           " (pip install netaddr)")
    problems = []
    declared = {}  # network name -> {host: network}
    hosts = dict((h, dict(d, networks=plain(d.get("networks")))) for h, d in hosts.items())
    for host in sorted(hosts):
        for name, net in _spanned(hosts[host].get("networks")).items():
            for key in DERIVED:
                if net["span"].get(key) is not None:
                    problems.append("network '%s' on host '%s': field 'span.%s' is derived by the role from the"
                                    " inventory; drop it" % (name, host, key))
            declared.setdefault(name, {})[host] = net
    members, vteps, owners = {}, {}, {}
    for name in sorted(declared):
        present = dict((h, n) for h, n in declared[name].items()
                       if n.get("state", "present") == "present" and not hosts[h].get("absent"))
        problems += _differences(name, present)
        members[name] = sorted(present)
        owner, problem = _gateway(name, present)
        owners[name] = owner
        if problem:
            problems.append(problem)
    problems += _vni_clashes(declared)
    for host in sorted(set(h for hs in members.values() for h in hs)):
        address, problem = _vtep(host, hosts[host])
        if problem:
            problems.append(problem)
        vteps[host] = address
    seen = {}
    for host, address in sorted(vteps.items()):
        if address is not None and address in seen:
            problems.append("hosts '%s' and '%s' have the same VTEP address %s; give each host its own"
                            " (hostnet_network_vtep_address)" % (seen[address], host, address))
        seen.setdefault(address, host)
    bgp, evpn_problems = _bgp(hosts, declared, members, vteps, evpn or {})
    problems += evpn_problems
    remote, clashes = _reserved(hosts, members, owners)
    problems += clashes
    out = {}
    for host in hosts:
        nets = hosts[host].get("networks")
        for net in _spanned(nets).values():
            name = net["name"]
            net["span"]["gateway"] = owners.get(name) == host
            if host in members.get(name, []):
                net["span"]["local"] = vteps.get(host)
                net["span"]["peers"] = sorted(vteps[h] for h in members[name] if h != host and vteps.get(h))
                if host in bgp and _field(net, "span.control_plane", "static") == "evpn":
                    net["span"]["bgp"] = bgp[host]
        out[host] = _cloudinit.reserve(nets, remote.get(host) or {}) if remote.get(host) else nets
    return {"problems": problems, "networks": out}


def _reserved(hosts, members, owners):
    """({gateway host: {network: [static address of another member's guest]}}, problems): a spanned network's DHCP
    and DNS run on its gateway, so the static addresses of the guests of every other member are reserved there. Two
    guests of the segment taking one address is refused, naming both. A member's guests that do not validate add
    nothing (the guest role's preflight names them)."""
    remote, problems, static = {}, [], {}
    for name in sorted(members):
        owner, seen = owners.get(name), {}
        for host in members[name]:
            if host not in static:  # each member's guests once, against its own networks
                data = hosts[host]
                found = _guest.normalise_lenient(plain(data.get("guests")), {"mac_prefix": data.get("mac_prefix")
                                                                             or "52:54:00"}, data["networks"])
                static[host] = _cloudinit.static_addresses(found or [])
            for entry in static[host].get(name) or []:
                who = "%s on %s" % (entry.get("guest"), host)
                if entry["address"] in seen:
                    problems.append("network '%s': %s and %s both take address %s; give one of them another"
                                    % (name, seen[entry["address"]], who, entry["address"]))
                    continue
                seen[entry["address"]] = who
                if owner and host != owner:
                    remote.setdefault(owner, {}).setdefault(name, []).append(entry)
    return remote, problems


def _bgp(hosts, declared, members, vteps, evpn):
    """({host: {asn, neighbors, reflector}}, problems) for the hosts taking part in an EVPN network: one iBGP AS;
    a full mesh of their VTEPs, or, with route reflectors named, each reflector peers with every other host and
    every other host with the reflectors only."""
    speakers = sorted(set(h for name in declared for h in members.get(name, [])
                          if _field(declared[name][h], "span.control_plane", "static") == "evpn"))
    asn = evpn.get("asn")
    asn = DEFAULT_ASN if asn in (None, "") else asn
    reflectors = evpn.get("route_reflectors") or []
    problems = []
    if not isinstance(asn, int) or isinstance(asn, bool) or not ASN_RANGE[0] <= asn <= ASN_RANGE[1]:
        problems.append("hostnet_network_evpn_asn %r is not an AS number (%d..%d)" % ((asn,) + ASN_RANGE))
    if not isinstance(reflectors, list):
        return {}, problems + ["hostnet_network_evpn_route_reflectors %r is not a list of inventory hosts"
                               % (reflectors,)]
    for name in reflectors:
        if name not in hosts:
            problems.append("hostnet_network_evpn_route_reflectors: host '%s' is not in the inventory; name hosts"
                            " that declare a network with control_plane evpn" % name)
        elif name not in speakers:
            problems.append("hostnet_network_evpn_route_reflectors: host '%s' declares no network with control_plane"
                            " evpn, so it runs no BGP; name hosts that do (%s)" % (name, ", ".join(speakers) or "none"))
    if problems or not speakers:
        return {}, problems
    out = {}
    for host in speakers:
        others = [h for h in speakers if h != host and (not reflectors or host in reflectors or h in reflectors)]
        out[host] = {"asn": asn, "reflector": host in reflectors,
                     "neighbors": sorted(vteps[h] for h in others if vteps.get(h))}
    return out, problems


def _differences(name, present):
    """Messages for every field two hosts declare differently (the first host in name order is the reference)."""
    problems = []
    hosts = sorted(present)
    for path, default in SAME:
        values = dict((h, _subnet(present[h]) if path == "subnet" else _field(present[h], path, default)) for h in hosts)
        if path == "subnet":  # only the hosts that give one (a bare bridge host may leave it out)
            values = dict((h, v) for h, v in values.items() if v is not None)
        reference = None
        for host in sorted(values):
            if reference is None:
                reference = host
            elif values[host] != values[reference]:
                problems.append("network '%s': %s is %s on host '%s' but %s on host '%s'; declare the network the same"
                                " on every host" % (name, path, values[reference], reference, values[host], host))
                break
    return problems


def _gateway(name, present):
    """(the gateway host or None, problem): span.gateway_host, else the one host with an address or kind nat."""
    named = set(_field(n, "span.gateway_host", None) for n in present.values()) - {None}
    if len(named) == 1:
        gateway = named.pop()
        if gateway not in present:
            return None, ("network '%s': span.gateway_host '%s' does not declare the network (declared by: %s); name"
                          " one of them" % (name, gateway, ", ".join(sorted(present))))
        return gateway, None
    if named:
        return None, None  # reported by _differences
    claimants = sorted(h for h, n in present.items() if n.get("address") or n.get("kind") == "nat")
    if len(claimants) > 1:
        return None, ("network '%s': hosts %s each declare an address or kind nat, so each would be its gateway and"
                      " DHCP/DNS server on one segment; name the one with span.gateway_host"
                      % (name, " and ".join("'%s'" % h for h in claimants)))
    return (claimants[0] if claimants else None), None


def _vni_clashes(declared):
    problems, by_vni = [], {}
    for name in sorted(declared):
        for host in sorted(declared[name]):
            vni = declared[name][host]["span"]["vni"]
            other = by_vni.get(vni)
            if other is not None and other[0] != name:
                problems.append("network '%s' (host '%s') and network '%s' (host '%s') both use span.vni %d; give each"
                                " spanned network its own VNI" % (other[0], other[1], name, host, vni))
                break
            by_vni.setdefault(vni, (name, host))
    return problems
