# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired devices: the shared argument specs and their validation into normalised dicts.

Every device module (bridge, tap, macvtap, netdevs) builds its options from these specs,
so a `tap` in `netdevs.devices` means exactly what the `tap` module means.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _nlvlan, _validate

KINDS = ("bridge", "tap", "tun", "macvtap", "macvlan", "vxlan")
VNI_RANGE = (1, 16777215)

COMMON_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    up=dict(type="bool", default=True),
    mtu=dict(type="int"),
    mac=dict(type="str"),
)

BRIDGE_OPTIONS = dict(
    stp=dict(type="bool"),
    forward_delay=dict(type="float"),
    vlan_filtering=dict(type="bool"),
    addr_gen_mode=dict(type="str", choices=["eui64", "none"]),
    addresses=dict(type="list", elements="str"),
    routes=dict(type="list", elements="str"),
    proxy_arp=dict(type="list", elements="str"),
    ports=dict(type="list", elements="str"),
    port_vlans=dict(type="list", elements="int"),
    port_native=dict(type="int"),
    exclusive_ports=dict(type="bool", default=False),
    force=dict(type="bool", default=False),
)

TAP_OPTIONS = dict(
    mode=dict(type="str", default="tap", choices=["tap", "tun"]),
    owner=dict(type="str"),
    group=dict(type="str"),
    multi_queue=dict(type="bool", default=False),
    vnet_hdr=dict(type="bool"),
    pi=dict(type="bool"),
    master=dict(type="str"),
    recreate=dict(type="bool", default=False),
    addresses=dict(type="list", elements="str"),
    peer=dict(type="str"),
    vlan=dict(type="int"),
    vlans=dict(type="list", elements="int"),
    native=dict(type="int"),
)

MACVTAP_OPTIONS = dict(
    link=dict(type="str"),
    mode=dict(type="str", default="bridge", choices=["bridge", "vepa", "private", "passthru"]),
    device_owner=dict(type="str"),
    device_group=dict(type="str"),
    device_mode=dict(type="raw"),
    recreate=dict(type="bool", default=False),
)

MACVLAN_OPTIONS = dict(
    link=dict(type="str"),
    mode=dict(type="str", default="bridge", choices=["bridge", "vepa", "private", "passthru"]),
    addresses=dict(type="list", elements="str"),
    recreate=dict(type="bool", default=False),
)

VXLAN_OPTIONS = dict(
    vni=dict(type="int"),
    local=dict(type="str"),
    underlay=dict(type="str"),
    port=dict(type="int", default=4789),
    learning=dict(type="bool", default=True),
    neigh_suppress=dict(type="bool", default=False),
    peers=dict(type="list", elements="str"),
    master=dict(type="str"),
    recreate=dict(type="bool", default=False),
)

_OPTIONS = {"bridge": BRIDGE_OPTIONS, "tap": TAP_OPTIONS, "tun": TAP_OPTIONS, "macvtap": MACVTAP_OPTIONS,
            "macvlan": MACVLAN_OPTIONS, "vxlan": VXLAN_OPTIONS}


def module_spec(kind):
    """The argument_spec of the single-device module for `kind`, plus netns."""
    spec = dict(COMMON_OPTIONS)
    spec.update(_OPTIONS[kind])
    spec["netns"] = dict(type="str")
    return spec


def netdevs_device_spec():
    """Options of one entry of netdevs.devices: the union of the kinds, defaults applied per kind."""
    spec = dict(kind=dict(type="str", required=True, choices=list(KINDS)))
    for options in (COMMON_OPTIONS, BRIDGE_OPTIONS, TAP_OPTIONS, MACVTAP_OPTIONS, MACVLAN_OPTIONS, VXLAN_OPTIONS):
        for key, value in options.items():
            entry = dict(value)
            entry.pop("default", None)  # defaults depend on the kind; applied in normalise()
            entry.pop("required", None)
            spec.setdefault(key, entry)
    spec["mode"] = dict(type="str", choices=["tap", "tun", "bridge", "vepa", "private", "passthru"])
    spec["name"]["required"] = True
    return spec


