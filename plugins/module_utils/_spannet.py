# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's part of a network that spans several hosts (VXLAN): the rules of the `span` field, this host's
tunnel endpoint read from the kernel, and the normalised span the devices, the ruleset and DHCP are made from.

The inventory-wide part (peers, the gateway, consistency between hosts) is the controller's: the network role
derives `local`, `peers` and `gateway` with plugin_utils/_span.py and hands them to the networks module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._model import VNI_RANGE

DEFAULT_PORT = 4789
ASN_RANGE = (1, 4294967295)
# what VXLAN adds to a frame: outer IPv4 (20) or IPv6 (40) header, UDP (8), VXLAN (8), inner Ethernet (14)
OVERHEAD = {4: 50, 6: 70}
SPAN_KINDS = ("isolated", "nat")


def device(vni):
    """The VXLAN device of a spanned network: named by its VNI, which is unique in the inventory."""
    return "hnvx%d" % vni


def owner(net):
    """Whether this host is the network's gateway and DHCP/DNS owner (always, for a network that does not span)."""
    span = net.get("span")
    if span is None:
        return True
    if span.get("gateway") is not None:
        return bool(span["gateway"])
    return bool(net.get("address"))


def check(net, label, seen_vnis):
    """Problems of the span field alone (types came from the spec); `seen_vnis` {vni: network} across the host."""
    span = net.get("span")
    if span is None:
        return []
    errors = []
    kind = net.get("kind", "isolated")
    if kind not in SPAN_KINDS:
        errors.append("%s: field 'span' applies to kinds isolated and nat (a bridge the VXLAN device joins), not to %s;"
                      " drop span or change kind" % (label, kind))
    vni = span["vni"]
    if not VNI_RANGE[0] <= vni <= VNI_RANGE[1]:
        errors.append("%s: field 'span.vni' %s is out of range (%d..%d)" % ((label, vni) + VNI_RANGE))
    elif vni in seen_vnis and net.get("state", "present") == "present":
        errors.append("%s: field 'span.vni' %d is already the VNI of network '%s'; give each network its own VNI"
                      % (label, vni, seen_vnis[vni]))
    elif net.get("state", "present") == "present":
        seen_vnis[vni] = net["name"]
    port = span.get("port")
    if port is not None and not 1 <= port <= 65535:
        errors.append("%s: field 'span.port' %s is out of range (1..65535)" % (label, port))
    mtu = span.get("mtu")
    if mtu is not None and not 68 <= mtu <= 65535:
        errors.append("%s: field 'span.mtu' %s is out of range (68..65535)" % (label, mtu))
    bgp = span.get("bgp") or {}
    if (span.get("control_plane") or "static") == "evpn":
        if bgp and not ASN_RANGE[0] <= bgp["asn"] <= ASN_RANGE[1]:
            errors.append("%s: field 'span.bgp.asn' %s is out of range (%d..%d); set hostnet_network_evpn_asn"
                          % ((label, bgp["asn"]) + ASN_RANGE))
    elif bgp:
        errors.append("%s: field 'span.bgp' applies to control_plane evpn; drop it" % label)
    for field, values in (("local", [span["local"]] if span.get("local") is not None else []),
                          ("peers", span.get("peers") or []), ("bgp.neighbors", bgp.get("neighbors") or [])):
        for value in values:
            try:
                _validate.ip(value, what="%s: field 'span.%s'" % (label, field))
            except HostnetError as exc:
                errors.append(str(exc))
    return errors


def check_host(networks):
    """Problems of this host's spanned networks together (typed networks): one BGP per host, and one control plane,
    because FRR's advertise-all-vni takes every VXLAN device of the host into EVPN."""
    present = [n for n in networks if n.get("span") and n.get("state", "present") == "present"]
    evpn = [n for n in present if n["span"].get("control_plane") == "evpn"]
    if not evpn:
        return []
    static = [n["name"] for n in present if n not in evpn]
    if static:
        return ["networks %s (control_plane static) and %s (evpn) on one host: FRR's EVPN takes every VXLAN device of"
                " the host (advertise-all-vni), so a host uses one control plane; give them the same one"
                % (", ".join("'%s'" % s for s in static), ", ".join("'%s'" % n["name"] for n in evpn))]
    first = evpn[0]
    for net in evpn[1:]:
        if net["span"].get("bgp") != first["span"].get("bgp") or net["span"].get("local") != first["span"].get("local"):
            return ["networks '%s' and '%s': field 'span.bgp' and 'span.local' differ; this host has one BGP speaker"
                    " (one AS, router ID and neighbour list) for all its EVPN networks" % (first["name"], net["name"])]
    return []


def on_host(networks, dump):
    """Fill in what only this host knows: the underlay interface holding `local` and the MTU that fits it.

    `dump` is the kernel's view of the host's links (_netlink.Kernel.dump()). Returns the problems."""
    errors = []
    holders = {}
    for name, link in dump.items():
        for cidr in link.get("addresses") or []:
            holders[cidr.split("/")[0]] = (name, link.get("mtu"))
    for net in networks:
        span = net.get("span")
        if span is None or net.get("state", "present") != "present":
            continue
        label = "network '%s'" % net["name"]
        local = span.get("local")
        if local is None:
            errors.append("%s: field 'span.local' (this host's VTEP address) is missing; the network role derives it"
                          " from hostnet_network_vtep_address or the host's default IPv4 address" % label)
            continue
        if span.get("control_plane") == "evpn" and not span.get("bgp"):
            errors.append("%s: field 'span.bgp' (this host's BGP AS and neighbours) is missing; the network role derives"
                          " it from the inventory (hostnet_network_evpn_asn, the other hosts' VTEPs)" % label)
            continue
        local = _validate.ip(local, what="%s: field 'span.local'" % label)
        if local not in holders:
            errors.append("%s: VTEP address %s is not an address of this host (found: %s); set"
                          " hostnet_network_vtep_address to one of them" % (label, local, ", ".join(sorted(holders)) or "none"))
            continue
        underlay, underlay_mtu = holders[local]
        fits = underlay_mtu - OVERHEAD[6 if ":" in local else 4]
        if span.get("mtu") is not None and span["mtu"] > fits:
            errors.append("%s: field 'span.mtu' %d does not fit the underlay: %s has MTU %d and VXLAN needs %d bytes"
                          " of it; give %d or less, or raise the underlay's MTU"
                          % (label, span["mtu"], underlay, underlay_mtu, underlay_mtu - fits, fits))
            continue
        span["underlay"] = underlay
        span["mtu"] = span["mtu"] if span.get("mtu") is not None else fits
    return errors


def _bgp(bgp):
    if not bgp:
        return None
    return {"asn": bgp["asn"], "reflector": bool(bgp.get("reflector")), "neighbors": sorted(set(bgp.get("neighbors") or []))}


def normalise(net):
    """The normalised span of a valid network (None when it does not span)."""
    span = net.get("span")
    if span is None:
        return None
    return {
        "vni": span["vni"],
        "device": device(span["vni"]),
        "port": span.get("port") or DEFAULT_PORT,
        "control_plane": span.get("control_plane") or "static",
        "mtu": span.get("mtu"),
        "local": span.get("local"),
        "underlay": span.get("underlay"),
        "peers": sorted(set(span.get("peers") or [])),
        "gateway": owner(net),
        "bgp": _bgp(span.get("bgp")),
    }
