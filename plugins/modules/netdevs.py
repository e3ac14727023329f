#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: netdevs
short_description: Converge a whole set of bridges, taps, tuns, macvtaps and VXLAN devices in one plan
version_added: 0.1.0
description:
  - Takes a list of devices and applies one ordered plan against one read of the namespace
    (bridges before their ports, enslaving after creating, children deleted before parents).
  - The options of each entry mean exactly what they mean in M(hostnet.qemu.bridge), M(hostnet.qemu.tap) and
    M(hostnet.qemu.macvtap). Roles use this module instead of a loop over those (one call for 1000 taps costs
    about what C(ip -batch) costs; see docs/benchmarks.md).
  - O(purge_prefix) deletes bridges, taps, tuns, macvtaps, macvlans and VXLAN devices whose name starts with the prefix
    and that are not listed.
  - A C(vxlan) entry is a VXLAN tunnel device, usually a port of a bridge that spans several hosts. Its
    O(devices[].peers) are its flood list (head-end replication), one permanent all-zero forwarding-database entry
    per remote tunnel endpoint, kept exactly as listed, added and removed without touching the device.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.netns
  - hostnet.qemu.attributes
  - hostnet.qemu.attributes.netlink
options:
  devices:
    description: The devices. Each name may appear once.
    type: list
    elements: dict
    required: true
    suboptions:
      kind:
        description:
          - Device kind. C(tun) is the same as C(tap) with O(devices[].mode=tun).
          - C(macvlan) is a plain interface on a parent link, for the host itself (for example its address on the
            same parent as macvtap guests, so host and guests reach each other in C(bridge) mode).
          - C(vxlan) is a VXLAN tunnel device (see O(devices[].vni)).
        type: str
        required: true
        choices: [bridge, tap, tun, macvtap, macvlan, vxlan]
      name:
        description: Interface name, 1 to 15 bytes, without C(/), C(:) or whitespace.
        type: str
        required: true
      state:
        description: C(present) (default) or C(absent).
        type: str
        choices: [present, absent]
      up:
        description: Whether the link is administratively up (default C(true)).
        type: bool
      mtu:
        description: MTU in bytes (68 to 65535).
        type: int
      mac:
        description: Unicast MAC address (not for C(tun)).
        type: str
      stp:
        description: (bridge) Spanning tree on or off.
        type: bool
      forward_delay:
        description: (bridge) STP forward delay in seconds.
        type: float
      vlan_filtering:
        description: (bridge) VLAN filtering on or off.
        type: bool
      addr_gen_mode:
        description:
          - (bridge) How the bridge forms its IPv6 link-local address whatever the host's default; V(eui64) from its
            MAC, V(none) forms none. See M(hostnet.qemu.bridge). Omit to leave it as it is.
        type: str
        choices: [eui64, none]
      addresses:
        description: (bridge, macvlan, tap, tun) The complete list of CIDR addresses; omit to leave addresses alone.
        type: list
        elements: str
      routes:
        description:
          - (bridge) The complete list of the routes the collection keeps through the bridge, C(DEST via GATEWAY) or
            C(DEST); only routes with the collection's protocol number (74) are managed. Omit to leave them alone.
        type: list
        elements: str
      proxy_arp:
        description:
          - (bridge) The complete list of proxy neighbour entries, C(ADDRESS dev IFNAME), that draw traffic into
            O(devices[].routes); the host answers ARP for the address on that interface (see the
            M(hostnet.qemu.bridge) module). Omit to leave them alone.
        type: list
        elements: str
      peer:
        description:
          - (tun) The other end of a point-to-point link; the one address of its family in O(devices[].addresses) is
            this end.
        type: str
      ports:
        description: (bridge) Interfaces to enslave.
        type: list
        elements: str
      port_vlans:
        description:
          - (bridge) The VLANs every port in O(devices[].ports) carries tagged; needs O(devices[].vlan_filtering=true).
        type: list
        elements: int
      port_native:
        description: (bridge) With O(devices[].port_vlans), the ports' untagged VLAN.
        type: int
      vlan:
        description: (tap) An access port of a VLAN-filtering bridge (O(devices[].master)), VLAN 1..4094, untagged in the guest.
        type: int
      vlans:
        description: (tap) A trunk port of a VLAN-filtering bridge; the VLANs it carries, tagged in the guest.
        type: list
        elements: int
      native:
        description: (tap) With O(devices[].vlans), the trunk's untagged VLAN.
        type: int
      exclusive_ports:
        description: (bridge) Also release ports not listed (default C(false)).
        type: bool
      force:
        description: (bridge) Move ports enslaved to another master (default C(false)).
        type: bool
      mode:
        description:
          - (tap) C(tap) or C(tun); (macvtap, macvlan) C(bridge) (default), C(vepa), C(private) or C(passthru).
        type: str
        choices: [tap, tun, bridge, vepa, private, passthru]
      owner:
        description: (tap, tun) User name or uid allowed to attach.
        type: str
      group:
        description: (tap, tun) Group name or gid allowed to attach.
        type: str
      multi_queue:
        description: (tap, tun) Multi-queue device (default C(false)).
        type: bool
      vnet_hdr:
        description: (tap, tun) IFF_VNET_HDR; omit to leave it to QEMU.
        type: bool
      pi:
        description: (tap, tun) Packet information header.
        type: bool
      master:
        description: (tap, tun, vxlan) Bridge to enslave to.
        type: str
      recreate:
        description:
          - (tap, tun, macvtap, macvlan, vxlan) Allow delete-and-create for a change the kernel cannot make in place
            (default C(false)), such as a tap's mode or multi_queue, a macvtap's or macvlan's link, a VXLAN device's
            O(devices[].vni) or O(devices[].port).
        type: bool
      vni:
        description: (vxlan, required) The VXLAN network identifier, 1 to 16777215.
        type: int
      local:
        description: (vxlan) This host's tunnel endpoint address (IPv4 or IPv6, no prefix length); omit to leave it.
        type: str
      underlay:
        description: (vxlan) The interface the tunnel runs over; omit to leave it to routing.
        type: str
      port:
        description: (vxlan) The UDP destination port (default C(4789), the IANA port).
        type: int
      learning:
        description:
          - (vxlan) Learn remote MACs from received traffic (default C(true)), the device and its port in its bridge
            alike. Turn it off when a control plane (BGP EVPN) installs them.
        type: bool
      neigh_suppress:
        description:
          - (vxlan) ARP and neighbour-discovery suppression on the device's port in its bridge (default C(false)).
            The bridge answers those requests from the neighbour entries it knows instead of flooding them through
            the tunnels, for a control plane (BGP EVPN) that installs the remote neighbours. Needs O(devices[].master).
        type: bool
      peers:
        description:
          - (vxlan) The remote tunnel endpoints to flood to, exactly these all-zero forwarding-database entries;
            an empty list removes them all; omit to leave them alone.
        type: list
        elements: str
      link:
        description: (macvtap, macvlan) Parent interface.
        type: str
      device_owner:
        description: (macvtap) Owner of C(/dev/tapN).
        type: str
      device_group:
        description: (macvtap) Group of C(/dev/tapN).
        type: str
      device_mode:
        description:
          - (macvtap) Octal mode of C(/dev/tapN), default C('0660') with a group, else C('0600').
          - A mode with any bit for others is refused, since every local user could then read and inject the guest's
            traffic.
          - A string is read as octal; an integer (YAML C(0660) without quotes) is already the bits, as M(ansible.builtin.file) reads it.
        type: raw
  purge_prefix:
    description:
      - Delete managed-kind devices (bridge, tap, tun, macvtap, macvlan, vxlan) whose names start with this prefix and are
        not in O(devices).
      - Veth pairs and physical interfaces are never purged.
    type: str