def _defaults(kind):
    out = {}
    options = dict(COMMON_OPTIONS)
    options.update(_OPTIONS[kind])
    for key, value in options.items():
        out[key] = value.get("default")
    return out, options


def normalise(params, kind=None):
    """Validate one device's parameters and return its normalised desired-state dict.

    `kind` is given by single-device modules; netdevs entries carry their own.
    Unknown users/groups, bad names, MACs and CIDRs raise HostnetError naming the device.
    """
    kind = kind or params.get("kind")
    mode = params.get("mode")
    if kind in ("tap", "tun") and mode is not None:
        if mode not in ("tap", "tun"):
            raise HostnetError("tap '%s': mode '%s' is not a tap mode; use tap or tun" % (params.get("name"), mode))
        if kind == "tun" and mode == "tap":
            raise HostnetError("tap '%s': kind tun and mode tap contradict each other; give one" % params.get("name"))
        kind = mode
    if kind in ("macvtap", "macvlan") and mode in ("tap", "tun"):
        raise HostnetError("%s '%s': mode '%s' is not a %s mode; use bridge, vepa, private or passthru"
                           % (kind, params.get("name"), mode, kind))
    if kind not in KINDS:
        raise HostnetError("device '%s': unknown kind '%s'; use one of %s" % (params.get("name"), kind, ", ".join(KINDS)))
    label_kind = "tap" if kind == "tun" else kind
    name = _validate.ifname(params.get("name"), what=label_kind)
    label = "%s '%s'" % (label_kind, name)
    defaults, options = _defaults(kind)
    given = dict((k, v) for k, v in params.items() if v is not None)
    stray = sorted(k for k in given if k not in options and k not in ("kind", "netns", "name"))
    if stray:
        raise HostnetError("%s: option(s) %s do not apply to a %s" % (label, ", ".join(stray), kind))
    merged = dict(defaults)
    merged.update(given)
    if kind in ("tap", "tun"):
        merged["mode"] = kind
    spec = {"kind": kind, "name": name, "state": merged["state"]}
    if spec["state"] == "absent":
        return spec
    spec["up"] = merged["up"]
    spec["mtu"] = merged.get("mtu")
    if spec["mtu"] is not None and not 68 <= spec["mtu"] <= 65535:
        raise HostnetError("%s: mtu %s is out of range (68..65535)" % (label, spec["mtu"]))
    if merged.get("mac") is not None:
        if kind == "tun":
            raise HostnetError("%s: a tun (layer 3) device has no MAC address; drop 'mac' or use mode tap" % label)
        spec["mac"] = _validate.mac(merged["mac"], what=label)
    else:
        spec["mac"] = None
    if kind == "bridge":
        spec["stp"] = merged.get("stp")
        spec["forward_delay"] = merged.get("forward_delay")
        if spec["forward_delay"] is not None and not 0 <= spec["forward_delay"] <= 300:
            raise HostnetError("%s: forward_delay %s s is out of range (0..300 seconds)" % (label, spec["forward_delay"]))
        spec["vlan_filtering"] = merged.get("vlan_filtering")
        spec["addr_gen_mode"] = merged.get("addr_gen_mode")
        spec["addresses"] = _addresses(merged, label)
        spec["routes"] = _routes(merged, label)
        spec["proxy_arp"] = _proxies(merged, label)
        ports = merged.get("ports")
        if ports is not None:
            ports = [_validate.ifname(p, what="%s: port" % label) for p in ports]
            if name in ports:
                raise HostnetError("%s: a bridge cannot be its own port" % label)
        spec["ports"] = ports
        spec["port_vlans"] = _nlvlan.port_set(label, None, merged.get("port_vlans"), merged.get("port_native"),
                                              names=(None, "port_vlans", "port_native"))
        if spec["port_vlans"] is not None and not ports:
            raise HostnetError("%s: port_vlans are the VLANs of the bridge's ports; list them in ports" % label)
        spec["exclusive_ports"] = bool(merged.get("exclusive_ports"))
        spec["force"] = bool(merged.get("force"))
    elif kind in ("tap", "tun"):
        spec["owner"] = _validate.uid(merged.get("owner"), label)
        spec["group"] = _validate.gid(merged.get("group"), label)
        spec["owner_given"] = merged.get("owner") is not None
        spec["group_given"] = merged.get("group") is not None
        spec["multi_queue"] = bool(merged.get("multi_queue"))
        spec["vnet_hdr"] = merged.get("vnet_hdr")
        spec["pi"] = merged.get("pi")
        spec["master"] = _master(merged, label)
        spec["recreate"] = bool(merged.get("recreate"))
        spec["addresses"] = _point_to_point(_addresses(merged, label), merged.get("peer"), kind, label)
        spec["vlans"] = _nlvlan.port_set(label, merged.get("vlan"), merged.get("vlans"), merged.get("native"))
        if spec["vlans"] is not None and kind == "tun":
            raise HostnetError("%s: a tun (layer 3) device carries no VLANs; drop vlan, vlans and native, or use mode tap"
                               % label)
        if spec["vlans"] is not None and spec["master"] is None:
            raise HostnetError("%s: VLANs are a bridge port's; give master (a bridge with vlan_filtering: true)" % label)
    elif kind == "vxlan":
        _vxlan(spec, merged, label)
    else:
        if not merged.get("link"):
            raise HostnetError("%s: 'link' (the parent interface) is required" % label)
        spec["link"] = _validate.ifname(merged["link"], what="%s: link" % label)
        if spec["link"] == name:
            raise HostnetError("%s: 'link' is the device itself; give the parent interface" % label)
        spec["mode"] = merged.get("mode") or "bridge"
        spec["recreate"] = bool(merged.get("recreate"))
        if kind == "macvlan":
            spec["addresses"] = _addresses(merged, label)
            return spec
        spec["device_owner"] = _validate.uid(merged.get("device_owner"), label)
        spec["device_group"] = _validate.gid(merged.get("device_group"), label)
        mode = None if merged.get("device_mode") is None else \
            _validate.mode(merged["device_mode"], "%s: device_mode" % label, maximum=0o777)
        if mode is None:
            mode = 0o660 if spec["device_group"] is not None else 0o600
        if mode & 0o007:
            raise HostnetError("%s: device_mode %04o lets every local user open its /dev/tapN and read or inject the"
                               " guest's traffic; give '0660' with a device_group, or '0600'" % (label, mode))
        spec["device_mode"] = mode
    return spec


