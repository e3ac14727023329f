#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: nft_networks
short_description: Validate guest networks, and own their nftables table and saved boot state
version_added: 0.1.0
description:
  - The engine of the P(hostnet.qemu.network#role) role's filtering and persistence. Not meant to be called on its own.
  - With O(validate_only=true) it checks O(networks) (unique names, bridges and subnets; host address inside its
    subnet; C(nat) networks with an existing uplink; filter CIDRs; C(uplink) networks with a NIC that exists,
    is no other bridge's port, has no dynamic IPv4 address and is not configured by NetworkManager,
    systemd-networkd or ifupdown; C(dhcp) and C(dns) fields with ranges inside the subnet without the host's,
    network or broadcast address and not overlapping, static hosts with unicast MACs inside the subnet) and
    changes nothing. It returns the dnsmasq configuration of each network with DHCP or DNS.
  - Otherwise it writes the nftables ruleset O(ruleset_path), an nftables JSON document for the table C(inet)
    O(table) (it deletes and recreates only that table), and the device set O(state_path) read at boot. A new
    ruleset is checked with C(nft -j -c) before it replaces the saved one. It loads the ruleset with C(nft -j -f)
    when it changed, when the table is missing, or when the live table no longer matches what was loaded (a
    hand edit, a flushed chain). No other table is ever listed, flushed or deleted.
  - Each nat uplink's forwarding value found before is recorded in O(state_path), and the table drops what enters
    by an uplink that was off unless it goes to a bridge of a nat network behind it (see M(hostnet.qemu.networks)).
    This module switches no sysctl itself; the boot unit sets RV(sysctls) once the table is loaded.
  - O(state=absent) deletes the table and both files.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes
  - hostnet.qemu.ports
options:
  networks:
    description: The role's C(hostnet_network_networks) (see the role's argument spec).
    type: list
    elements: dict
    default: []
  table:
    description: Name of the collection's tables, C(inet) (routed traffic) and C(bridge) (guest ports).
    type: str
    default: hostnet_qemu
  ruleset_path:
    description: Where the nftables ruleset (nftables JSON) is saved.
    type: path
    default: /etc/hostnet-qemu/nftables.json
  state_path:
    description: Where the device set (JSON) for the boot-time unit is saved.
    type: path
    default: /etc/hostnet-qemu/netdevs.json
  state:
    description: C(present) or C(absent) (delete the table and both files).
    type: str
    choices: [present, absent]
    default: present
  validate_only:
    description: Only validate O(networks) against the host's interfaces; return the device set and sysctls.
    type: bool
    default: false
notes:
  - Supports check mode and diff.
requirements:
  - nft (nftables)
  - netaddr (Python)
  - pyroute2 (Python)
"""

EXAMPLES = r"""
- name: Validate the networks
  hostnet.qemu.nft_networks:
    networks:
      - {name: natnet, kind: nat, address: 192.168.50.1/24, uplink: eth0, filter: {allow: [10.0.0.0/24], reject: [10.0.0.5/32]}}
    validate_only: true
  register: checked
"""

RETURN = r"""
devices:
  description: The device set for M(hostnet.qemu.netdevs) (one bridge per network).
  returned: always
  type: list
  elements: dict
uplinks:
  description:
    - The NICs whose addresses move, for M(hostnet.qemu.uplink) (name, bridge, nic, state, via, dhcp, route_metric, vlans),
      each C(uplink) network's NIC onto its bridge, each C(takeover) macvtap network's parent onto its macvlan.
  returned: always
  type: list
  elements: dict
dnsmasq:
  description:
    - The networks' dnsmasq instances (DHCP and/or DNS), one per present network with C(dhcp) or C(dns), each
      with C(name), C(bridge), C(unit) (C(hostnet-qemu-dnsmasq@NAME.service)) and C(conf), the text of its
      configuration (bound to that bridge only).
  returned: always
  type: list
  elements: dict