seealso:
  - module: hostnet.qemu.bridge
  - module: hostnet.qemu.tap
  - module: hostnet.qemu.macvtap
"""

EXAMPLES = r"""
- name: A bridge and one tap per guest, in one plan
  hostnet.qemu.netdevs:
    devices:
      - kind: bridge
        name: vmnet0
        addresses: [192.168.100.1/24]
      - kind: tap
        name: vm1-net0
        owner: qemu
        master: vmnet0
      - kind: tap
        name: vm2-net0
        owner: qemu
        multi_queue: true
        master: vmnet0
      - kind: macvtap
        name: vm3-mv0
        link: eth0
        device_group: qemusers
    purge_prefix: "vm"

- name: A network spanning two hosts - this one's half (the other lists 192.0.2.11 as local and this host as peer)
  hostnet.qemu.netdevs:
    devices:
      - {kind: bridge, name: span0, mtu: 1450}
      - {kind: vxlan, name: span0-vx, vni: 4242, local: 192.0.2.11, underlay: eth0, peers: [192.0.2.12],
         master: span0, mtu: 1450}
"""

RETURN = r"""
devices:
  description: Each listed device as the kernel reports it after the run (in check mode, as planned); C(null) when absent.
  returned: always
  type: dict
  sample:
    vmnet0: {kind: bridge, ifindex: 7, up: true, addresses: ["192.168.100.1/24"], ports: ["vm1-net0"]}
    vm1-net0: {kind: tap, ifindex: 8, owner: 1000, group: null, master: vmnet0, persist: true}
plan:
  description: The ordered operations planned (and, outside check mode, applied).
  returned: always
  type: list
  elements: str
  sample: ["create bridge 'vmnet0'", "create tap 'vm1-net0'", "set tap 'vm1-net0': master=vmnet0, up=True",
           "add fdb entry 00:00:00:00:00:00 dst 192.0.2.12 on vxlan 'span0-vx'"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model, _runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            devices=dict(type="list", elements="dict", required=True, options=_model.netdevs_device_spec()),
            purge_prefix=dict(type="str"),
            netns=dict(type="str"),
        ),
        supports_check_mode=True,
    )

    def work():
        desired = _model.normalise_all(module.params["devices"])
        return _engine.converge(desired, netns=module.params["netns"], purge_prefix=module.params["purge_prefix"],
                                check_mode=module.check_mode)

    _runner.run(module, work)


if __name__ == "__main__":
    main()
