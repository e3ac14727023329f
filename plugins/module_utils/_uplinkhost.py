# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Uplink networks, the host side: one read of the kernel, taking an entry to a direction now, and the preflight
checks that only the host shows (dynamic addresses, multipath routes, a network manager owning the NIC).

Everything goes through _netlink.Kernel; no Ansible imports (the boot CLI uses this file)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _dhcpclient, _files, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel
from ansible_collections.hostnet.qemu.plugins.module_utils._engine import apply
from ansible_collections.hostnet.qemu.plugins.module_utils._planview import describe
from ansible_collections.hostnet.qemu.plugins.module_utils._uplinkplan import WHAT, nic_field, plan, uplink_label, via


def read(kernel, vlans=False):
    """One read of links, addresses and routes: {links, addresses: {name: [..]}, routes: {name: [..]},
    multipath: {name: [routes with a nexthop through it]}}; with `vlans` (an entry carries VLANs) the bridge ports'
    VLANs too."""
    links = kernel.dump(vlans=vlans)
    names = dict((link["index"], name) for name, link in links.items())
    addresses, routes, multipath = {}, {}, {}
    for entry in kernel.address_details():
        if entry["index"] in names:
            addresses.setdefault(names[entry["index"]], []).append(entry)
    for route in kernel.routes():
        if route["oif"] in names:
            routes.setdefault(names[route["oif"]], []).append(route)
        for hop in route["multipath_oifs"]:
            if hop in names:
                multipath.setdefault(names[hop], []).append(route)
    return {"links": links, "addresses": addresses, "routes": routes, "multipath": multipath}


def host_dump(netns=None):
    """Every link of the host with its master, MTU and addresses (what the networks' checks need to know)."""
    with Kernel(netns) as kernel:
        return kernel.dump()


def address_networks(dump, ifname):
    """The addresses of `ifname` in a host_dump() as [(netaddr network, 'ip/len')] (a point-to-point peer left out,
    an unreadable entry skipped): what a network's checks compare with the host's own subnets."""
    out = []
    for entry in (dump.get(ifname) or {}).get("addresses") or []:
        text = entry.split(" ")[0]
        found = _validate.network(text)
        if found is not None:
            out.append((found, text))
    return out


def host_links(netns=None):
    """{interface name: its master's name or None} (what _nftnet.check() needs to know about the host)."""
    return dict((name, link.get("master")) for name, link in host_dump(netns).items())


def converge(entry, direction, delete_bridge=False, netns=None, best_effort=False):
    """Take one entry to `direction` now, in this process; return the lines of what was done."""
    with Kernel(netns) as kernel:
        ops = plan(entry, direction, read(kernel, bool(entry.get("vlans"))), delete_bridge)
        apply(kernel, ops, best_effort)
        if ops:
            left = plan(entry, direction, read(kernel, bool(entry.get("vlans"))), delete_bridge)
            if left:
                raise HostnetError("%s: the kernel did not take every change; still to do: %s"
                                   % (uplink_label(entry), "; ".join(describe(op) for op in left)))
    return [describe(op) for op in ops]


# -- preflight: what would fight the move --------------------------------------------------------
def check_host(uplinks, netns=None, root="/"):
    """Problems of present uplink networks that only the host shows: dynamic addresses, multipath routes, a
    network manager configuring the NIC. `uplinks`: [{name, bridge, nic, state}]; a NIC that is missing or
    enslaved elsewhere is _nftnet.check()'s to report; one already moved is not checked again."""
    wanted = [u for u in uplinks if u["state"] == "present"]
    if not wanted:
        return []
    with Kernel(netns) as kernel:
        live = read(kernel)
    errors = []
    for u in wanted:
        label = "network '%s'" % u["name"]
        field, target = nic_field(u), "%s '%s'" % (via(u), u["bridge"])
        nic, link = u["nic"], live["links"].get(u["nic"])
        if link is None or link.get("master"):
            continue
        if link["kind"] in ("bridge", "loopback"):
            errors.append("%s: field '%s' '%s' is a %s, which cannot give its addresses to %s; give the NIC"
                          " (e.g. eth1)" % (label, field, nic, link["kind"], target))
            continue
        for entry in live["addresses"].get(nic, []):
            if entry["family"] == 4 and not entry["permanent"] and not u.get("dhcp"):
                errors.append("%s: field '%s' '%s' has the dynamic address %s (a DHCP lease, %s s left): %s would get"
                              " a static copy that no DHCP client renews; %sgive %s a static address, or run the DHCP"
                              " client on %s yourself, then rerun"
                              % (label, field, nic, entry["address"], entry["valid_lft"], target,
                                 "set dhcp_client: true (the collection runs one on the bridge), or " if via(u) == "bridge"
                                 else "", nic, target))
        for pid, command in _dhcpclient.foreign_clients(nic) if u.get("dhcp") else []:
            errors.append("%s: field '%s' '%s' has a DHCP client of its own (pid %d: %s), which would renew the lease on"
                          " the NIC against the collection's client on %s; stop it (its address stays until the lease"
                          " runs out, and the move asks for it again on the bridge), then rerun"
                          % (label, field, nic, pid, command, target))
        for route in live["multipath"].get(nic, []):
            errors.append("%s: field '%s' '%s' carries the multipath route %s; multipath routes are not moved:"
                          " replace it by single-path routes through %s, then rerun" % (label, field, nic, route["dst"], nic))
        errors.extend(_managers(u, label, link["index"], root))
    return errors


