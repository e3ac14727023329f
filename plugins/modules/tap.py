#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tap
short_description: Manage a persistent TAP or TUN device with an owner and group
version_added: 0.1.0
description:
  - Creates a persistent TAP (layer 2) or TUN (layer 3) device through C(/dev/net/tun) ioctls
    (TUNSETIFF, TUNSETOWNER, TUNSETGROUP, TUNSETPERSIST), so an unprivileged user's QEMU can open it
    with C(-netdev tap,ifname=NAME,script=no,downscript=no).
  - Owner and group of an existing device converge in place, without recreating it.
  - Optionally enslaves it to a bridge and sets MTU, MAC and link state through rtnetlink.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.device
  - hostnet.qemu.netns
  - hostnet.qemu.attributes
  - hostnet.qemu.attributes.netlink
options:
  mode:
    description:
      - C(tap) for an Ethernet (layer 2) device, C(tun) for an IP (layer 3) device.
      - Changing the mode of an existing device needs O(recreate=true).
    type: str
    choices: [tap, tun]
    default: tap
  owner:
    description:
      - User (name or uid) allowed to attach to the device without CAP_NET_ADMIN. The kernel enforces it.
      - Omit to leave the owner of an existing device alone; a new device then has no owner.
    type: str
  group:
    description:
      - Group (name or gid) whose members may attach to the device.
      - Omit to leave the group of an existing device alone; a new device then has no group.
    type: str
  multi_queue:
    description:
      - Create a multi-queue device (for QEMU C(queues=N)). Changing it on an existing device needs O(recreate=true).
    type: bool
    default: false
  vnet_hdr:
    description:
      - Set the IFF_VNET_HDR flag. QEMU sets it itself when it opens the device, so omitting it (the default)
        leaves the flag alone and keeps runs idempotent while a guest uses the device.
    type: bool
  pi:
    description:
      - Prepend packet information to frames (the opposite of IFF_NO_PI). New devices default to no packet information,
        as C(ip tuntap) does; omit to leave an existing device alone.
    type: bool
  master:
    description: Bridge to enslave the device to. It must exist or be created in the same run.
    type: str
  recreate:
    description:
      - Allow deleting and creating the device again when O(mode) or O(multi_queue) differs from the existing device.
      - A running guest attached to it loses the device.
    type: bool
    default: false
  addresses:
    description:
      - The complete list of the host's CIDR addresses on the device (IPv4 or IPv6); omit to leave addresses alone,
        V([]) removes them all.
    type: list
    elements: str
  peer:
    description:
      - (tun) The other end of a point-to-point link, as C(ifconfig tun0 10.0.0.1 pointopoint 10.0.0.2) sets it; the
        one address of its family in O(addresses) is this end (for example C(10.0.0.1/32)), and the kernel routes
        the peer through the device.
    type: str
  vlan:
    description:
      - The tap as an access port of a VLAN-filtering bridge (O(master)), VLAN 1..4094, untagged in the guest.
      - Omit V(vlan), O(vlans) and O(native) to leave the port's VLANs alone (a new port is on the bridge's default
        VLAN, untagged).
    type: int
  vlans:
    description:
      - The tap as a trunk port of a VLAN-filtering bridge (O(master)); the VLANs it carries, tagged in the guest.
      - The port's VLANs become exactly these (and O(native)); VLANs it had besides are removed.
    type: list
    elements: int
  native:
    description: With O(vlans), the trunk's untagged VLAN (frames the guest sends untagged join it).
    type: int
notes:
  - The MAC option sets the host side of the TAP; the guest's MAC is QEMU's C(mac=) and is independent of it.
seealso:
  - module: hostnet.qemu.netdevs
  - module: hostnet.qemu.bridge
"""

EXAMPLES = r"""
- name: A tap for vm1, usable by the qemu user, on vmnet0
  hostnet.qemu.tap:
    name: vm1-net0
    owner: qemu
    group: qemusers
    master: vmnet0

- name: A multi-queue tap (QEMU queues=4)
  hostnet.qemu.tap:
    name: vm2-net0
    owner: qemu
    multi_queue: true

- name: Switch an existing device to TUN, replacing it
  hostnet.qemu.tap:
    name: vpn0
    mode: tun
    recreate: true

- name: A point-to-point tun, this end 10.0.0.1 and the other 10.0.0.2
  hostnet.qemu.tap:
    name: vpn0
    mode: tun
    addresses: [10.0.0.1/32]
    peer: 10.0.0.2
"""

RETURN = r"""
interface:
  description: The device as the kernel reports it after the run (in check mode, as planned). C(null) when absent.
  returned: always
  type: dict
  sample:
    name: vm1-net0
    kind: tap
    ifindex: 9
    up: true
    mtu: 1500
    mac: "6e:1f:00:aa:bb:cc"
    master: vmnet0
    owner: 1000
    group: 1001
    multi_queue: false
    vnet_hdr: false
    pi: false
    persist: true
    addresses: ["10.0.0.1/32 peer 10.0.0.2"]
owner:
  description: Owner uid as the kernel reports it (C(null) for none).
  returned: when present
  type: int
  sample: 1000
group:
  description: Group gid as the kernel reports it (C(null) for none).
  returned: when present
  type: int
  sample: 1001
flags:
  description: The device's TUN flags as the kernel reports them.
  returned: when present
  type: list
  elements: str
  sample: [tap, persist]
plan:
  description: The ordered operations planned (and, outside check mode, applied).
  returned: always
  type: list
  elements: str
  sample: ["create tap 'vm1-net0'", "set tap 'vm1-net0': master=vmnet0, up=True"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model, _runner


def _flags(iface):
    flags = [iface["kind"]]
    for key in ("persist", "multi_queue", "vnet_hdr", "pi"):
        if iface.get(key):
            flags.append(key)
    return flags


def main():
    module = AnsibleModule(argument_spec=_model.module_spec("tap"), supports_check_mode=True)

    def work():
        spec = _model.normalise(module.params, kind="tap")
        result = _engine.converge([spec], netns=module.params["netns"], check_mode=module.check_mode)
        iface = result.pop("devices")[spec["name"]]
        result["interface"] = iface
        if iface:
            result.update(owner=iface.get("owner"), group=iface.get("group"), flags=_flags(iface))
        return result

    _runner.run(module, work)


if __name__ == "__main__":
    main()
