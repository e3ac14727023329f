# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest's cloud-init NoCloud seed: the text of meta-data, user-data and network-config (controller side).

The guests module writes the three files into an ISO 9660 image labelled `cidata` (module_utils/_seed.py) and
rebuilds it only when this text changes. What changes trigger what in the guest (cloud-init's own rules):
- `instance-id` (default `iid-NAME`, stable) decides whether cloud-init treats a boot as a new instance. While it
  stays the same, a changed user-data or network-config is written into the seed but per-instance modules (users,
  SSH keys, runcmd) do not run again; give a new `instance_id` to re-run them (a new instance: new host keys too).
- The seed is read at boot only: a changed seed is no reason to restart a running guest, and none is made.
- `network_config: auto` derives version 2 network config from the guest's NICs, each matched by MAC: a NIC with
  `address` gets that static address, and on a network of the hostnet.qemu.network role the network's prefix,
  gateway (nat networks; the default route unless a NIC before it uses DHCP) and DNS server (when the network runs
  DNS); every other NIC but socket NICs uses DHCP.

Two things the network role derives from the guests live here too, since they follow the same addresses:
`reservations()` (static addresses joining DHCP and DNS) and `ports()` (the taps the table holds to their NICs).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

import yaml

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcp, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

SEED_FILES = ("meta-data", "user-data", "network-config")


def _dump(data):
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)


def _fail(guest, field, problem, fix):
    raise HostnetError("guest '%s': cloud_init.%s: %s; %s" % (guest, field, problem, fix))


def user_data_text(guest, value):
    """user-data from a mapping (written as #cloud-config) or from text: a script (#!), a MIME multi-part or an
    include list is taken as it is; anything else must be a YAML mapping (cloud-config)."""
    if value is None:
        return "#cloud-config\n{}\n"
    if isinstance(value, dict):
        return "#cloud-config\n" + _dump(value)
    if not isinstance(value, str):
        _fail(guest, "user_data", "%s is neither a mapping nor text" % type(value).__name__,
              "give cloud-config as a YAML mapping, or text")
    if value.startswith(("#!", "Content-Type:", "#include")):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        _fail(guest, "user_data", "not valid YAML%s: %s" % (where, getattr(exc, "problem", None) or exc),
              "fix the cloud-config text, or give user_data as a YAML mapping")
    if not isinstance(parsed, dict):
        _fail(guest, "user_data", "cloud-config text must be a YAML mapping, not %s" % type(parsed).__name__,
              "write keys such as users: or hostname:, or start a script with #!")
    return value if value.startswith("#cloud-config") else "#cloud-config\n" + value


def managed(networks):
    """{bridge: {'subnet', 'gateway', 'dns', 'domain', 'network'}} for the network role's present networks
    (normalised by module_utils/_nftnet.py)."""
    out = {}
    for net in networks or []:
        if net["state"] != "present" or not net.get("bridge") or not net.get("subnet"):
            continue
        host = net["address"].split("/")[0] if net.get("address") else None
        out[net["bridge"]] = {
            "network": net["name"], "subnet": net["subnet"],
            "gateway": host if net["kind"] in ("nat", "routed") else None,
            "dns": host if net.get("dns") else None,
            "domain": (net.get("dns") or {}).get("domain"),
        }
    return out


