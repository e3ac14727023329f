#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: bridge
short_description: Manage a Linux bridge, its ports and addresses
version_added: 0.1.0
description:
  - Creates, converges or deletes a Linux bridge through rtnetlink (pyroute2), without parsing C(ip) output.
  - Reads the namespace once, plans the changes (create, set, enslave, addresses) and applies them in order;
    check mode and diff come from that plan.
  - A bridge is a set of one for the same engine as M(hostnet.qemu.netdevs); use that module for many devices.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.device
  - hostnet.qemu.netns
  - hostnet.qemu.attributes
  - hostnet.qemu.attributes.netlink
options:
  stp:
    description: Enable or disable the spanning tree protocol. Omit to leave it as it is (new bridges start without STP).
    type: bool
  forward_delay:
    description: STP forward delay in seconds (0 to 300). Omit to leave it as it is.
    type: float
  vlan_filtering:
    description: Enable or disable VLAN filtering on the bridge. Omit to leave it as it is.
    type: bool
  addr_gen_mode:
    description:
      - How the bridge forms its IPv6 link-local address, whatever the host's default
        (C(net.ipv6.conf.default.addr_gen_mode), C(stable_secret)).
      - V(eui64) forms it from the bridge's MAC (C(fe80::/64) with C(ff:fe) in the middle); the guest port filters of
        the collection's networks refuse every such address but a NIC's own, so the host's address cannot be claimed.
      - V(none) forms none (a bridge the host does not speak IPv6 on).
      - On an existing bridge, a link-local address the kernel formed under another mode is replaced (deleted, and
        for V(eui64) the one from the bridge's current MAC added); addresses given by hand are left alone.
      - Omit to leave it as it is. Ignored on a kernel without IPv6.
    type: str
    choices: [eui64, none]
  addresses:
    description:
      - The complete list of IPv4 and IPv6 addresses of the bridge, in CIDR form (C(192.0.2.1/24), C(2001:db8::1/64)).
      - Normalised by netaddr before comparing. Addresses not listed are removed, except kernel-made IPv6 link-local ones.
      - Omit to leave addresses alone; an empty list removes them all.
    type: list
    elements: str
  routes:
    description:
      - The complete list of the routes the collection keeps through the bridge, each C(DEST via GATEWAY) (e.g.
        C(10.67.0.0/24 via 10.66.0.254), a subnet behind a guest) or C(DEST) (on the link).
      - They live in the main table with their own protocol number (74), so routes anyone else made are never
        touched or removed. Omit to leave them alone; an empty list removes them all.
    type: list
    elements: str
  proxy_arp:
    description:
      - The complete list of proxy neighbour entries that draw traffic into O(routes), each C(ADDRESS dev IFNAME)
        (e.g. C(192.0.2.50 dev eth0)), as C(ip neigh add proxy) makes them. The host then answers ARP (NDP for
        IPv6) for the address on that interface, so hosts on its LAN reach a guest that holds an address of the
        LAN's subnet without a route of their own (the kernel answers only while the interface forwards).
      - Each address must lie in one of O(routes). The entries carry protocol 74 and belong to the bridge whose
        routes lead to their addresses, so they are removed with the bridge; entries anyone else made are never
        touched. Omit to leave them alone; an empty list removes them all.
    type: list
    elements: str
  ports:
    description:
      - Interfaces to enslave to the bridge. Each must exist in the namespace.
      - A port already enslaved to another master is refused unless O(force=true).
    type: list
    elements: str
  port_vlans:
    description:
      - The VLANs every port in O(ports) carries tagged (a trunk to a LAN switch), on a bridge with
        O(vlan_filtering=true). The ports' VLANs become exactly these and O(port_native); omit to leave them alone.
      - A guest's tap takes its own VLANs (M(hostnet.qemu.tap) O(hostnet.qemu.tap#module:vlan)).
    type: list
    elements: int
  port_native:
    description: With O(port_vlans), the ports' untagged VLAN (usually V(1), the bridge's own).
    type: int
  exclusive_ports:
    description: Also release ports of the bridge that are not listed in O(ports).
    type: bool
    default: false
  force:
    description: Move ports that are enslaved to another master.
    type: bool
    default: false
seealso:
  - module: hostnet.qemu.netdevs
  - module: hostnet.qemu.netdev_info
"""

EXAMPLES = r"""
- name: An isolated bridge for guests, with a host address
  hostnet.qemu.bridge:
    name: vmnet0
    addresses:
      - 192.168.100.1/24
      - fd00:100::1/64

- name: Route a LAN address to a guest (10.66.0.2 holds 192.0.2.50) and answer ARP for it on the uplink eth0
  hostnet.qemu.bridge:
    name: vmrt0
    addresses: [10.66.0.1/24]
    routes: [192.0.2.50/32 via 10.66.0.2]
    proxy_arp: [192.0.2.50 dev eth0]

- name: A bridge that owns exactly these ports (vm2-net0, a tap in no bridge yet)
  hostnet.qemu.bridge:
    name: br-lab
    stp: false
    ports: [vm2-net0]
    exclusive_ports: true

- name: Remove it
  hostnet.qemu.bridge:
    name: br-lab
    state: absent

- name: Work inside an existing network namespace
  hostnet.qemu.bridge:
    name: br0
    netns: lab1
"""

RETURN = r"""
interface:
  description:
    - The bridge as the kernel reports it after the run (in check mode, as planned), with C(routes) and C(proxy_arp)
      when O(routes) or O(proxy_arp) is given. C(null) when absent.
  returned: always
  type: dict
  sample:
    name: vmnet0
    kind: bridge
    ifindex: 7
    up: true
    mtu: 1500
    mac: "2a:9b:55:01:02:03"
    master: null
    stp: false
    forward_delay: 15.0
    vlan_filtering: false
    addr_gen_mode: eui64
    addresses: ["192.168.100.1/24"]
    ports: ["vm1-net0"]
plan:
  description: The ordered operations planned (and, outside check mode, applied).
  returned: always
  type: list
  elements: str
  sample: ["create bridge 'vmnet0'", "set bridge 'vmnet0': up=True", "add address 192.168.100.1/24 on bridge 'vmnet0'"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model, _runner


def main():
    module = AnsibleModule(argument_spec=_model.module_spec("bridge"), supports_check_mode=True)

    def work():
        spec = _model.normalise(module.params, kind="bridge")
        result = _engine.converge([spec], netns=module.params["netns"], check_mode=module.check_mode)
        result["interface"] = result.pop("devices")[spec["name"]]
        return result

    _runner.run(module, work)


if __name__ == "__main__":
    main()
