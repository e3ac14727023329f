# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's nftables table, rendered as nftables JSON (loaded with `nft -j -f`).

JSON is the escaping for this format: every name and comment is a JSON string written by json.dumps, so no
value can end a rule, open a block or name another table. The document is one transaction: it (re)creates
only the table `inet TABLE` (add, delete, add again: the delete never fails), and touches no other table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _forwarding, _forwards, _nftexpr, _nftnet, _nftports
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

TABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
COMMENT_MAX = 128  # bytes, nftables' limit for a rule comment
BGP_PORT = 179


def _meta(key, value):
    return _nftexpr.match(_nftexpr.meta(key), value)


def _addr(field, cidr):
    return _nftexpr.match(_nftexpr.payload("ip6" if ":" in cidr else "ip", field), _nftexpr.prefix(cidr))


def _not_in(key, values):
    return _nftexpr.match(_nftexpr.meta(key), {"set": list(values)}, op="!=")


_COUNTER = _nftexpr.COUNTER
_REPLIES = _nftexpr.match({"ct": {"key": "state"}}, ["established", "related"], op="in")
_REJECT = {"reject": {"type": "icmpx", "expr": "admin-prohibited"}}
_verdict = _nftexpr.verdict


class _Table(object):
    """Collects the commands of one table's transaction (family inet or bridge)."""

    def __init__(self, name, family="inet"):
        self.name, self.family = name, family
        ref = {"family": family, "name": name}
        self.commands = [{"add": {"table": dict(ref)}}, {"delete": {"table": dict(ref)}}]
        self.created = False

    def create(self):
        self.created = True
        self.commands.append({"add": {"table": {"family": self.family, "name": self.name}}})

    def chain(self, name, kind=None, hook=None, prio=None):
        """A base chain (kind, hook, prio; policy accept) or, without them, a regular chain."""
        if not self.created:
            self.create()
        chain = {"family": self.family, "table": self.name, "name": name}
        if kind:
            chain.update(type=kind, hook=hook, prio=prio, policy="accept")
        self.commands.append({"add": {"chain": chain}})

    def rule(self, chain, expr, comment=None):
        rule = {"family": self.family, "table": self.name, "chain": chain, "expr": expr}
        if comment:
            rule["comment"] = comment.encode("utf-8")[:COMMENT_MAX].decode("utf-8", "ignore")
        self.commands.append({"add": {"rule": rule}})


def _document(*tables):
    return {"nftables": [{"metainfo": {"json_schema_version": 1}}] + [c for t in tables for c in t.commands]}


