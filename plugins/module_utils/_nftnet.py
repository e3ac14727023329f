# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Networks of the hostnet.qemu.network role: validation, the netdevs device set, the nftables ruleset.

Pure functions (no kernel access): `check()` returns every problem found in a list of networks, each
message naming the network, the field and the fix; `devices()` is the one device set handed to the
engine; `normalise()` is what the ruleset (_nftrules) and DHCP (_dhcp) are rendered from.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_NETADDR = False

from ansible_collections.hostnet.qemu.plugins.module_utils import (_dhcp, _forwarding, _forwards, _macvtapnet, _net6,
                                                                   _netspec, _routednet, _spannet, _uplinkhost, _validate,
                                                                   _vlannet)
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

KINDS = tuple(_netspec.KINDS)


def _ifname_problem(value):
    """The problem of an interface name derived from a network name (given names are checked by the spec)."""
    try:
        _validate.ifname(value)
    except HostnetError as exc:
        return str(exc).split(": ", 1)[-1]
    return None


_cidr = _validate.network  # a CIDR string -> netaddr.IPNetwork, or None if it is not one


def _host_address(value):
    """'A.B.C.D/N' -> IPNetwork; a host address must carry its prefix length."""
    if not isinstance(value, str) or "/" not in value:
        return None
    return _cidr(value)