def _keyvalues(path):
    out = {}
    try:
        with open(path) as handle:
            for line in handle:
                if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
                    key, value = line.split("=", 1)
                    out[key.strip()] = value.strip()
    except (IOError, OSError):
        return None
    return out


_IFACE = re.compile(r"^\s*iface\s+(\S+)\s+(\S+)\s+(\S+)")


def _managers(u, label, index, root):
    """NetworkManager, systemd-networkd or ifupdown configuring the NIC: one message each, naming the fix."""
    nic, br = u["nic"], u["bridge"]
    bridged, field = via(u) == "bridge", nic_field(u)  # a macvtap parent: only "leave the NIC alone" applies
    errors = []
    nm_path = os.path.join(root, "run/NetworkManager/devices", str(index))
    nm = _keyvalues(nm_path)
    if nm and nm.get("managed", "").lower() in ("true", "1", "yes"):
        either = ("either let NetworkManager own the bridge (nmcli connection add type bridge ifname %s; nmcli"
                  " connection add type bridge-slave ifname %s master %s) and drop this network, or " % (br, nic, br)
                  if bridged else "")
        errors.append(
            "%s: field '%s' '%s' is managed by NetworkManager (%s: managed=true), which would fight the move;"
            " %shand it over with its addresses: nmcli device set %s managed no (NetworkManager leaves the NIC's"
            " addresses and routes in place), then keep it unmanaged with [keyfile] unmanaged-devices+=interface-name:%s"
            " in a file of /etc/NetworkManager/conf.d/ and nmcli general reload conf (that file alone would make"
            " NetworkManager take the NIC down and flush it), then rerun"
            % (label, field, nic, "/" + os.path.relpath(nm_path, root), either, nic, nic))
    nd_path = os.path.join(root, "run/systemd/netif/links", str(index))
    nd = _keyvalues(nd_path)
    if nd and (nd.get("NETWORK_FILE") or nd.get("ADMIN_STATE", "unmanaged") not in ("unmanaged", "linger", "")):
        either = ("either let networkd own the bridge (a .netdev with Kind=bridge named %s, and Bridge=%s in %s's"
                  " .network) and drop this network, or " % (br, br, nic) if bridged else "")
        errors.append(
            "%s: field '%s' '%s' is configured by systemd-networkd (%s, state %s), which would fight the move;"
            " %sstop networkd from configuring %s (set Unmanaged=yes in the [Link] section of its .network file, then"
            " systemctl restart systemd-networkd: a restart leaves the NIC's addresses and routes in place, networkctl"
            " reload would flush them), then rerun"
            % (label, field, nic, nd.get("NETWORK_FILE") or "/" + os.path.relpath(nd_path, root),
               nd.get("ADMIN_STATE", "?"), either, nic))
    files = [os.path.join(root, "etc/network/interfaces")]
    ddir = os.path.join(root, "etc/network/interfaces.d")
    if os.path.isdir(ddir):
        files += [os.path.join(ddir, f) for f in sorted(os.listdir(ddir))]
    for path in files:
        text = _files.read_text(path, WHAT) if os.path.isfile(path) else None
        for line in (text or "").splitlines():
            match = _IFACE.match(line)
            if match and match.group(1) == nic and match.group(3) != "manual":
                alternative = (", or let ifupdown own the bridge (iface %s ... bridge_ports %s) and drop this network"
                               % (br, nic) if bridged else "")
                if bridged and match.group(3) == "dhcp":
                    alternative += ("; for the lease, set dhcp_client: true on this network (the collection's client"
                                    " asks for it on the bridge) and stop the NIC's own client without releasing the"
                                    " lease (dhclient -x %s)" % nic)
                errors.append(
                    "%s: field '%s' '%s' is configured by ifupdown (%s: 'iface %s %s %s'), which would configure it"
                    " again at boot and fight the %s; change that stanza to 'iface %s %s manual' (drop its address,"
                    " gateway and dhcp lines)%s, then rerun"
                    % (label, field, nic, "/" + os.path.relpath(path, root), nic, match.group(2), match.group(3),
                       "bridge" if bridged else "macvlan", nic, match.group(2), alternative))
    return errors