def _master(merged, label):
    return None if merged.get("master") is None else _validate.ifname(merged["master"], what="%s: master" % label)


def _vxlan(spec, merged, label):
    """A VXLAN device: VNI, tunnel endpoint, underlay, UDP port, learning, its bridge and its flood list."""
    vni = merged.get("vni")
    if vni is None:
        raise HostnetError("%s: 'vni' (the VXLAN network identifier, %d..%d) is required" % ((label,) + VNI_RANGE))
    if not VNI_RANGE[0] <= vni <= VNI_RANGE[1]:
        raise HostnetError("%s: vni %s is out of range (%d..%d)" % ((label, vni) + VNI_RANGE))
    if not 1 <= merged["port"] <= 65535:
        raise HostnetError("%s: port %s is out of range (1..65535)" % (label, merged["port"]))
    local = None if merged.get("local") is None else _validate.ip(merged["local"], what="%s: local" % label)
    peers = None
    if merged.get("peers") is not None:
        peers = sorted(set(_validate.ip(p, what="%s: peer" % label) for p in merged["peers"]))
        if local in peers:
            raise HostnetError("%s: peer %s is the device's own local address; list the other hosts only" % (label, local))
        families = set(":" in p for p in peers + ([local] if local else []))
        if len(families) > 1:
            raise HostnetError("%s: local and peers mix IPv4 and IPv6; a VXLAN device uses one family" % label)
    underlay = None if merged.get("underlay") is None else \
        _validate.ifname(merged["underlay"], what="%s: underlay" % label)
    if underlay == spec["name"]:
        raise HostnetError("%s: 'underlay' is the device itself; give the interface the tunnel runs over" % label)
    master = _master(merged, label)
    if merged.get("neigh_suppress") and master is None:
        raise HostnetError("%s: neigh_suppress is a flag of the device's port in its bridge; give master" % label)
    spec.update({"vni": vni, "local": local, "underlay": underlay, "port": merged["port"],
                 "learning": bool(merged["learning"]), "neigh_suppress": bool(merged.get("neigh_suppress")),
                 "peers": peers, "master": master, "recreate": bool(merged.get("recreate"))})


