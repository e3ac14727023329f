# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""THE door to the kernel: one rtnetlink socket (optionally inside a netns), dumps, batched writes.

Dump requests and every link create and change are packed by _nlwire, and dump replies are read by its lean
parsers (only the attributes the engine uses). Deletions, addresses and routes are encoded with pyroute2's
message classes, imported on first use: a run that only creates devices, or changes nothing, never pays
pyroute2's 0.12 s import. Writes are
pipelined (many requests in one send, acks collected afterwards), which is what makes a plan of 1000 devices
cost about what `ip -batch` costs. Netlink errors are translated here, in one place, into messages naming the
device, the namespace and the fix.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import importlib
import importlib.util
import os
import socket

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _netns, _tuntap
from ansible_collections.hostnet.qemu.plugins.module_utils._nlroutes import RoutesMixin, _message
from ansible_collections.hostnet.qemu.plugins.module_utils._nlwire import (
    AF_BRIDGE, AF_INET, AF_INET6, IFF_UP, NETLINK_ROUTE, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_CREATE,
    NLM_F_REPLACE, NLM_F_REQUEST, RTM_DELADDR, RTM_DELLINK, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_NEWADDR,
    RT_SCOPE_LINK, BATCH_BYTES, IFA_F_STABLE_PRIVACY, bridge_attrs, dump_request, error_code, messages, mode_attrs, parse_address,
    getlink, parse_link, port_request, setlink, vxlan_attrs)
from ansible_collections.hostnet.qemu.plugins.module_utils._nlneigh import ZERO_MAC, fdb_request, parse_neigh
from ansible_collections.hostnet.qemu.plugins.module_utils._nlvlan import VlanMixin
from ansible_collections.hostnet.qemu.plugins.module_utils._nodes import DeviceNodesMixin, drop_nodes

_SETTLE_CHUNK = 128  # getlink requests per send: their replies (about 1 KiB each) must fit the socket's buffer
HAS_PYROUTE2 = importlib.util.find_spec("pyroute2") is not None
PYROUTE2_IMPORT_ERROR = None if HAS_PYROUTE2 else ImportError("No module named 'pyroute2'")


