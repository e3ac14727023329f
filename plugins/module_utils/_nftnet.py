# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Networks of the hostnet.qemu.network role: validation, the netdevs device set, the nftables ruleset.

Pure functions (no kernel access): `check()` returns every problem found in a list of networks, each
message naming the network, the field and the fix; `devices()` is the one device set handed to the
engine; `render()` is the text of the collection's own nftables table (loaded with `nft -f`), which
starts by deleting only that table and so never touches anybody else's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - reported by the module
    HAS_NETADDR = False

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

KINDS = ("isolated", "nat")
TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
NAME_BAD = re.compile(r"[/:\s]")


def _ifname_problem(value):
    if not isinstance(value, str) or not value:
        return "is empty"
    if len(value.encode("utf-8")) > 15:
        return "'%s' is longer than 15 bytes" % value
    if NAME_BAD.search(value) or value in (".", ".."):
        return "'%s' contains '/', ':' or whitespace" % value
    return None


def _cidr(value):
    """A CIDR string -> netaddr.IPNetwork, or None if it is not one (bare addresses count as /32, /128)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return netaddr.IPNetwork(value.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def _host_address(value):
    """'A.B.C.D/N' -> IPNetwork; a host address must carry its prefix length."""
    if not isinstance(value, str) or "/" not in value:
        return None
    return _cidr(value)


def check(networks, links=None):
    """Every problem in `networks` as a list of messages (empty: all fine).

    `links` is the set of interface names on the host (None: do not check that uplinks exist).
    """
    if not HAS_NETADDR:
        raise HostnetError("the Python library netaddr is required on the managed host (python3-netaddr)")
    errors = []
    if not isinstance(networks, list):
        return ["hostnet_network_networks must be a list of networks, got %s" % type(networks).__name__]
    seen_names, seen_bridges, subnets = {}, {}, []
    for index, net in enumerate(networks):
        if not isinstance(net, dict):
            errors.append("hostnet_network_networks[%d] must be a dict, got %r" % (index, net))
            continue
        name = net.get("name")
        label = "network '%s'" % name if name else "hostnet_network_networks[%d]" % index
        if not name or not isinstance(name, str):
            errors.append("%s: field 'name' is required; give each network a unique name" % label)
        elif name in seen_names:
            errors.append("%s: field 'name' is used twice (entries %d and %d); names must be unique"
                          % (label, seen_names[name], index))
        else:
            seen_names[name] = index
        kind = net.get("kind", "isolated")
        if kind not in KINDS:
            errors.append("%s: field 'kind' is '%s'; use one of %s" % (label, kind, ", ".join(KINDS)))
        bridge = net.get("bridge") or name
        problem = _ifname_problem(bridge)
        if problem:
            errors.append("%s: field 'bridge' %s; give an interface name of 1 to 15 bytes" % (label, problem))
        elif bridge in seen_bridges:
            errors.append("%s: field 'bridge' '%s' is already the bridge of network '%s'; give each network its own bridge"
                          % (label, bridge, seen_bridges[bridge]))
        else:
            seen_bridges[bridge] = name
        state = net.get("state", "present")
        if state not in ("present", "absent"):
            errors.append("%s: field 'state' is '%s'; use present or absent" % (label, state))
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
        if kind == "nat":
            if host is None and address is None:
                errors.append("%s: a nat network needs field 'address' (the host's address on the bridge, the guests'"
                              " gateway), e.g. 192.168.50.1/24" % label)
            if host is not None and host.version != 4:
                errors.append("%s: field 'address' %s: nat (masquerade) is IPv4 only here; give an IPv4 address" % (label, address))
            uplink = net.get("uplink")
            if not uplink:
                errors.append("%s: a nat network needs field 'uplink' (the interface traffic leaves by, e.g. eth0)" % label)
            else:
                problem = _ifname_problem(uplink)
                if problem:
                    errors.append("%s: field 'uplink' %s; give an existing interface name" % (label, problem))
                elif uplink == bridge:
                    errors.append("%s: field 'uplink' is the network's own bridge; give the outside interface" % label)
                elif links is not None and uplink not in links and state == "present":
                    errors.append("%s: field 'uplink' '%s' does not exist on this host; give an existing interface"
                                  " (found: %s)" % (label, uplink, ", ".join(sorted(links)) or "none"))
        elif net.get("uplink"):
            errors.append("%s: field 'uplink' only applies to kind nat; drop it or set kind: nat" % label)
        rules = net.get("filter") or {}
        if not isinstance(rules, dict):
            errors.append("%s: field 'filter' must be a dict with 'allow' and/or 'reject' lists" % label)
            rules = {}
        stray = sorted(set(rules) - set(("allow", "reject")))
        if stray:
            errors.append("%s: field 'filter' has unknown key(s) %s; use 'allow' and 'reject'" % (label, ", ".join(stray)))
        for key in ("allow", "reject"):
            values = rules.get(key) or []
            if not isinstance(values, list):
                errors.append("%s: field 'filter.%s' must be a list of CIDRs" % (label, key))
                continue
            for value in values:
                if _cidr(value) is None:
                    errors.append("%s: field 'filter.%s' entry '%s' is not a CIDR; give e.g. 10.0.0.0/24 or 10.0.0.5/32"
                                  % (label, key, value))
        if rules and kind == "isolated" and (rules.get("allow") or rules.get("reject")):
            errors.append("%s: field 'filter' only applies to kind nat (an isolated network forwards nothing); drop it"
                          % label)
        if subnet is not None and state == "present":
            for other_name, other in subnets:
                if subnet.first <= other.last and other.first <= subnet.last and subnet.version == other.version:
                    errors.append("%s: subnet %s overlaps subnet %s of network '%s'; give each network its own subnet"
                                  % (label, subnet, other, other_name))
            subnets.append((name, subnet))
    return errors


def validate(networks, links=None):
    """check() that raises one HostnetError listing every problem."""
    errors = check(networks, links)
    if errors:
        raise HostnetError("invalid hostnet_network_networks: " + "; ".join(errors))


def normalise(networks):
    """Valid networks -> list of dicts with defaults applied (bridge, kind, state, subnet, filter)."""
    out = []
    for net in networks:
        kind = net.get("kind", "isolated")
        host = _host_address(net["address"]) if net.get("address") else None
        subnet = _cidr(net["subnet"]) if net.get("subnet") else (host.cidr if host is not None else None)
        rules = net.get("filter") or {}
        out.append({
            "name": net["name"],
            "kind": kind,
            "state": net.get("state", "present"),
            "bridge": net.get("bridge") or net["name"],
            "address": str(host) if host is not None else None,
            "subnet": str(subnet) if subnet is not None else None,
            "uplink": net.get("uplink") if kind == "nat" else None,
            "allow": [str(_cidr(c).cidr) for c in (rules.get("allow") or [])],
            "reject": [str(_cidr(c).cidr) for c in (rules.get("reject") or [])],
        })
    return out


def devices(networks):
    """The engine's device set: one bridge per network (absent ones with state absent)."""
    out = []
    for net in normalise(networks):
        if net["state"] == "absent":
            out.append({"kind": "bridge", "name": net["bridge"], "state": "absent"})
        else:
            out.append({"kind": "bridge", "name": net["bridge"], "state": "present", "up": True,
                        "addresses": [net["address"]] if net["address"] else []})
    return out