def check(networks, links=None):
    """Every problem in `networks` as a list of messages (empty: all fine).

    Types, choices, unknown fields and the values' own validity come from the spec (_netspec); the rules
    between fields and between networks are here. `links` is the set of interface names on the host (None: do
    not check that uplinks exist).
    """
    if not HAS_NETADDR:
        raise HostnetError("the Python library netaddr is required on the managed host (python3-netaddr)")
    networks, errors = _netspec.parse(networks)
    if errors:  # the rules below need typed values
        return errors
    seen_names, seen_bridges, subnets = {}, {}, []
    uplink_nics = {}  # NIC -> network name (kind uplink)
    dhcp_ranges = []  # (network, field, range) of present networks: DHCP ranges must not overlap across them
    vnis = {}  # VNI -> network name (spanned networks)
    forwarded = {}  # (proto, host address or *, port) -> the forward that claims it
    prefixes6 = []  # (network, IPv6 prefix) of present networks
    for index, net in enumerate(networks):
        name = net["name"]
        label = "network '%s'" % name
        if name in seen_names:
            errors.append("%s: field 'name' is used twice (entries %d and %d); names must be unique"
                          % (label, seen_names[name], index))
        else:
            seen_names[name] = index
        kind = net.get("kind", "isolated")
        # the network's own device: its bridge, or (macvtap) the host's macvlan interface
        devfield = "host_interface" if kind == "macvtap" else "bridge"
        if kind == "macvtap" and net.get("bridge"):
            errors.append("%s: field 'bridge' does not apply to kind macvtap (guests sit on macvtaps over field 'link');"
                          " drop it, or name the host's interface with 'host_interface'" % label)
        elif kind != "macvtap" and net.get("host_interface"):
            errors.append("%s: field 'host_interface' only applies to kind macvtap; drop it" % label)
        bridge = net.get(devfield) or name
        problem = None if net.get(devfield) else _ifname_problem(bridge)
        if problem:
            errors.append("%s: field '%s' (by default the network's name) %s; give %s an interface name"
                          % (label, devfield, problem, devfield))
        elif bridge in seen_bridges:
            errors.append("%s: field '%s' '%s' is already the device of network '%s'; give each network its own %s"
                          % (label, devfield, bridge, seen_bridges[bridge], devfield))
        else:
            seen_bridges[bridge] = name
        state = net.get("state", "present")
        address = net.get("address")
        host = None
        if address is not None:
            host = _host_address(address)
            if host is None:
                errors.append("%s: field 'address' '%s' is not a host address with a prefix length; give e.g. 192.168.50.1/24"
                              % (label, address))
        subnet = None
        if net.get("subnet") is not None:
            subnet = _cidr(net["subnet"])
            if subnet is None or "/" not in str(net["subnet"]):
                errors.append("%s: field 'subnet' '%s' is not a CIDR; give e.g. 192.168.50.0/24" % (label, net["subnet"]))
                subnet = None
            elif subnet.ip != subnet.network:
                errors.append("%s: field 'subnet' '%s' has host bits set; give the network address, e.g. %s"
                              % (label, net["subnet"], subnet.cidr))
                subnet = None
        elif host is not None:
            subnet = host.cidr
        if host is not None and subnet is not None and net.get("subnet") is not None:
            if host.ip not in subnet or host.prefixlen != subnet.prefixlen:
                errors.append("%s: field 'address' %s is not a host address of field 'subnet' %s; give an address inside"
                              " the subnet with the same prefix length (e.g. %s/%d)"
                              % (label, address, subnet, subnet[1] if subnet.size > 1 else subnet.ip, subnet.prefixlen))
            elif host.ip in (subnet.network, subnet.broadcast) and subnet.prefixlen < 31:
                errors.append("%s: field 'address' %s is the subnet's network or broadcast address; use another host address"
                              % (label, address))
        errors.extend(_spannet.check(net, label, vnis))
        if state == "present":
            errors.extend(_forwards.check(net, label, host, subnet, forwarded))
        if kind == "nat" and not _spannet.owner(net):
            pass  # another host is this spanned network's gateway: its address and uplink are that host's
        elif kind in _netspec.GATEWAY_KINDS:
            if host is None and address is None:
                errors.append("%s: a %s network needs field 'address' (the host's address on the bridge, the guests'"
                              " gateway), e.g. 192.168.50.1/24" % (label, kind))
            if host is not None and host.version != 4:
                errors.append("%s: field 'address' %s: %s is IPv4 only here; give an IPv4 address"
                              % (label, address, "nat (masquerade)" if kind == "nat" else "routing"))
            uplink = net.get("uplink")
            if not uplink:
                errors.append("%s: a %s network needs field 'uplink' (the interface traffic leaves by, e.g. eth0)"
                              % (label, kind))
            else:
                if uplink == bridge:
                    errors.append("%s: field 'uplink' is the network's own bridge; give the outside interface" % label)
                elif links is not None and uplink not in links and state == "present" \
                        and uplink not in _uplink_bridges(networks):  # the bridge of an uplink network will exist
                    errors.append("%s: field 'uplink' '%s' does not exist on this host; give an existing interface"
                                  " (found: %s)" % (label, uplink, ", ".join(sorted(links)) or "none"))
        elif kind == "uplink":
            errors.extend(_check_uplink(net, label, bridge, state, links, uplink_nics))
        elif net.get("uplink"):
            errors.append("%s: field 'uplink' only applies to kinds nat, routed and uplink; drop it or set kind: nat"
                          % label)
        if kind != "uplink":
            errors += ["%s: field '%s' only applies to kind uplink (the DHCP client on the bridge that takes over the"
                       " NIC); drop it" % (label, field) for field in ("dhcp_client", "route_metric")
                       if net.get(field) is not None]
        if kind == "macvtap":
            errors.extend(_macvtapnet.check(net, label, bridge, state, links))
        else:
            errors += ["%s: field '%s' only applies to kind macvtap; drop it or set kind: macvtap" % (label, field)
                       for field in ("link", "takeover") if net.get(field)]
        errors.extend(_routednet.check(net, label, kind, host, subnet))
        errors.extend(_vlannet.check(net, label, kind))
        errors.extend(_net6.check(net, label, kind, prefixes6))
        rules = net.get("filter") or {}
        for key in ("allow", "reject"):
            for value in rules.get(key) or []:
                if _cidr(value) is None:
                    errors.append("%s: field 'filter.%s' entry '%s' is not a CIDR; give e.g. 10.0.0.0/24 or 10.0.0.5/32"
                                  % (label, key, value))
        if rules and kind in ("isolated", "macvtap") and (rules.get("allow") or rules.get("reject")):
            errors.append("%s: field 'filter' only applies to kind nat (%s); drop it"
                          % (label, "an isolated network forwards nothing" if kind == "isolated"
                             else "macvtap guests' traffic leaves by the parent link, not through the host's forward path"))
        errors.extend(_dhcp.check(net, label, kind, host, subnet, state, dhcp_ranges))
        if subnet is not None and state == "present":
            for other_name, other in subnets:
                if _validate.overlaps(subnet, other):
                    errors.append("%s: subnet %s overlaps subnet %s of network '%s'; give each network its own subnet"
                                  % (label, subnet, other, other_name))
            subnets.append((name, subnet))
    errors.extend(_check_uplink_claims(networks, seen_bridges, uplink_nics))
    errors.extend(_routednet.check_overlaps(networks, subnets + prefixes6))
    errors.extend(_spannet.check_host(networks))
    return errors