class Kernel(RoutesMixin, VlanMixin, DeviceNodesMixin):
    """A session with the kernel's network stack, inside `netns` for its whole lifetime.

    Use as a context manager; everything (netlink socket, tun ioctls, sysfs reads)
    happens inside the namespace, and the process returns to its own on exit.
    """

    def __init__(self, netns=None):
        if not HAS_PYROUTE2:
            raise HostnetError("the pyroute2 Python library is required on the target: pip install pyroute2")
        self.netns = netns
        self._ns = None
        self._sock = None
        self._seq = 0
        self.index = {}  # name -> ifindex, kept current across writes

    # -- session -------------------------------------------------------------------------
    def __enter__(self):
        self._ns = _netns.entered(self.netns)
        self._ns.__enter__()
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self._sock.bind((0, 0))
        except Exception:
            self._ns.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self._sock is not None:
                self._sock.close()
        finally:
            self._ns.__exit__(*exc)
        return False

    def _next_seq(self):
        self._seq += 1
        return self._seq

    # -- low level -------------------------------------------------------------------------
    def _replies(self):
        """Yield (type, seq, data, offset, length) for every netlink message received, as they come."""
        while True:
            data = self._sock.recv(1 << 20)
            for mtype, seq, offset, length in messages(data):
                yield mtype, seq, data, offset, length

    def _recv_until(self, pending):
        """Read acks until every sequence number in `pending` has one; return {seq: errno (0: success)}."""
        result = {}
        if not pending:
            return result
        for mtype, seq, data, offset, _length in self._replies():
            if mtype == NLMSG_ERROR:
                result[seq] = error_code(data, offset)
                pending.discard(seq)
                if not pending:
                    return result
        return result

    def _dump(self, mtype, family=0, ndm_flags=0, request=None):
        """Send one dump request (`request`: seq -> bytes, else the plain one); return the raw reply messages as
        (data, offset, length)."""
        seq = self._next_seq()
        self._sock.send(request(seq) if request else dump_request(mtype, seq, family, ndm_flags))
        out = []
        for rtype, rseq, data, offset, length in self._replies():
            if rseq != seq:
                continue
            if rtype == NLMSG_DONE:
                break
            if rtype == NLMSG_ERROR:
                code = error_code(data, offset)
                raise HostnetError("cannot list links in %s: %s" % (_netns.where(self.netns), os.strerror(code)))
            out.append((data, offset, length))
        return out

    def _send_batch(self, requests):
        """Send [(msg, describe)] pipelined; raise the first failure, translated.

        msg is a pyroute2 message, or a function seq -> bytes for the hot, simple requests.
        """
        i = 0
        while i < len(requests):
            buf = []
            size = 0
            pending = {}
            while i < len(requests) and size < BATCH_BYTES:
                msg, describe = requests[i]
                seq = self._next_seq()
                if callable(msg):
                    data = msg(seq)
                else:
                    msg["header"]["sequence_number"] = seq
                    msg["header"]["flags"] |= NLM_F_REQUEST | NLM_F_ACK
                    msg.encode()
                    data = msg.data
                buf.append(data)
                size += len(data)
                pending[seq] = describe
                i += 1
            self._sock.send(b"".join(buf))
            acks = self._recv_until(set(pending))
            for seq in sorted(pending):
                code = acks.get(seq, 0)
                if code:
                    raise self._translate(pending[seq], code)

    def _translate(self, describe, code):
        kind, name, action = describe
        ns = _netns.where(self.netns)
        label = "%s '%s'" % (kind, name)
        if code == errno.EEXIST:
            return HostnetError("%s: %s failed: a device with that name already exists in %s" % (label, action, ns))
        if code == errno.ENODEV:
            return HostnetError("%s: %s failed: interface not found in %s" % (label, action, ns))
        if code == errno.EPERM:
            return HostnetError("%s: %s failed: operation not permitted in %s; run as root (CAP_NET_ADMIN)" % (label, action, ns))
        if code == errno.EOPNOTSUPP and "vlan" in action.lower():
            return HostnetError("%s: %s failed: this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING);"
                                " run it on a kernel that has it, or drop the VLAN options" % (label, action))
        if code == errno.EOPNOTSUPP:
            return HostnetError("%s: %s failed: not supported by this kernel (is the module for this device kind loaded?)"
                                % (label, action))
        if code == errno.EBUSY:
            return HostnetError("%s: %s failed: device or resource busy in %s" % (label, action, ns))
        return HostnetError("%s: %s failed in %s: %s" % (label, action, ns, os.strerror(code)))

    # -- read ------------------------------------------------------------------------------
    def dump(self, routes=False, vlans=False):
        """Current state of every link in the namespace, normalised: {name: dict}; with `routes`, each link's
        managed routes too (one more dump, only when a desired device has routes); with `vlans`, each bridge port's
        VLAN set (`vlans`, _nlvlan's entries; one more dump, only when a desired device manages VLANs).

        pyroute2 decodes every attribute of every link (about 1 ms a link); this reads
        only the dozen attributes the engine uses, so a 1000-device no-op stays fast.
        """
        raw = [parse_link(*item) for item in self._dump(RTM_GETLINK)]
        names = dict((link["index"], link["name"]) for link in raw)
        links = {}
        for link in raw:
            link["master"] = names.get(link["master"]) if link["master"] else None
            parent = link.pop("parent", None)
            if link["kind"] in ("macvtap", "macvlan"):
                link["link"] = names.get(parent) if parent else None
            elif link["kind"] == "veth":
                link["peer_ifindex"] = parent  # the peer may live in another namespace
            elif link["kind"] == "vxlan":
                link["underlay"] = names.get(link["underlay"]) if link["underlay"] else None
            links[link["name"]] = link
        self.index = dict((name, link["index"]) for name, link in links.items())
        for item in self._dump(RTM_GETADDR):
            address = parse_address(*item)
            name = None if address is None else names.get(address["index"])
            if name is None:
                continue
            if address["family"] == 6 and address["scope"] == RT_SCOPE_LINK:  # not in `addresses`, which are managed
                links[name].setdefault("link_local", []).append(
                    {"address": address["address"], "stable_privacy": bool(address["flags"] & IFA_F_STABLE_PRIVACY)})
                continue
            links[name]["addresses"].append(address["address"] + (" peer " + address["peer"] if address["peer"] else ""))
        for link in links.values():
            link["addresses"].sort()
        if routes:
            self.attach_managed_routes(links, names)
        if vlans:
            for index, entries in self.port_vlans().items():
                if index in names and links[names[index]]["master"]:
                    links[names[index]]["vlans"] = entries
        vxlans = dict((link["index"], link) for link in links.values() if link["kind"] == "vxlan")
        if vxlans:  # their forwarding databases, and the flood lists in them (all-zero entries with a destination)
            for link in vxlans.values():
                link["fdb"] = []
            for entry in self.fdb():
                if entry["index"] in vxlans:
                    vxlans[entry["index"]]["fdb"].append(entry)
            for link in vxlans.values():
                link["peers"] = sorted(set(e["dst"] for e in link["fdb"] if e["mac"] == ZERO_MAC and e["dst"] and e["self"]))
        return links

    def fdb(self):
        """Every forwarding-database entry of the namespace (bridges' and VXLAN devices'), as parse_neigh gives."""
        return [e for e in (parse_neigh(*item) for item in self._dump(RTM_GETNEIGH, AF_BRIDGE)) if e is not None]

    # -- write -----------------------------------------------------------------------------
    def resolve(self, name):
        idx = self.index.get(name)
        if idx is None:
            try:
                idx = socket.if_nametoindex(name)
            except OSError:
                raise HostnetError("interface '%s' not found in %s" % (name, _netns.where(self.netns)))
            self.index[name] = idx
        return idx

    def delete(self, items):
        """items: [(kind, name)]; a deleted macvtap's /dev/tapN node goes with it."""
        nodes = self.device_nodes([name for kind, name in items if kind == "macvtap"])
        reqs = []
        for kind, name in items:
            msg = _message("ifinfmsg")
            msg["index"] = self.resolve(name)
            msg["header"]["type"] = RTM_DELLINK
            msg["header"]["flags"] = 0
            reqs.append((msg, (kind, name, "delete")))
        self._send_batch(reqs)
        for _kind, name in items:
            self.index.pop(name, None)
        for info in nodes.values():  # devtmpfs or udev may have removed it already; a copy elsewhere goes too
            drop_nodes(info["rdev"])

    def create_links(self, specs):
        """Create bridges, macvtaps, macvlans and VXLAN devices through rtnetlink: specs are desired-device dicts."""
        reqs = []
        for spec in specs:
            if spec["kind"] == "bridge":  # off is the kernel's default (and one without VLAN filtering refuses it)
                link, data = None, bridge_attrs(dict(spec, vlan_filtering=spec.get("vlan_filtering") or None))
            elif spec["kind"] == "vxlan":
                underlay = self.resolve(spec["underlay"]) if spec.get("underlay") else None
                link, data = None, vxlan_attrs(spec, underlay)
            else:
                link, data = self.resolve(spec["link"]), mode_attrs(spec["kind"], spec["mode"])
            request = setlink(0, spec["name"], 0, 0, spec.get("mtu") or None, spec.get("mac") or None, None,
                              link=link, kind=spec["kind"], data=data, create=True)
            action = "create with VLAN filtering" if spec.get("vlan_filtering") else "create"
            reqs.append((request, (spec["kind"], spec["name"], action)))
        self._send_batch(reqs)
        for spec in specs:
            self.index.pop(spec["name"], None)
            self.resolve(spec["name"])

    def tun(self, spec, create):
        _tuntap.configure(spec["name"], spec["kind"], spec.get("pi"), spec.get("vnet_hdr"),
                          spec.get("multi_queue"), spec.get("owner"), spec.get("group"), create)
        if create:
            self.index.pop(spec["name"], None)  # new ifindex; later requests address it by name

    def create_tuns(self, specs):
        """Create taps and tuns, then ask for each once (getlink), which settles its carrier off at once. Else the
        change waits for the link watch (up to a second, 100 links at a time), a bridge enables the new port when it
        comes up, and disables it again later: 1000 taps took a third longer (docs/benchmarks.md)."""
        for spec in specs:
            self.tun(spec, create=True)
        for start in range(0, len(specs), _SETTLE_CHUNK):  # chunked: each reply is a link's whole description
            self._send_batch([(getlink(s["name"]), (s["kind"], s["name"], "read back")) for s in specs[start:start + _SETTLE_CHUNK]])

    def set_links(self, changes):
        """changes: [(kind, name, {field: value})], fields up, mtu, mac, master, and kind data."""
        reqs = []
        for kind, name, fields in changes:
            data = []
            if kind == "bridge":
                data = bridge_attrs(fields)
            elif kind in ("macvtap", "macvlan") and "mode" in fields:
                data = mode_attrs(kind, fields["mode"])
            elif kind == "vxlan":
                underlay = None
                if "underlay" in fields:
                    underlay = self.resolve(fields["underlay"]) if fields["underlay"] else 0
                data = vxlan_attrs(fields, underlay)
            flags = change = 0
            if "up" in fields:
                change = IFF_UP
                flags = IFF_UP if fields["up"] else 0
            master = None
            if "master" in fields:
                master = self.resolve(fields["master"]) if fields["master"] else 0
            describe = (kind, name, "set " + ", ".join(sorted(fields)))
            index = self.index.get(name, 0)  # 0: the kernel finds the link by IFLA_IFNAME
            if "addr_gen_mode" in fields:  # its own request, before the link comes up and forms its address
                reqs.append((setlink(index, name, 0, 0, None, None, None, addr_gen_mode=fields["addr_gen_mode"]),
                             describe))
            if set(fields) - {"bridge_port", "addr_gen_mode"}:
                reqs.append((setlink(index, name, flags, change, fields.get("mtu"), fields.get("mac"), master,
                                     kind=kind if data else None, data=data), describe))
            if "bridge_port" in fields:  # after the request that may have put it in its bridge
                reqs.append((port_request(index, name, fields["bridge_port"]), describe))
        self._send_batch(reqs)

    def fdb_changes(self, changes):
        """changes: [(kind, name, 'add'|'del', mac, dst)]: permanent entries of VXLAN devices."""
        self._send_batch([(fdb_request(action, self.resolve(name), mac, dst),
                           (kind, name, "%s fdb entry %s dst %s" % (action, mac, dst)))
                          for kind, name, action, mac, dst in changes])

    def _address_msg(self, action, name, cidr):
        """An RTM_NEWADDR ('add') or RTM_DELADDR request for cidr on interface name, and its basic attributes.
        cidr 'IP/LEN peer PEER' is a point-to-point address (IFA_LOCAL IP, IFA_ADDRESS PEER)."""
        cidr, _sep, peer = cidr.partition(" peer ")
        ip, prefix = cidr.split("/")
        family = AF_INET6 if ":" in ip else AF_INET
        msg = _message("ifaddrmsg")
        msg["family"] = family
        msg["prefixlen"] = int(prefix)
        msg["index"] = self.resolve(name)
        msg["header"]["type"] = RTM_NEWADDR if action == "add" else RTM_DELADDR
        msg["header"]["flags"] = (NLM_F_CREATE | NLM_F_REPLACE) if action == "add" else 0
        if peer:
            attrs = [("IFA_LOCAL", ip), ("IFA_ADDRESS", peer)]
        else:
            attrs = [("IFA_LOCAL", ip), ("IFA_ADDRESS", ip)] if family == AF_INET else [("IFA_ADDRESS", ip)]
        return msg, attrs

    def addresses(self, changes):
        """changes: [(kind, name, 'add'|'del', cidr)]"""
        reqs = []
        for kind, name, action, cidr in changes:
            msg, attrs = self._address_msg(action, name, cidr)
            msg["attrs"] = attrs
            reqs.append((msg, (kind, name, "%s address %s" % (action, cidr))))
        self._send_batch(reqs)
