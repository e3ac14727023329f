#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: netdev_info
short_description: Report bridges, taps, tuns, macvtaps, macvlans, VXLAN devices, veths and physical links
version_added: 0.1.0
description:
  - Reads every link of a network namespace with one rtnetlink dump and reports what the kernel says about
    bridges (ports, STP and addresses); taps and tuns (owner, group, flags, master and persistence);
    macvtaps (parent, mode and their C(/dev/tapN) node with owner, group, mode); macvlans (parent, mode,
    addresses); VXLAN devices (VNI, local endpoint, underlay, UDP port, learning, ARP/ND suppression on its bridge
    port, the flood list as C(peers) and
    the whole forwarding database as C(fdb), that is which MAC is behind which remote endpoint and whether a
    control plane installed it); veth and physical links.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes.info
  - hostnet.qemu.netns
options:
  names:
    description: Only these interfaces; a missing one is an error. Default is every link.
    type: list
    elements: str
  kinds:
    description: Only links of these kinds.
    type: list
    elements: str
    choices: [bridge, tap, tun, macvtap, macvlan, vxlan, veth, physical, loopback]
requirements:
  - pyroute2 (Python library, on the target)
  - netaddr (Python library, on the target)
"""

EXAMPLES = r"""
- name: Everything in the host namespace
  hostnet.qemu.netdev_info:
  register: nd

- name: The taps of one lab namespace
  hostnet.qemu.netdev_info:
    netns: lab1
    kinds: [tap]
  register: taps

- name: Show who owns vm1-net0
  ansible.builtin.debug:
    msg: "{{ nd.netdevs['vm1-net0'].owner }}"
"""

RETURN = r"""
netdevs:
  description:
    - Links by name.
    - A bridge port's C(vlans) are its VLANs as C(bridge vlan show) words them (V(10) tagged, V(10 pvid untagged) its
      untagged VLAN); empty on a kernel without bridge VLAN filtering.
  returned: always
  type: dict
  sample:
    vmnet0: {kind: bridge, ifindex: 7, up: true, stp: false, addresses: ["192.168.100.1/24"], ports: ["vm1-net0"]}
    vm1-net0: {kind: tap, ifindex: 8, owner: 1000, group: 1001, master: vmnet0, persist: true, multi_queue: false,
               vlans: ["1 pvid untagged"]}
    vm3-mv0: {kind: macvtap, link: eth0, mode: bridge, device: /dev/tap9, device_group: 1001, device_mode: "0660"}
    span0-vx: {kind: vxlan, vni: 4242, local: 192.0.2.11, underlay: eth0, port: 4789, learning: false, neigh_suppress: true,
               master: span0, peers: [192.0.2.12],
               fdb: [{mac: "00:00:00:00:00:00", dst: 192.0.2.12, permanent: true, extern_learn: false},
                     {mac: "52:54:00:0a:0b:0c", dst: 192.0.2.12, permanent: false, extern_learn: true}]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _runner, _validate


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str"),
            kinds=dict(type="list", elements="str",
                       choices=["bridge", "tap", "tun", "macvtap", "macvlan", "vxlan", "veth", "physical", "loopback"]),
            netns=dict(type="str"),
        ),
        supports_check_mode=True,
    )

    def work():
        names = [_validate.ifname(n) for n in module.params["names"] or []]
        found = _engine.facts(netns=module.params["netns"], names=names or None)
        kinds = module.params["kinds"]
        if kinds:
            found = dict((n, v) for n, v in found.items() if v["kind"] in kinds)
        return {"changed": False, "netdevs": found}

    _runner.run(module, work)


if __name__ == "__main__":
    main()
