#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: guest_info
short_description: Report the QEMU guests of a host - unit state, main PID, uptime, pending restart, NICs, addresses
version_added: 0.2.0
description:
  - Reads, for every guest the P(hostnet.qemu.guest#role) role installed (or the guests named), what systemd says
    of its unit (state, result, main PID, uptime), what its unit records (its NICs with MACs and networks), whether
    the running QEMU runs another configuration than the unit records (a restart is pending, and why, by field),
    and where its console, QMP and guest agent sockets are.
  - The guest's IP addresses come from its qemu-guest-agent, through the virtio-serial channel the role gives every
    guest (O(hostnet.qemu.guest#role:main:hostnet_guest_guests[].guest_agent)), when the guest runs the agent and
    it answers within O(agent_timeout). Otherwise they come from the DHCP leases of the networks of the
    P(hostnet.qemu.network#role) role, by MAC.
  - Changes nothing, in check mode or not.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes.info
options:
  names:
    description: Only these guests. Default is every guest with a unit in O(unit_dir). A guest without a unit is reported with RV(guests.installed=false).
    type: list
    elements: str
  unit_dir:
    description: Where the guest units are.
    type: path
    default: /etc/systemd/system
  run_dir:
    description: The guests' runtime directories (sockets), one per guest.
    type: path
    default: /run/hostnet-qemu
  leases_dir:
    description: The managed networks' dnsmasq lease files.
    type: path
    default: /var/lib/hostnet-qemu/dnsmasq
  agent_timeout:
    description: Seconds to wait for each guest's agent.
    type: float
    default: 2.0
"""

EXAMPLES = r"""
- name: Every guest of this host
  hostnet.qemu.guest_info:
  register: info

- name: The addresses of vm1
  ansible.builtin.debug:
    msg: "{{ info.guests.vm1.addresses | map(attribute='address') | list }}"

- name: Guests that wait for a restart
  ansible.builtin.debug:
    msg: "{{ info.guests | dict2items | selectattr('value.pending_restart') | map(attribute='key') | list }}"
"""

RETURN = r"""
guests:
  description: The guests by name.
  returned: always
  type: dict
  contains:
    unit:
      description: The guest's unit.
      type: str
      sample: hostnet-guest-vm1.service
    installed:
      description: Whether its unit file exists.
      type: bool
    user:
      description: The user QEMU runs as, as the unit records it.
      type: str
    load_state:
      description: systemd's C(LoadState).
      type: str
    active_state:
      description: systemd's C(ActiveState) (C(active), C(inactive), C(failed) ...).
      type: str
      sample: active
    sub_state:
      description: systemd's C(SubState).
      type: str
      sample: running
    result:
      description: systemd's C(Result) of the last run (C(success), C(exit-code), C(signal) ...).
      type: str
    main_pid:
      description: QEMU's process id; null when it does not run.
      type: int
    uptime:
      description: Seconds since QEMU started; null when it does not run.
      type: int
    pending_restart:
      description: Why the running QEMU needs a restart to run what its unit records (C(memory 512 -> 1024)); null when it does not.
      type: str
    nics:
      description: The NICs the unit records, in guest order.
      type: list
      elements: dict
      contains:
        kind:
          description: C(user), C(socket), C(bridge), C(tap) or C(macvtap).
          type: str
        mac:
          description: The NIC's MAC.
          type: str
        network:
          description: The bridge, parent link or socket endpoint; null for user NICs.
          type: str
    macs:
      description: The NICs' MACs.
      type: list
      elements: str
    networks:
      description: The bridges, links and socket endpoints the NICs attach to.
      type: list
      elements: str
    console:
      description: The serial console's socket (C(hostnet-qemu console NAME) attaches to it).
      type: str
    qmp:
      description: The QMP socket.
      type: str
    guest_agent:
      description: The guest agent channel's socket; null when the guest has none or does not run.
      type: str
    agent_answered:
      description: Whether the guest's agent answered.
      type: bool
    addresses:
      description: The guest's IP addresses (loopback and IPv6 link-local left out).
      type: list
      elements: dict
      contains:
        address:
          description: The address.
          type: str
        prefix:
          description: Its prefix length (from the agent only).
          type: int
        interface:
          description: The guest's name for the interface (from the agent only).
          type: str
        mac:
          description: The interface's MAC.
          type: str
        source:
          description: C(agent) (qemu-guest-agent) or C(dhcp) (a lease of a managed network).
          type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _guestinfo, _runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type="list", elements="str"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            run_dir=dict(type="path", default="/run/hostnet-qemu"),
            leases_dir=dict(type="path", default="/var/lib/hostnet-qemu/dnsmasq"),
            agent_timeout=dict(type="float", default=2.0),
        ),
        supports_check_mode=True,
    )

    def work():
        params = module.params
        return {"changed": False, "guests": _guestinfo.gather(params["names"], params["unit_dir"], params["run_dir"],
                                                              params["leases_dir"], params["agent_timeout"])}

    _runner.run(module, work, libs=False)


if __name__ == "__main__":
    main()
