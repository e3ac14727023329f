# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clashes between normalised guests (_guest.py), on one host and across the hosts of a play."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def conflicts(plans_by_host):
    """Clashes between guests: {host: [normalised guest]} -> list of messages naming both guests.

    MACs must be unique across every host (guests may share a network); guest names, taps, macvtaps and
    hostfwd host ports per host.
    """
    problems = []
    macs = {}
    endpoints = {}
    for host in sorted(plans_by_host):
        names, ifnames, ports, listens = {}, {}, {}, {}
        for guest in plans_by_host[host] or []:
            who = "guest '%s' on %s" % (guest["name"], host)
            if guest["name"] in names:
                problems.append("%s is defined twice on that host; guest names must be unique per host" % who)
            names[guest["name"]] = who
            if guest["state"] == "absent":
                continue
            for nic in guest["nics"]:
                field = "nics[%d]" % nic["index"]
                other = macs.get(nic["mac"])
                if other:
                    problems.append("duplicate MAC %s: %s %s and %s; set a distinct nics[].mac on one of them"
                                    % (nic["mac"], who, field, other))
                else:
                    macs[nic["mac"]] = "%s %s" % (who, field)
                if nic.get("ifname"):
                    other = ifnames.get(nic["ifname"])
                    if other:
                        problems.append("%s %s and %s both claim interface '%s'; give one of them another ifname"
                                        % (who, field, other, nic["ifname"]))
                    else:
                        ifnames[nic["ifname"]] = "%s %s" % (who, field)
                if nic["kind"] == "socket" and nic.get("listen"):
                    other = listens.get(nic["listen"])
                    if other:
                        problems.append("%s %s.listen and %s both listen on %s; give one of them another port"
                                        % (who, field, other, nic["listen"]))
                    listens[nic["listen"]] = "%s %s" % (who, field)
                elif nic["kind"] == "socket" and nic["mode"] == "mcast":
                    key = (nic["group"], nic["port"])
                    if key in endpoints and endpoints[key] != nic["network"]:
                        problems.append("socket networks '%s' and '%s' hash to the same %s:%d; rename one"
                                        % (nic["network"], endpoints[key], key[0], key[1]))
                    endpoints[key] = nic["network"]
                for i, rule in enumerate(nic.get("hostfwd", [])):
                    key = (rule["proto"], rule["host_address"], rule["host_port"])
                    wild = [k for k in ports if k[0] == key[0] and k[2] == key[2]
                            and "0.0.0.0" in (k[1], key[1])]
                    clash = ports.get(key) or (ports[wild[0]] if wild else None)
                    here = "%s %s.hostfwd[%d]" % (who, field, i)
                    if clash:
                        problems.append("%s and %s both forward %s port %s:%d; give one another host_port"
                                        % (here, clash, key[0], key[1], key[2]))
                    else:
                        ports[key] = here
    return problems