def static_address(value, nic, managed_networks, guest, where):
    """A NIC's `address` -> {'address': 'IP/PREFIX', 'gateway', 'dns', 'domain', 'network'}. On a network of the
    network role (the NIC's bridge is its bridge) the prefix may be left out, and the address must be a free host
    address of its subnet; elsewhere it needs its prefix."""
    what = "guest '%s': %s.address" % (guest, where)
    net = managed_networks.get(nic.get("bridge") or "")
    try:
        if not _validate.literal(value):
            raise ValueError(value)
        ip = _validate.netaddr.IPNetwork(value, version=4) if "/" in value else _validate.netaddr.IPAddress(value, 4)
    except Exception:  # pylint: disable=broad-except
        raise HostnetError("%s: '%s' is not an IPv4 address; give e.g. 192.168.100.10%s"
                           % (what, value, "" if net else "/24"))
    if net is None:
        if "/" not in value:
            raise HostnetError("%s: '%s' has no prefix, and bridge '%s' is no network of the hostnet.qemu.network role"
                               " that could give it; write ADDRESS/PREFIX (no gateway or DNS is derived there)"
                               % (what, value, nic.get("bridge") or nic.get("link")))
        return {"address": str(ip), "gateway": None, "dns": None, "domain": None, "network": None}
    subnet = _validate.netaddr.IPNetwork(net["subnet"])
    host = ip.ip if "/" in value else ip
    if "/" in value and ip.prefixlen != subnet.prefixlen:
        raise HostnetError("%s: prefix /%d differs from network '%s' (%s); leave the prefix out"
                           % (what, ip.prefixlen, net["network"], net["subnet"]))
    taken = {subnet.network, subnet.broadcast} | ({_validate.netaddr.IPAddress(net["dns"])} if net["dns"] else set())
    if host not in subnet or host in taken or (net["gateway"] and str(host) == net["gateway"]):
        raise HostnetError("%s: %s is not a free host address of network '%s' (%s: not its network, broadcast or "
                           "host address); pick another" % (what, host, net["network"], net["subnet"]))
    return {"address": "%s/%d" % (host, subnet.prefixlen), "gateway": net["gateway"], "dns": net["dns"],
            "domain": net["domain"], "network": net["network"]}


def network_config(guest):
    """version 2 network config for the guest's NICs (each matched by MAC); socket NICs are left alone. One
    default route: a static NIC's gateway is the default route unless a NIC before it (DHCP) already gives one."""
    ethernets, routed = {}, False
    for nic in guest["nics"]:
        if nic["kind"] == "socket":
            continue
        entry = {"match": {"macaddress": nic["mac"]}}
        static = nic.get("static")
        if static:
            entry["addresses"] = [static["address"]]
            if static.get("gateway") and not routed:
                entry["routes"] = [{"to": "default", "via": static["gateway"]}]
                routed = True
            if static.get("dns"):
                entry["nameservers"] = dict({"addresses": [static["dns"]]},
                                            **({"search": [static["domain"]]} if static.get("domain") else {}))
        else:
            entry["dhcp4"] = True
            routed = True
        ethernets[nic["id"]] = entry
    return {"version": 2, "ethernets": ethernets}


def seed(guest, spec, state_dir):
    """The seed of a normalised guest from its validated `cloud_init` spec -> {'path', 'files', 'hash'}; None
    without cloud_init."""
    if spec is None:
        return None
    name = guest["name"]
    meta = dict(spec.get("meta_data") or {})
    meta.setdefault("instance-id", spec.get("instance_id") or "iid-%s" % name)
    meta.setdefault("local-hostname", spec.get("hostname") or name)
    files = {"meta-data": _dump(meta), "user-data": user_data_text(name, spec.get("user_data"))}
    net = spec.get("network_config", "auto")
    if net == "auto":
        files["network-config"] = _dump(network_config(guest))
    elif isinstance(net, dict):
        files["network-config"] = _dump(net)
    elif net not in (None, "none"):
        _fail(name, "network_config", "%r is not auto, none or a mapping" % (net,),
              "write auto (derived from the NICs), none (cloud-init's own default) or network config version 2")
    digest = hashlib.sha256()
    for key in SEED_FILES:
        if key in files:
            digest.update(("%s\0%s\0" % (key, files[key])).encode("utf-8"))
    return {"path": "%s/%s/seed.iso" % (state_dir, name), "files": files, "hash": digest.hexdigest(),
            "hostname": meta["local-hostname"]}


def _host_name(guest):
    """The guest's host name (its seed's, else its own name) when it is one DNS label, else None."""
    name = (guest.get("seed") or {}).get("hostname") or guest["name"]
    return name if _validate.DNS_LABEL.match(name) else None


def static_addresses(guests):
    """{network: [{mac, address, name, guest}]}: every NIC of a present guest (normalised) with a static address on a
    network of the network role; `name` is the guest's host name when it is a DNS label, `guest` names the NIC for
    messages."""
    wanted = {}
    for guest in guests:
        if guest["state"] == "absent":
            continue
        for nic in guest["nics"]:
            static = nic.get("static")
            if static and static.get("network"):
                wanted.setdefault(static["network"], []).append({
                    "mac": nic["mac"], "address": static["address"].split("/")[0],
                    "name": _host_name(guest),
                    "guest": "guest '%s' nics[%d]" % (guest["name"], nic["index"])})
    return wanted