def _check_uplink(net, label, bridge, state, links, uplink_nics):
    """Problems of an uplink network: the NIC the bridge takes over (with its addresses and routes)."""
    errors = []
    for key, why in (("address", "the bridge takes over the NIC's own addresses"),
                     ("subnet", "the bridge takes over the NIC's own addresses")):
        if net.get(key):
            errors.append("%s: field '%s' does not apply to kind uplink (%s); drop it" % (label, key, why))
    metric = net.get("route_metric")
    if metric is not None and not net.get("dhcp_client"):
        errors.append("%s: field 'route_metric' is the metric of the default route a DHCP lease gives; it needs"
                      " dhcp_client: true (a NIC's own routes move with their metrics)" % label)
    elif metric is not None and not 0 <= metric <= 4294967295:
        errors.append("%s: field 'route_metric' %d is out of range; give 0 to 4294967295" % (label, metric))
    nic = net.get("uplink")
    if not nic:
        return errors + ["%s: an uplink network needs field 'uplink' (the host's NIC the bridge takes over with its"
                         " addresses and routes, e.g. eth1)" % label]
    if nic == bridge:
        return errors + ["%s: field 'uplink' '%s' is the network's own bridge; give the NIC the bridge takes over"
                         " (e.g. eth1), or another name in field 'bridge'" % (label, nic)]
    if nic in uplink_nics:
        return errors + ["%s: field 'uplink' '%s' is already the uplink of network '%s'; a NIC can be the port of one"
                         " bridge only: give each uplink network its own NIC" % (label, nic, uplink_nics[nic])]
    uplink_nics[nic] = net.get("name")
    if links is not None and state == "present":
        if nic not in links:
            errors.append("%s: field 'uplink' '%s' does not exist on this host; give an existing interface (found: %s)"
                          % (label, nic, ", ".join(sorted(links)) or "none"))
        elif isinstance(links, dict) and links[nic] and links[nic] != bridge:
            errors.append("%s: field 'uplink' '%s' is already a port of '%s', not of this network's bridge '%s';"
                          " release it first (ip link set %s nomaster) or give bridge: %s"
                          % (label, nic, links[nic], bridge, nic, links[nic]))
    return errors


def _check_uplink_claims(networks, seen_bridges, uplink_nics):
    """An uplink NIC is nobody else's: not another network's bridge, nat uplink or macvtap parent."""
    errors = []
    owners = dict((nic, name) for nic, name in uplink_nics.items())
    for nic, name in sorted(owners.items()):
        other = seen_bridges.get(nic)
        if other is not None and other != name:
            errors.append("network '%s': field 'uplink' '%s' is the bridge of network '%s'; give the NIC the bridge"
                          " takes over" % (name, nic, other))
    bridges = dict((n.get("name"), n.get("bridge") or n.get("name")) for n in networks if isinstance(n, dict))
    for net in networks:
        if not isinstance(net, dict) or net.get("state", "present") != "present":
            continue
        kind = net.get("kind", "isolated")
        field = "uplink" if kind in _netspec.GATEWAY_KINDS else "link" if kind == "macvtap" else None
        value = net.get(field) if field else None
        if value in owners:
            errors.append("network '%s': field '%s' '%s' is the NIC of uplink network '%s', whose addresses move to its"
                          " bridge; give the bridge '%s' instead" % (net.get("name"), field, value, owners[value],
                                                                     bridges.get(owners[value])))
    return errors


