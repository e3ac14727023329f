#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: span_info
short_description: Report this host's part of the networks that span hosts (VXLAN peers, remote MACs, BGP EVPN)
version_added: 0.2.0
description:
  - Reads, and changes nothing, what a host knows of its spanned networks (P(hostnet.qemu.network#role), C(span)).
  - For each VXLAN device, from one rtnetlink dump, its VNI, tunnel endpoint, port, bridge, learning and ARP/ND
    suppression, the flood list (the peers it sends broadcasts to) and the MACs it knows behind each peer, with
    where each came from (C(bgp) when FRR installed it from a type-2 route, C(learned) from traffic, C(static)).
  - When FRR runs a BGP instance, its EVPN sessions, as C(vtysh) reports them (state, uptime, routes received).
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes.info
options:
  names:
    description: Only these VXLAN devices (a missing one, or one that is not VXLAN, is an error). Default is every one.
    type: list
    elements: str
requirements:
  - pyroute2 (Python)
  - FRR's vtysh, for RV(bgp) (Debian package frr)
"""

EXAMPLES = r"""
- name: This host's overlays
  hostnet.qemu.span_info:
  register: spans

- name: Every BGP EVPN session is up
  ansible.builtin.assert:
    that: spans.bgp is none or spans.bgp.neighbors.values() | rejectattr('state', 'eq', 'Established') | list | length == 0
"""

RETURN = r"""
spans:
  description: The VXLAN devices by name.
  returned: always
  type: dict
  sample:
    hnvx4242:
      vni: 4242
      local: 192.0.2.11
      port: 4789
      bridge: lab
      learning: false
      neigh_suppress: true
      peers: [192.0.2.12]
      macs: {"192.0.2.12": [{mac: "52:54:00:42:00:02", origin: bgp}]}
bgp:
  description:
    - FRR's BGP EVPN summary; null when FRR is not installed, not running, or has no BGP instance.
  returned: always
  type: dict
  sample:
    asn: 64512
    router_id: 192.0.2.11
    neighbors: {"192.0.2.12": {state: Established, uptime: "00:04:10", prefixes_received: 3}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _frr, _runner, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._nlneigh import ZERO_MAC


def span(device):
    """One VXLAN device's report: settings, flood list, and the MACs behind each remote endpoint."""
    macs = {}
    for entry in device.get("fdb") or []:
        if entry["dst"] and entry["mac"] != ZERO_MAC:
            origin = "bgp" if entry["extern_learn"] else "static" if entry["permanent"] else "learned"
            macs.setdefault(entry["dst"], []).append({"mac": entry["mac"], "origin": origin})
    return {"vni": device["vni"], "local": device["local"], "port": device["port"], "bridge": device["master"],
            "learning": device["learning"], "neigh_suppress": device.get("neigh_suppress"),
            "peers": device["peers"], "macs": macs}


def main():
    module = AnsibleModule(argument_spec=dict(names=dict(type="list", elements="str")), supports_check_mode=True)

    def work():
        names = [_validate.ifname(n) for n in module.params["names"] or []]
        found = _engine.facts(names=names or None)
        others = sorted(n for n in names if found[n]["kind"] != "vxlan")
        if others:
            raise HostnetError("%s: not VXLAN devices (%s); name the VXLAN devices of spanned networks (hnvxVNI)"
                               % (", ".join(others), ", ".join(found[n]["kind"] for n in others)))
        return {"changed": False, "bgp": _frr.sessions(),
                "spans": dict((name, span(dev)) for name, dev in sorted(found.items()) if dev["kind"] == "vxlan")}

    _runner.run(module, work)


if __name__ == "__main__":
    main()
