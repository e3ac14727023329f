# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Addresses and routes in detail, for the uplink move (_uplink*.py): read with everything moving them must keep,
and changed one by one. A part of _netlink.Kernel (a mixin: it uses the session's socket, dump and batch writer),
kept apart so that the door to the kernel stays one file a reader takes in at once.

pyroute2's message classes encode these requests; they are imported on first use (_message).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._validate import within
from ansible_collections.hostnet.qemu.plugins.module_utils._nlwire import (
    AF_INET, AF_INET6, IFA_F_MANAGETEMPADDR, IFA_F_NODAD, IFA_F_NOPREFIXROUTE, NLM_F_CREATE, NLM_F_EXCL, RTM_DELROUTE,
    NETLINK_GET_STRICT_CHK, NTF_PROXY, RTM_GETADDR, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWROUTE, RTNH_F_ONLINK, RT_SCOPE_LINK,
    RT_TABLE_COMPAT, SOL_NETLINK, parse_address, parse_route, route_dump_request)
from ansible_collections.hostnet.qemu.plugins.module_utils._nlneigh import parse_proxy, proxy_request


def _message(name):
    """A new pyroute2 rtnetlink message (ifinfmsg, ifaddrmsg or rtmsg); pyroute2 is imported on first use."""
    try:
        module = importlib.import_module("pyroute2.netlink.rtnl." + name)
    except ImportError as exc:
        raise HostnetError("the pyroute2 Python library cannot be imported on the target (%s): pip install pyroute2" % exc)
    return getattr(module, name)()


RTPROT_HOSTNET = 74  # the routes the engine manages carry this protocol number (free in iproute2's rt_protos)
RT_TABLE_MAIN, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 0, 1


def route_text(dst, gateway):
    """How the engine writes a managed route: 'DST via GATEWAY', or 'DST' for a route on the link."""
    return "%s via %s" % (dst, gateway) if gateway else dst


def proxy_text(address, ifname):
    """How the engine writes a managed proxy neighbour entry: 'ADDRESS dev IFNAME'."""
    return "%s dev %s" % (address, ifname)


class RoutesMixin(object):
    """The uplink's reads and writes of addresses and routes, and the engine's managed routes (those with protocol
    RTPROT_HOSTNET in the main table) and proxy neighbour entries (the same protocol); mixed into _netlink.Kernel."""

    def attach_managed_routes(self, links, names):
        """Give every link of `links` ({name: link}, `names`: {ifindex: name}) its managed routes as 'routes', and
        as 'proxy_arp' the managed proxy entries (on any interface) for addresses those routes lead to: a proxy
        entry belongs to the link that carries the traffic it draws in."""
        for link in links.values():
            link["routes"], link["proxy_arp"] = [], []
        for route in self.managed_route_list():
            name = names.get(route["oif"])
            if name is not None:
                links[name]["routes"].append(route_text(route["dst"], route["gateway"]))
        routed = [link for link in links.values() if link["routes"]]
        for entry in (self.proxy_entries() if routed else []):
            if entry["protocol"] != RTPROT_HOSTNET or entry["index"] not in names:
                continue
            for link in routed:
                if any(within(entry["address"], route.split(" ")[0]) for route in link["routes"]):
                    link["proxy_arp"].append(proxy_text(entry["address"], names[entry["index"]]))
        for link in links.values():
            link["routes"].sort()
            link["proxy_arp"].sort()

    def managed_route_list(self):
        """The routes of protocol RTPROT_HOSTNET in the main table, as routes() gives them. The kernel filters the
        dump (strict checking), so a host with a full routing table does not send it all on every run."""
        raw = []
        try:
            self._sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)
        except OSError:  # a kernel before 4.20: the whole dump, filtered below
            raw = self._dump(RTM_GETROUTE)
        else:
            try:
                for family in (AF_INET, AF_INET6):
                    raw += self._dump(RTM_GETROUTE, request=lambda seq, f=family: route_dump_request(
                        seq, f, RTPROT_HOSTNET, RT_TABLE_MAIN))
            finally:
                self._sock.setsockopt(SOL_NETLINK, NETLINK_GET_STRICT_CHK, 0)
        return [r for r in (parse_route(*item) for item in raw)
                if r is not None and r["protocol"] == RTPROT_HOSTNET and r["table"] == RT_TABLE_MAIN]

    def proxy_entries(self):
        """Every proxy neighbour entry of the namespace, ARP and NDP: [{index, address, protocol}]."""
        return [e for e in (parse_proxy(*item) for item in self._dump(RTM_GETNEIGH, 0, NTF_PROXY)) if e is not None]

    def proxy_changes(self, changes):
        """changes: [('add'|'del', bridge name, 'ADDRESS dev IFNAME')]: the engine's own proxy entries (protocol
        RTPROT_HOSTNET), named after the bridge whose routes they serve."""
        reqs = []
        for action, name, text in changes:
            address, _dev, ifname = text.split(" ")
            reqs.append((proxy_request(action, self.resolve(ifname), address, RTPROT_HOSTNET),
                         ("bridge", name, "%s proxy %s for %s" % (action, "NDP" if ":" in address else "ARP", text))))
        self._send_batch(reqs)

    def managed_routes(self, changes):
        """changes: [('add'|'del', interface name, 'DST [via GATEWAY]')]: the engine's own routes."""
        entries = []
        for action, name, text in changes:
            dst, _sep, gateway = text.partition(" via ")
            entries.append((action, name, {
                "family": 6 if ":" in dst else 4, "dst": dst, "gateway": gateway or None, "table": RT_TABLE_MAIN,
                "protocol": RTPROT_HOSTNET, "scope": RT_SCOPE_UNIVERSE if gateway else RT_SCOPE_LINK,
                "type": RTN_UNICAST}))
        self.route_changes(entries)

    def address_details(self):
        """Every address of the namespace with what moving it must keep, in the kernel's order (an IPv4
        primary before its secondaries): [{index, family (4|6), address 'ip/len', broadcast, scope, flags,
        permanent, valid_lft (seconds, None: forever)}]."""
        return [a for a in (parse_address(*item) for item in self._dump(RTM_GETADDR)) if a is not None]

    def routes(self):
        """Every route of every table except 'local' (IPv4 and IPv6): [{family (4|6), dst 'ip/len', gateway,
        oif (ifindex or None), table, protocol, scope, type, metric, prefsrc, onlink, multipath_oifs}]."""
        return [r for r in (parse_route(*item) for item in self._dump(RTM_GETROUTE)) if r is not None]

    def address_changes(self, changes):
        """changes: [('add'|'del', interface name, entry as address_details() gives)]: broadcast, scope and the
        flags a user can set (noprefixroute, mngtmpaddr) are kept; IPv6 addresses are added without DAD (they
        were just in use on the same link); an entry's `lifetime` (seconds) becomes its valid and preferred lifetime."""
        reqs = []
        for action, name, entry in changes:
            msg, attrs = self._address_msg(action, name, entry["address"])
            family = msg["family"]
            if action == "add":
                msg["scope"] = entry.get("scope") or 0
                flags = (entry.get("flags") or 0) & (IFA_F_NOPREFIXROUTE | IFA_F_MANAGETEMPADDR)
                if family == AF_INET6:
                    flags |= IFA_F_NODAD
                if entry.get("broadcast") and family == AF_INET:
                    attrs.append(("IFA_BROADCAST", entry["broadcast"]))
                if flags:
                    msg["flags"] = flags & 0xFF
                    attrs.append(("IFA_FLAGS", flags))
                if entry.get("lifetime"):  # a DHCP lease: the kernel drops the address when nobody renews it
                    attrs.append(("IFA_CACHEINFO", {"ifa_preferred": entry["lifetime"], "ifa_valid": entry["lifetime"],
                                                    "cstamp": 0, "tstamp": 0}))
            msg["attrs"] = attrs
            reqs.append((msg, ("interface", name, "%s address %s" % (action, entry["address"]))))
        self._send_batch(reqs)

    def route_changes(self, changes):
        """changes: [('add'|'del', interface name, route as routes() gives)]: the route through that interface."""
        reqs = []
        for action, name, route in changes:
            dst, dst_len = route["dst"].split("/")
            msg = _message("rtmsg")
            msg["family"] = AF_INET6 if route["family"] == 6 else AF_INET
            msg["dst_len"] = int(dst_len)
            msg["table"] = route["table"] if route["table"] < 256 else RT_TABLE_COMPAT
            msg["proto"] = route["protocol"]
            msg["scope"] = route["scope"]
            msg["type"] = route["type"]
            msg["flags"] = RTNH_F_ONLINK if route.get("onlink") else 0
            attrs = [("RTA_TABLE", route["table"]), ("RTA_OIF", self.resolve(name))]
            if int(dst_len):
                attrs.append(("RTA_DST", dst))
            for key, attr in (("gateway", "RTA_GATEWAY"), ("metric", "RTA_PRIORITY"), ("prefsrc", "RTA_PREFSRC")):
                if route.get(key) is not None:
                    attrs.append((attr, route[key]))
            msg["attrs"] = attrs
            msg["header"]["type"] = RTM_NEWROUTE if action == "add" else RTM_DELROUTE
            msg["header"]["flags"] = (NLM_F_CREATE | NLM_F_EXCL) if action == "add" else 0
            via = " via %s" % route["gateway"] if route.get("gateway") else ""
            reqs.append((msg, ("interface", name, "%s route %s%s" % (action, route["dst"], via))))
        self._send_batch(reqs)