def _uplink_bridges(networks):
    return set(n.get("bridge") or n.get("name") for n in networks
               if isinstance(n, dict) and n.get("kind") == "uplink" and n.get("state", "present") == "present")


def uplinks(networks):
    """The NICs whose addresses and routes move, for the uplink module: [{name, bridge, nic, state, via, dhcp,
    route_metric}] - an uplink network's NIC onto its bridge, a macvtap network's parent (takeover) onto the host's
    macvlan."""
    out = []
    for n in normalise(networks):
        if n["kind"] == "uplink":
            out.append({"name": n["name"], "bridge": n["bridge"], "nic": n["uplink"], "state": n["state"],
                        "via": "bridge", "dhcp": n["dhcp_client"], "route_metric": n["route_metric"] or 0,
                        "vlans": n["vlans"]})
        elif n["takeover"]:
            out.append({"name": n["name"], "bridge": n["host_interface"], "nic": n["link"], "state": n["state"],
                        "via": "macvlan", "dhcp": False, "route_metric": 0, "vlans": []})
    return out


def validate(networks, links=None):
    """check() that raises one HostnetError listing every problem; returns the typed networks (booleans
    converted, left-out fields absent), which is what every other function here expects."""
    errors = check(networks, links)
    if errors:
        raise HostnetError("invalid hostnet_network_networks: " + "; ".join(errors))
    return _netspec.parse(networks)[0]


def validate_on_host(networks, tunnels=True):
    """validate() against this host's links (an uplink NIC must exist and be no other bridge's port), then what
    only the host shows about uplink NICs (dynamic addresses, a network manager configuring them) and, unless
    `tunnels` is false (everything is being removed), about the tunnel endpoint of spanned networks (fills in their
    underlay and MTU)."""
    dump = _uplinkhost.host_dump()
    typed = validate(networks, dict((name, link.get("master")) for name, link in dump.items()))
    errors = _uplinkhost.check_host(uplinks(typed)) + (_spannet.on_host(typed, dump) if tunnels else [])
    normalised = normalise(typed)
    errors += _routednet.on_host(normalised, dump) + _net6.on_host(normalised) + _macvtapnet.on_host(normalised, dump)
    errors += _vlannet.on_host(normalised, dump)
    if errors:
        raise HostnetError("invalid hostnet_network_networks: " + "; ".join(errors))
    return typed


def normalise(networks):
    """Valid networks -> list of dicts with defaults applied (bridge, kind, state, subnet, filter)."""
    out = []
    for net in networks:
        kind = net.get("kind", "isolated")
        host = _host_address(net["address"]) if net.get("address") else None
        subnet = _cidr(net["subnet"]) if net.get("subnet") else (host.cidr if host is not None else None)
        rules = net.get("filter") or {}
        owner = _spannet.owner(net)
        if not owner:
            # another host is this spanned network's gateway and DHCP/DNS owner: here it is a bare bridge
            kind, host, rules = "isolated", None, {}
            net = dict((k, v) for k, v in net.items() if k not in ("dhcp", "dns"))
        out.append({
            "name": net["name"],
            "kind": kind,
            "state": net.get("state", "present"),
            # macvtap networks have no bridge; the host's macvlan exists only with an address
            "bridge": None if kind == "macvtap" else (net.get("bridge") or net["name"]),
            "host_interface": (net.get("host_interface") or net["name"]) if kind == "macvtap" and host is not None else None,
            "link": net.get("link") if kind == "macvtap" else None,
            # the host's macvlan takes over the parent's addresses and routes (moved like an uplink NIC's)
            "takeover": bool(net.get("takeover")) and kind == "macvtap" and host is not None,
            "address": str(host) if host is not None else None,
            "subnet": str(subnet) if subnet is not None else None,
            "uplink": net.get("uplink") if kind in ("nat", "routed", "uplink") else None,
            # the collection's DHCP client on the uplink's bridge asks for the NIC's IPv4 address
            "dhcp_client": bool(net.get("dhcp_client")) and kind == "uplink",
            "route_metric": net.get("route_metric") if kind == "uplink" else None,
            "vlans": _vlannet.normalise(net, kind),  # its tagged VLANs ([]: the bridge filters none)
            "allow": [str(_cidr(c).cidr) for c in (rules.get("allow") or [])],
            "reject": [str(_cidr(c).cidr) for c in (rules.get("reject") or [])],
            "span": _spannet.normalise(net),
            "forwards": _forwards.normalise(net) if kind == "nat" else [],
            "routes": sorted("%s via %s" % (netaddr.IPNetwork(r["to"]).cidr, netaddr.IPAddress(r["via"]))
                             for r in net.get("routes") or [])
            if kind == "routed" else [],
        })
        out[-1]["proxy_arp"] = _routednet.proxies(net) if kind == "routed" else []
        out[-1]["ipv6"] = _net6.normalise(net, kind)
        if out[-1]["ipv6"] and not owner:  # the gateway host's address; guests here use its prefix
            out[-1]["ipv6"].update(address=None, nat=False, dhcp=None)  # the gateway host leases, if anyone
        out[-1].update(_dhcp.normalise(net, kind, host, subnet))  # dhcp, dns: None or with defaults
        if out[-1]["span"] and out[-1]["dhcp"]:  # guests on a spanned network learn its MTU (option 26)
            out[-1]["dhcp"]["mtu"] = out[-1]["span"]["mtu"]
    return out