def _point_to_point(addresses, peer, kind, label):
    """A tun's addresses with its point-to-point peer: the one address of the peer's family becomes
    'IP/LEN peer PEER' (what `ip addr add IP peer PEER/LEN` makes)."""
    if peer is None:
        return addresses
    if kind != "tun":
        raise HostnetError("%s: 'peer' applies to a tun (a point-to-point layer-3 device), not to a tap; drop it or"
                           " use mode tun" % label)
    peer = _validate.ip(peer, what="%s: peer" % label)
    same = [a for a in addresses or [] if (":" in a) == (":" in peer)]
    if len(same) != 1:
        raise HostnetError("%s: 'peer' %s needs exactly one address of its family in 'addresses' (this end), found %d;"
                           " give e.g. addresses: [%s]" % (label, peer, len(same), "10.0.0.1/32" if ":" not in peer
                                                           else "fd00::1/128"))
    if same[0].split("/")[0] == peer:
        raise HostnetError("%s: 'peer' %s is this end's own address; give the other end's" % (label, peer))
    return sorted("%s peer %s" % (a, peer) if a == same[0] else a for a in addresses)


def _routes(merged, label):
    """The complete list of the engine's routes through a bridge (None: leave its routes alone)."""
    routes = merged.get("routes")
    if routes is None:
        return None
    out = [_validate.route(r, what="%s: route" % label) for r in routes]
    dsts = [r.split(" ")[0] for r in out]
    for dst in dsts:
        if dsts.count(dst) > 1:
            raise HostnetError("%s: route to %s is given twice; give each destination once" % (label, dst))
    return sorted(out)


def _proxies(merged, label):
    """The complete list of the proxy neighbour entries the bridge's routes draw in, 'ADDRESS dev IFNAME' (None:
    leave them alone)."""
    entries = merged.get("proxy_arp")
    if entries is None:
        return None
    out = []
    for text in entries:
        words = text.split() if isinstance(text, str) else []
        if len(words) != 3 or words[1] != "dev":
            raise HostnetError("%s: proxy_arp entry %r is not 'ADDRESS dev IFNAME'; give e.g. '192.0.2.50 dev eth0'"
                               % (label, text))
        address = _validate.ip(words[0], what="%s: proxy_arp" % label)
        ifname = _validate.ifname(words[2], what="%s: proxy_arp" % label)
        if ifname == merged["name"]:
            raise HostnetError("%s: proxy_arp entry '%s' is on the bridge itself; give the interface whose LAN asks"
                               " for the address (the uplink)" % (label, text))
        out.append("%s dev %s" % (address, ifname))
    if len(set(out)) != len(out):
        raise HostnetError("%s: a proxy_arp entry is given twice; give each once" % label)
    dests = [r.split(" ")[0] for r in merged.get("routes") or []]
    stray = [e for e in out if not any(_validate.within(e.split(" ")[0], dst) for dst in dests)]
    if stray:
        raise HostnetError("%s: proxy_arp %s: no route of the bridge leads to that address; add a route to it in"
                           " 'routes'" % (label, ", ".join("'%s'" % e for e in stray)))
    return sorted(out)


def _addresses(merged, label):
    """The complete address list of a bridge or macvlan (None: leave addresses alone)."""
    addresses = merged.get("addresses")
    return None if addresses is None else sorted(set(_validate.cidr(a, what="%s: address" % label) for a in addresses))


def normalise_all(devices):
    """Normalise a list of device params; refuse a name declared twice."""
    seen = {}
    out = []
    for params in devices:
        spec = normalise(params)
        if spec["name"] in seen:
            raise HostnetError("device '%s' is declared twice (as %s and as %s); declare each name once"
                               % (spec["name"], seen[spec["name"]], spec["kind"]))
        seen[spec["name"]] = spec["kind"]
        out.append(spec)
    return out