sysctls:
  description:
    - Sysctls the networks need, in slash form; C(net/ipv4/conf/IF/forwarding) for each nat network's bridge and uplink,
      C(net/ipv6/conf/IF/force_forwarding) for those with IPv6, C(net/ipv6/conf/BRIDGE/accept_ra) 0; for an uplink
      with proxy NDP entries C(net/ipv6/conf/UPLINK/proxy_ndp) and C(forwarding) 1, C(accept_ra) 2 where it was 1.
  returned: always
  type: dict
missing_packages:
  description:
    - With O(validate_only=true), the Debian packages the networks need that the host lacks (C(nftables)
      without an C(nft) binary; C(dnsmasq-base) when a network has C(dhcp) or C(dns) and C(/usr/sbin/dnsmasq)
      is missing; C(busybox) when an uplink network has C(dhcp_client) and no C(busybox) is found (its C(udhcpc) is the
      client); C(frr) and C(frr-pythontools) when a network has C(span.control_plane=evpn) and FRR's
      C(bgpd) or C(frr-reload.py) is missing).
  returned: when O(validate_only=true)
  type: list
  elements: str
  sample: [dnsmasq-base]
ruleset:
  description: The nftables ruleset, an nftables JSON document (text).
  returned: when O(state=present)
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import (_dhcp, _forwarding, _frr, _nftnet, _nftports, _nftrules,
                                                                   _nftstate, _runner)


def missing_packages(module, dnsmasq, networks):
    """Debian's packages the networks need that this host lacks (nft; dnsmasq for DHCP/DNS; busybox for the udhcpc
    of uplinks with a DHCP client; FRR for EVPN)."""
    missing = [] if module.get_bin_path("nft", opt_dirs=["/usr/sbin", "/sbin"]) else ["nftables"]
    if dnsmasq and not os.path.exists("/usr/sbin/dnsmasq"):  # the path the dnsmasq unit runs
        missing.append("dnsmasq-base")
    if any(n["dhcp_client"] and n["state"] == "present" for n in networks) and not module.get_bin_path("busybox"):
        missing.append("busybox")
    return missing + _frr.missing_packages(networks)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networks=dict(type="list", elements="dict", default=[]),
            ports=dict(type="list", elements="dict", default=[], options=_nftports.SPEC),
            table=dict(type="str", default="hostnet_qemu"),
            ruleset_path=dict(type="path", default="/etc/hostnet-qemu/nftables.json"),
            state_path=dict(type="path", default="/etc/hostnet-qemu/netdevs.json"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            validate_only=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )

    def work():
        params = module.params
        # typed from here on; removing everything needs no tunnel endpoint
        networks = _nftnet.validate_on_host(params["networks"], tunnels=params["state"] == "present")
        out = {"devices": _nftnet.devices(networks), "uplinks": _nftnet.uplinks(networks), "changed": False}
        normalised = _nftnet.normalise(networks)
        out["dnsmasq"] = _dhcp.instances(normalised)  # DHCP/DNS: one dnsmasq per network
        forwarding = _forwarding.plan(normalised, params["state_path"])  # reads the host, changes nothing
        out["sysctls"] = _nftnet.sysctls(networks, forwarding["before"])
        if params["validate_only"]:
            out["missing_packages"] = missing_packages(module, out["dnsmasq"], normalised)
            return out
        nft = module.get_bin_path("nft", required=True)
        ports = _nftports.normalise(params["ports"], normalised)
        if params["state"] == "present":
            out["ruleset"] = _nftrules.render(networks, params["table"], guarded=forwarding["guarded"], ports=ports)
        result = _nftstate.converge(networks, params["table"], params["ruleset_path"], params["state_path"],
                                    state=params["state"], nft=nft, check_mode=module.check_mode,
                                    forwarding=forwarding["before"], ports=ports)
        out["changed"] = result["changed"]
        out["actions"] = [" ".join(str(a) for a in action[:2]) for action in result["actions"]]
        out["diff"] = result["diff"]
        return out

    _runner.run(module, work)


if __name__ == "__main__":
    main()
