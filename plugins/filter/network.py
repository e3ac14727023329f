# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the hostnet.qemu.network role; the logic lives in plugins/plugin_utils/_span.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _span


def network_spans(hosts, networks, vtep_addresses=None, vtep_interfaces=None, facts=None, states=None, mine=None,
                  evpn_asn=None, route_reflectors=None, guests=None, mac_prefixes=None):
    """Peers, VTEPs and gateways of the spanned networks of every host, checked across hosts, and the BGP of the
    hosts whose networks use EVPN (one AS, a full mesh or the named route reflectors). A host whose
    hostnet_network_state is absent takes part in none. `mine`: per host, what the role itself sees on a host of
    the play (its variables may come from the play or include_role, which hostvars do not show), else empty.
    `guests`, `mac_prefixes`: per host, its hostnet_guest_guests and hostnet_guest_mac_prefix (`mine` may carry
    them too): the static addresses of every member's guests join the DHCP and DNS of a spanned network's gateway."""
    hosts = list(hosts or [])

    def column(values):
        values = list(values or [])
        return values + [None] * (len(hosts) - len(values))
    data = dict((host, {"networks": nets or [], "vtep_address": address, "vtep_interface": iface, "facts": host_facts,
                        "absent": state == "absent"})
                for host, nets, address, iface, host_facts, state in zip(
                    hosts, column(networks), column(vtep_addresses), column(vtep_interfaces), column(facts),
                    column(states)))
    for host, own, host_guests, prefix in zip(hosts, column(mine), column(guests), column(mac_prefixes)):
        if isinstance(own, dict) and own:
            data[host].update(networks=own.get("networks") or [], vtep_address=own.get("vtep_address"),
                              vtep_interface=own.get("vtep_interface"), absent=own.get("state") == "absent")
            host_guests, prefix = own.get("guests", host_guests), own.get("mac_prefix", prefix)
        data[host].update(guests=host_guests, mac_prefix=prefix)
    try:
        return _span.plan(data, {"asn": evpn_asn, "route_reflectors": route_reflectors})
    except HostnetError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"network_spans": network_spans}