def reservations(networks, guests):
    """The networks with each guest NIC's static address joining its network's DHCP and DNS (see reserve())."""
    return reserve(networks, static_addresses(guests))


def reserve(networks, wanted):
    """The networks with the addresses of `wanted` ({network: [entry of static_addresses()]}) joining DHCP and DNS:
    for each network of the list that runs DHCP, a `dhcp.hosts` entry per address (MAC, address, and the host name,
    which dnsmasq also answers as NAME.DOMAIN). A host the user declared with the same MAC or address is kept as it
    is. A removed guest's entries are gone with it, as they are derived on every run."""
    out = []
    for net in networks or []:
        dhcp = net.get("dhcp") if isinstance(net, dict) else None
        if not isinstance(dhcp, dict) or not wanted.get(net.get("name")):
            out.append(net)
            continue
        hosts = list(dhcp.get("hosts") or [])
        if dhcp.get("ranges") is None and not hosts and net.get("address"):
            # a network that declares no hosts and no ranges serves its default range: reserved guests keep it so
            host = _validate.netaddr.IPNetwork(net["address"])
            start, end = _dhcp.default_range(host.cidr, host)
            dhcp = dict(dhcp, ranges=[{"start": start, "end": end}])
        macs = set(str(h.get("mac", "")).lower() for h in hosts)
        addresses = set(h.get("address") for h in hosts)
        names = set(str(h.get("name") or "").lower() for h in hosts)
        for entry in wanted[net["name"]]:
            if entry["mac"] in macs or entry["address"] in addresses:
                continue
            if entry["name"] and entry["name"].lower() in names:
                entry = dict(entry, name=None)
            hosts.append(dict((k, entry[k]) for k in ("mac", "address", "name") if entry.get(k) is not None))
            names.add((entry["name"] or "").lower())
            macs.add(entry["mac"])
            addresses.add(entry["address"])
        out.append(dict(net, dhcp=dict(dhcp, hosts=hosts)))
    return out


def _held_bridges(networks):
    """{bridge: network name} of the present networks whose guest taps the network role holds."""
    bridges = {}
    for net in networks or []:
        if isinstance(net, dict) and net.get("kind", "isolated") in ("isolated", "nat", "routed", "uplink") \
                and net.get("state", "present") == "present":
            bridges[net.get("bridge") or net.get("name")] = net.get("name")
    return bridges


def ports(networks, guests):
    """The guests' taps on the bridge networks of the list, for the network role's anti-spoofing: one
    entry per tap NIC of a present guest (normalised) whose bridge is such a network's bridge, with its MAC, its
    static address (none: it leases from the pool) and `trust`. Helper (kind bridge) NICs get a tap name only when
    QEMU starts, so they are not among them (see unheld); macvtap guests do not pass the host's bridges."""
    bridges = _held_bridges(networks)
    out = []
    for guest in guests:
        if guest["state"] == "absent":
            continue
        for nic in guest["nics"]:
            if nic["kind"] != "tap" or nic.get("bridge") not in bridges:
                continue
            static = nic.get("static")
            out.append({"ifname": nic["ifname"], "mac": nic["mac"], "network": bridges[nic["bridge"]],
                        "addresses": [static["address"].split("/")[0]] if static else [], "trust": nic["trust"],
                        "label": "guest '%s' nics[%d]" % (guest["name"], nic["index"]),
                        # a NIC that leases gets its reservation under the guest's name (_leasepins)
                        "hostname": None if static else _host_name(guest)})
    return out


def unheld(networks, guests):
    """A warning for each helper NIC (kind bridge) of a present guest, without `trust`, on a network whose taps the
    network role holds: qemu-bridge-helper names its tap only when QEMU starts, so nothing holds it to its MAC and
    addresses, and its guest can spoof its neighbours."""
    bridges = _held_bridges(networks)
    return ["guest '%s' nics[%d]: a helper NIC (kind bridge) on network '%s' is not held to its MAC and addresses"
            " (qemu-bridge-helper names its tap only when QEMU starts), so its guest can send as its neighbours; use"
            " kind tap to hold it, or set trust: true if the guest may" % (guest["name"], nic["index"], bridges[nic["bridge"]])
            for guest in guests if guest["state"] != "absent"
            for nic in guest["nics"] if nic["kind"] == "bridge" and nic["bridge"] in bridges and not nic["trust"]]
