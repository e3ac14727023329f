#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: macvtap
short_description: Manage a macvtap device and its /dev/tapN character device
version_added: 0.1.0
description:
  - Creates, converges or deletes a macvtap on a parent link through rtnetlink.
  - Manages the character device C(/dev/tapN), where N is the interface index (it changes when the device is
    created again). When udev has not made the node (containers, minimal hosts, other network namespaces),
    the module creates it from the kernel's major and minor numbers; it then sets its owner, group and mode,
    so a guest can be started with C(-netdev tap,fd=3 3<>/dev/tapN) and the macvtap's MAC.
  - Deleting the macvtap removes its node.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.device
  - hostnet.qemu.netns
  - hostnet.qemu.attributes
  - hostnet.qemu.attributes.netlink
options:
  link:
    description:
      - The parent interface. It must exist (or be created in the same run by M(hostnet.qemu.netdevs)).
      - Required with O(state=present). Moving a macvtap to another parent needs O(recreate=true).
    type: str
  mode:
    description: macvtap mode; changed in place on an existing device.
    type: str
    choices: [bridge, vepa, private, passthru]
    default: bridge
  device_owner:
    description: Owner (name or uid) of C(/dev/tapN). Omit for root.
    type: str
  device_group:
    description: Group (name or gid) of C(/dev/tapN). Omit for root.
    type: str
  device_mode:
    description:
      - Octal mode of C(/dev/tapN), as a string such as C('0660').
      - Defaults to C('0660') when O(device_group) is given, else C('0600').
      - A mode with any bit for others is refused, since every local user could then read and inject the guest's
        traffic.
      - A string is read as octal; an integer (YAML C(0660) without quotes) is already the bits, as M(ansible.builtin.file) reads it.
    type: raw
  recreate:
    description: Allow deleting and creating the device again to move it to another O(link).
    type: bool
    default: false
notes:
  - Inside another network namespace the node is still created in the host's C(/dev) as C(/dev/tapN); interface
    indexes of different namespaces can collide, so prefer the host namespace for macvtaps used by guests.
seealso:
  - module: hostnet.qemu.netdevs
  - module: hostnet.qemu.netdev_info
"""

EXAMPLES = r"""
- name: A macvtap for vm3 on eth0, usable by the qemusers group
  hostnet.qemu.macvtap:
    name: vm3-mv0
    link: eth0
    mode: bridge
    mac: "52:54:00:12:34:03"
    device_group: qemusers
  register: mv

- name: Start the guest with the device on fd 3
  ansible.builtin.debug:
    msg: "qemu-system-x86_64 -netdev tap,id=n0,fd=3 -device virtio-net-pci,netdev=n0,mac={{ mv.mac }} 3<>{{ mv.device }}"
"""

RETURN = r"""
device:
  description: Path of the character device (C(/dev/tapN)).
  returned: when present
  type: str
  sample: /dev/tap12
ifindex:
  description: The interface index N of C(/dev/tapN).
  returned: when present
  type: int
  sample: 12
mac:
  description: The macvtap's MAC address; give the same to the guest's NIC.
  returned: when present
  type: str
  sample: "52:54:00:12:34:03"
interface:
  description: The device as the kernel reports it after the run (in check mode, as planned). C(null) when absent.
  returned: always
  type: dict
  sample:
    name: vm3-mv0
    kind: macvtap
    ifindex: 12
    link: eth0
    mode: bridge
    up: true
    mtu: 1500
    mac: "52:54:00:12:34:03"
    master: null
    device: /dev/tap12
    device_owner: 0
    device_group: 1001
    device_mode: "0660"
plan:
  description: The ordered operations planned (and, outside check mode, applied).
  returned: always
  type: list
  elements: str
  sample: ["create macvtap 'vm3-mv0'", "set macvtap 'vm3-mv0': up=True"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model, _runner


def main():
    module = AnsibleModule(argument_spec=_model.module_spec("macvtap"), supports_check_mode=True,
                           required_if=[("state", "present", ("link",))])

    def work():
        spec = _model.normalise(module.params, kind="macvtap")
        result = _engine.converge([spec], netns=module.params["netns"], check_mode=module.check_mode)
        iface = result.pop("devices")[spec["name"]]
        result["interface"] = iface
        if iface:
            result.update(device=iface.get("device"), ifindex=iface.get("ifindex"), mac=iface.get("mac"))
        return result

    _runner.run(module, work)


if __name__ == "__main__":
    main()