def devices(networks):
    """The engine's device set: one bridge per network, the host's macvlan of a macvtap network (absent ones with
    state absent). The bridge of an isolated, nat or routed network forms its link-local address from its MAC
    (addr_gen_mode eui64) whatever the host's default, so that its guests' port chains know that address's shape and
    refuse it to them (_nftports): it is their default router. An uplink network's bridge keeps the host's default:
    the host's own SLAAC addresses on the LAN are formed by it too, and keep their form when the NIC moves."""
    out = []
    for net in normalise(networks):
        if net["kind"] == "macvtap":
            if net["host_interface"] is None:
                continue
            device = {"kind": "macvlan", "name": net["host_interface"], "state": net["state"]}
            if net["state"] == "present":
                device.update({"link": net["link"], "mode": "bridge", "up": True})
                if not net["takeover"]:  # taken over: its addresses are the parent's, moved by the uplink module
                    device["addresses"] = [net["address"]]
            out.append(device)
        elif net["kind"] == "uplink":
            # no addresses here: they are the NIC's, moved by the uplink module, which also deletes the bridge
            # of an absent uplink network (after the NIC has them back)
            if net["state"] == "present":
                out.append({"kind": "bridge", "name": net["bridge"], "state": "present", "up": True,
                            "vlan_filtering": bool(net["vlans"])})
        elif net["state"] == "absent":
            out.append({"kind": "bridge", "name": net["bridge"], "state": "absent"})
            if net["span"]:
                out.append({"kind": "vxlan", "name": net["span"]["device"], "state": "absent"})
        else:
            addresses = [a for a in (net["address"], (net["ipv6"] or {}).get("address")) if a]
            out.append({"kind": "bridge", "name": net["bridge"], "state": "present", "up": True,
                        "addresses": addresses, "routes": net["routes"], "addr_gen_mode": "eui64",
                        "proxy_arp": net["proxy_arp"], "vlan_filtering": bool(net["vlans"])})
            span = net["span"]
            if span:
                # static: the flood list is the peers and MACs are learned from traffic; evpn: FRR's zebra installs
                # both from BGP (the flood list is left to it), and the bridge answers ARP/ND from what it knows
                static = span["control_plane"] == "static"
                out[-1]["mtu"] = span["mtu"]
                out.append({"kind": "vxlan", "name": span["device"], "state": "present", "vni": span["vni"],
                            "port": span["port"], "local": span["local"], "underlay": span["underlay"],
                            "peers": span["peers"] if static else None, "learning": static, "neigh_suppress": not static,
                            "master": net["bridge"], "mtu": span["mtu"], "up": True})
    return out


def sysctls(networks, before=None):
    """Sysctls the networks need: forwarding on each nat and routed network's bridge and uplink, off on isolated
    bridges (nothing global); `before`: the values _forwarding.plan() recorded (see _forwarding.sysctls)."""
    return _forwarding.sysctls(normalise(networks), before)