def _family(cidr):
    return "ip6" if netaddr.IPNetwork(cidr).version == 6 else "ip"


def render(networks, table="hostnet_qemu"):
    """The nftables script for the collection's table (present networks only), or None if nothing is needed."""
    if not TABLE_RE.match(table):
        raise HostnetError("nft table name '%s' is not valid; use letters, digits and '_'" % table)
    present = [n for n in normalise(networks) if n["state"] == "present"]
    forward, nat = [], []
    for net in present:
        br = net["bridge"]
        forward.append("    # network %s (%s)" % (net["name"], net["kind"]))
        # guests on one network always see each other, also when br_netfilter hands bridged frames to this hook
        forward.append('    iifname "%s" oifname "%s" counter accept comment "within the network"' % (br, br))
        if net["kind"] == "isolated":
            forward.append('    iifname "%s" counter drop comment "isolated: nothing leaves"' % br)
            forward.append('    oifname "%s" counter drop comment "isolated: nothing enters"' % br)
            continue
        up = net["uplink"]
        forward.append('    iifname "%s" oifname "%s" ct state established,related accept' % (up, br))
        forward.append('    oifname "%s" counter drop comment "nat: only replies enter"' % br)
        for cidr in net["reject"]:
            forward.append('    iifname "%s" %s daddr %s counter reject with icmpx type admin-prohibited'
                           % (br, _family(cidr), cidr))
        if net["allow"]:
            for cidr in net["allow"]:
                forward.append('    iifname "%s" oifname "%s" %s daddr %s counter accept' % (br, up, _family(cidr), cidr))
            forward.append('    iifname "%s" counter reject with icmpx type admin-prohibited comment "not in allow"' % br)
        else:
            forward.append('    iifname "%s" oifname "%s" counter accept' % (br, up))
            forward.append('    iifname "%s" counter drop' % br)
        nat.append('    oifname "%s" ip saddr %s counter masquerade comment "network %s"' % (up, net["subnet"], net["name"]))
    lines = [
        "#!/usr/sbin/nft -f",
        "# Managed by Ansible (hostnet.qemu.network); local changes will be overwritten.",
        "# Only the table inet %s is (re)created here; no other table is touched, nothing is flushed." % table,
        "table inet %s" % table,
        "delete table inet %s" % table,
    ]
    if not present:
        return "\n".join(lines) + "\n"
    lines += [
        "table inet %s {" % table,
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
    ] + forward + [
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
    ] + nat + [
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def sysctls(networks):
    """Sysctls the networks need: IPv4 forwarding when a nat network is present."""
    if any(n["kind"] == "nat" and n["state"] == "present" for n in normalise(networks)):
        return {"net.ipv4.ip_forward": "1"}
    return {}