def render(networks, table="hostnet_qemu", guarded=(), ports=()):
    """The nftables JSON document (text) for the collection's tables, `inet TABLE` (routed traffic) and `bridge
    TABLE` (the guest ports); a table with nothing to hold is only deleted. `guarded`: the nat uplinks whose
    forwarding was off before the collection switched it on (_forwarding.plan); what enters by them is routed to
    their networks' bridges only. `ports`: the guest ports to hold to their NICs (_nftports.normalise)."""
    if not TABLE_RE.match(table):
        raise HostnetError("nft table name '%s' is not valid; use letters, digits and '_'" % table)
    # macvtap guests' traffic never crosses the host's forward path: nothing to render for them
    # (uplink guests are bridged onto the NIC's LAN: nothing to filter or masquerade either)
    present = [n for n in _nftnet.normalise(networks)
               if n["state"] == "present" and n["kind"] not in ("macvtap", "uplink")]
    doc, bridged = _Table(table), _Table(table, "bridge")
    _nftports.render(bridged, ports)
    spans = [n["span"] for n in present if n["span"]]
    if present:
        doc.chain("forward", "filter", "forward", 0)
        doc.chain("postrouting", "nat", "postrouting", 100)
    if spans:
        doc.chain("input", "filter", "input", 0)
        _tunnel_rules(doc, spans)
    if any(n.get("forwards") for n in present):
        doc.chain("prerouting", "nat", "prerouting", -100)
        doc.chain("output", "nat", "output", -100)
    behind = _forwarding.uplinks(present)
    for up in sorted(set(guarded) & set(behind)):
        doc.rule("forward", [_meta("iifname", up), _not_in("oifname", behind[up]), _COUNTER, _verdict("drop")],
                 "uplink %s: forwarding is on for the networks behind it only" % up)
    behind6 = _forwarding.uplinks6(present)  # an uplink guarded above is guarded for both families
    for up in sorted(set(_forwarding.guarded6(guarded)) & set(behind6) - set(guarded)):
        doc.rule("forward", [_meta("nfproto", "ipv6"), _meta("iifname", up), _not_in("oifname", behind6[up]),
                             _COUNTER, _verdict("drop")], "uplink %s: IPv6 forwarding is on for the networks behind it only" % up)
    for net in present:
        br, name = net["bridge"], net["name"]
        # guests on one network always see each other, also when br_netfilter hands bridged frames to this hook
        doc.rule("forward", [_meta("iifname", br), _meta("oifname", br), _COUNTER, _verdict("accept")],
                 "network %s: within the network" % name)
        if net["kind"] == "isolated":
            doc.rule("forward", [_meta("iifname", br), _COUNTER, _verdict("drop")], "network %s: isolated, nothing leaves" % name)
            doc.rule("forward", [_meta("oifname", br), _COUNTER, _verdict("drop")], "network %s: isolated, nothing enters" % name)
            continue
        up = net["uplink"]
        doc.rule("forward", [_meta("iifname", up), _meta("oifname", br), _REPLIES, _verdict("accept")],
                 "network %s: replies" % name)
        _forwards.rules(doc, net, _COUNTER)
        if net["kind"] == "routed":  # no NAT: the uplink's side reaches the guests by their own addresses
            doc.rule("forward", [_meta("iifname", up), _meta("oifname", br), _COUNTER, _verdict("accept")],
                     "network %s: routed, in from the uplink" % name)
        doc.rule("forward", [_meta("oifname", br), _COUNTER, _verdict("drop")], "network %s: only replies enter" % name)
        for cidr in net["reject"]:
            doc.rule("forward", [_meta("iifname", br), _addr("daddr", cidr), _COUNTER, _REJECT], "network %s: reject" % name)
        if net["allow"]:
            for cidr in net["allow"]:
                doc.rule("forward", [_meta("iifname", br), _meta("oifname", up), _addr("daddr", cidr), _COUNTER,
                                     _verdict("accept")], "network %s: allow" % name)
            doc.rule("forward", [_meta("iifname", br), _COUNTER, _REJECT], "network %s: not in allow" % name)
        else:
            doc.rule("forward", [_meta("iifname", br), _meta("oifname", up), _COUNTER, _verdict("accept")],
                     "network %s: out" % name)
            doc.rule("forward", [_meta("iifname", br), _COUNTER, _verdict("drop")], "network %s: nowhere else" % name)
        if net["kind"] == "nat":
            doc.rule("postrouting", [_meta("oifname", up), _addr("saddr", net["subnet"]), _COUNTER,
                                     {"masquerade": None}], "network %s" % name)
        if net["ipv6"] and net["ipv6"]["nat"]:
            doc.rule("postrouting", [_meta("oifname", up), _addr("saddr", net["ipv6"]["prefix"]), _COUNTER,
                                     {"masquerade": None}], "network %s: IPv6" % name)
    return json.dumps(_document(doc, bridged), indent=1, sort_keys=True) + "\n"


def _tunnel_rules(doc, spans):
    """VXLAN reaches this host only from the peers of the networks on its port, and BGP (EVPN) only from this host's
    BGP neighbours; nothing else new is opened."""
    by_port = {}
    for span in spans:
        by_port.setdefault(("udp", span["port"]), set()).update(span["peers"])
        if span["control_plane"] == "evpn":  # without neighbours (the only EVPN host so far): from nobody
            by_port.setdefault(("tcp", BGP_PORT), set()).update((span.get("bgp") or {}).get("neighbors") or [])
    for (proto, port), peers in sorted(by_port.items(), key=lambda item: (item[0][0] == "tcp", item[0][1])):
        dport = _nftexpr.match(_nftexpr.payload(proto, "dport"), port)
        what = ("BGP port %d: only from this host's BGP neighbours" if proto == "tcp"
                else "VXLAN port %d: only from the peers of the spanned networks") % port
        for family, version in (("ip", 4), ("ip6", 6)):
            mine = sorted(p for p in peers if (":" in p) == (version == 6))
            match = [_meta("nfproto", "ipv%d" % version), dport]
            if mine:
                match.append(_nftexpr.match(_nftexpr.payload(family, "saddr"), {"set": mine}, op="!="))
            doc.rule("input", match + [_COUNTER, _verdict("drop")], what)


def families(document):
    """The families whose table a rendered document creates (the others it only deletes)."""
    created = [c["add"]["table"]["family"] for c in json.loads(document)["nftables"] if "table" in c.get("add", {})]
    return sorted(set(f for f in created if created.count(f) > 1))


def wants_table(document):
    """Whether a rendered document creates a table (False: it only deletes them)."""
    return bool(families(document))
