#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: uplink
short_description: Move a host NIC onto a bridge (with its addresses and routes), with a timed rollback
version_added: 0.1.0
description:
  - The engine of the C(uplink) networks of the P(hostnet.qemu.network#role) role. A bridge takes over a host NIC
    (enslaves it) and the NIC's addresses and routes, including the default route, move to the bridge, so
    guests on the bridge sit on the host's LAN. O(uplinks[].state=absent) gives the NIC its addresses and
    routes back and deletes the bridge.
  - The move can cut the connection Ansible runs over, so it is a "commit confirmed" in two steps.
    O(step=arm) reads the kernel once and plans; if the network must change it saves each entry as pending
    in O(state_dir), starts a transient systemd timer (C(systemd-run --on-active=)O(timeout)) that rolls back
    to the committed state, and runs the move itself as a transient systemd service (a local job that an SSH
    hiccup cannot kill midway). O(step=confirm), run after C(wait_for_connection), checks that the live
    state is the pending one, stops the timer and commits. Without a confirm the timer restores the NIC.
  - The jobs run O(runner) (the role's boot-time CLI, C(hostnet-qemu-network uplink-apply|uplink-rollback)),
    which the P(hostnet.qemu.network#role) role installs; at boot the same CLI re-applies what was committed.
  - What moves is planned against one read of the kernel. IPv4 addresses and permanent IPv6 addresses that are
    not link-local (with broadcast, scope and C(noprefixroute)), and the NIC's unicast routes in every table but
    C(local) that the kernel did not make itself (so the default route moves; prefix routes of addresses and
    router-advertised routes are re-made by the kernel). The bridge gets the NIC's MAC address, so the LAN's ARP
    caches stay right.
  - With O(uplinks[].via=macvlan) the NIC's addresses and routes move instead to the host's macvlan on it
    (O(uplinks[].bridge) names it; the macvlan keeps its own MAC and is created if missing, but never deleted
    here), for a macvtap network that takes over its parent's address (C(takeover)), so that the host reaches the
    macvtap guests beside it.
  - Meant to be called by the role; its preflight (M(hostnet.qemu.nft_networks)) refuses NICs configured by
    NetworkManager, systemd-networkd or ifupdown, and NICs with a dynamic (DHCP) IPv4 address unless the uplink has
    O(uplinks[].dhcp) (then it refuses a DHCP client of another program still running on the NIC).
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes
options:
  uplinks:
    description: The uplinks to converge (the role passes the C(uplinks) that M(hostnet.qemu.nft_networks) returns).
    type: list
    elements: dict
    default: []
    suboptions:
      bridge:
        description:
          - The bridge (created if missing; its MAC becomes the NIC's).
          - With O(uplinks[].via=macvlan), the host's macvlan on the NIC that takes its addresses.
        type: str
        required: true
      nic:
        description: The host NIC that becomes the bridge's port (or, O(uplinks[].via=macvlan), the macvlan's parent).
        type: str
        required: true
      via:
        description:
          - C(bridge) (the NIC becomes the bridge's port) or C(macvlan) (the NIC stays as it is, its addresses and
            routes move to the macvlan on it).
        type: str
        choices: [bridge, macvlan]
        default: bridge
      dhcp:
        description:
          - The NIC's IPv4 address comes from the LAN's DHCP server (the seed's C(iface br0 inet dhcp)). Its lease is
            not copied; the move stops on the NIC, starts the collection's DHCP client on the bridge (busybox
            C(udhcpc) in the transient unit C(hostnet-qemu-dhcp-BRIDGE.service), which asks with the NIC's MAC)
            and waits up to 30 s for a lease; without one it rolls back and fails, naming the bridge and the MAC.
          - The client puts the lease on the bridge with the lease's lifetime and a default route of protocol
            C(dhcp) with O(uplinks[].route_metric); DNS servers and other options are not used. IPv4 routes of the
            NIC are not moved (the lease's router replaces them); its permanent IPv6 addresses and routes are.
          - Given back (a rollback, or O(uplinks[].state=absent)), the NIC gets the bridge's lease (or, if the bridge
            got none, the one it had before the move) for what is left of it; no client renews it there, so give the
            NIC a DHCP configuration of its own before it runs out.
          - Cannot change while the NIC is moved.
        type: bool
        default: false
      route_metric:
        description: With O(uplinks[].dhcp), the metric of the default route of the lease.
        type: int
        default: 0
      vlans:
        description:
          - The VLANs (2..4094) the NIC carries tagged once it is the bridge's port, beside VLAN 1 untagged (the
            host's own traffic); the bridge must filter VLANs. Set with the move and redone at boot.
        type: list
        elements: int
        default: []
      state:
        description: C(present) (moved onto the bridge) or C(absent) (given back, bridge deleted).
        type: str
        choices: [present, absent]
        default: present
      name:
        description: The network's name, for messages.
        type: str
  step:
    description:
      - C(arm) plans and, when something must change, arms the rollback timer and runs the move.
      - C(confirm) checks the pending moves are in place, stops the timer and commits them; fails (leaving the
        timer armed) when they are not.
    type: str
    choices: [arm, confirm]
    default: arm
  timeout:
    description: Seconds after which the rollback timer restores the committed state unless O(step=confirm) ran.
    type: int
    default: 120
  purge:
    description: Also give back (as with O(uplinks[].state=absent)) every saved uplink not in O(uplinks).
    type: bool
    default: false
  state_dir:
    description: Where each bridge's entry (what moved, committed and pending direction) is saved, one JSON file each.
    type: path
    default: /etc/hostnet-qemu/uplinks.d
  runner:
    description: The CLI the jobs run (installed by the P(hostnet.qemu.network#role) role).
    type: path
    default: /usr/local/lib/hostnet-qemu/hostnet-qemu-network
requirements:
  - pyroute2 (Python library, on the target)
  - systemd (systemd-run, systemctl) on the target
notes:
  - Runs as root (CAP_NET_ADMIN) on the target.
attributes:
  check_mode:
    support: full
    description: Plans against the live state and changes nothing (no file, no timer, no job).
  diff_mode:
    support: full
    description: Shows the NIC and the bridge (master, addresses, routes) before and after.
seealso:
  - module: hostnet.qemu.nft_networks
"""

EXAMPLES = r"""
# the network role's job runner must be installed (the role installs it; so does hostnet.qemu.networks)
- name: Move eth1 onto br0, rolled back after 120 s unless confirmed
  hostnet.qemu.uplink:
    uplinks: [{bridge: br0, nic: eth1}]
    timeout: 120
  register: moved

- name: The host is still reachable
  ansible.builtin.wait_for_connection:
    timeout: 60
  when: moved.armed

- name: Confirm (checks the result, stops the rollback timer)
  hostnet.qemu.uplink:
    uplinks: [{bridge: br0, nic: eth1}]
    step: confirm
"""

RETURN = r"""
armed:
  description: Whether a rollback timer is waiting for O(step=confirm) (O(step=arm) outside check mode only).
  returned: always
  type: bool
plan:
  description:
    - The operations planned (and, outside check mode, run by the local job).
    - With O(uplinks[].dhcp), also C(start the DHCP client on 'BRIDGE') when a run finds the client not running.
  returned: always
  type: list
  elements: str
  sample: ["create bridge 'br0' with MAC 52:54:00:12:34:56", "del route default via 192.0.2.1 on interface 'eth1'",
           "set interface 'eth1': master=br0", "add address 192.0.2.10/24 on bridge 'br0'",
           "add route default via 192.0.2.1 on bridge 'br0'"]
uplinks:
  description: Per bridge, its NIC and what this step found or did (C(moved), C(original), C(moving), C(restoring),
    C(awaiting confirm), C(absent)).
  returned: always
  type: dict
job:
  description: The lines the move job printed (with O(uplinks[].dhcp), also the client's start and the lease it got).
  returned: when a move ran
  type: list
  elements: str
confirmed:
  description: The bridges whose pending move this O(step=confirm) committed.
  returned: when O(step=confirm)
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _runner, _uplink, _validate, _vlannet
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def main():
    module = AnsibleModule(
        argument_spec=dict(
            uplinks=dict(type="list", elements="dict", default=[], options=dict(
                bridge=dict(type="str", required=True),
                nic=dict(type="str", required=True),
                via=dict(type="str", default="bridge", choices=["bridge", "macvlan"]),
                dhcp=dict(type="bool", default=False),
                route_metric=dict(type="int", default=0),
                vlans=dict(type="list", elements="int", default=[]),
                state=dict(type="str", default="present", choices=["present", "absent"]),
                name=dict(type="str"),
            )),
            step=dict(type="str", default="arm", choices=["arm", "confirm"]),
            timeout=dict(type="int", default=120),
            purge=dict(type="bool", default=False),
            state_dir=dict(type="path", default="/etc/hostnet-qemu/uplinks.d"),
            runner=dict(type="path", default="/usr/local/lib/hostnet-qemu/hostnet-qemu-network"),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def work():
        uplinks, seen = [], {}
        for item in params["uplinks"]:
            bridge = _validate.ifname(item["bridge"], what="uplink bridge")
            nic = _validate.ifname(item["nic"], what="uplink NIC")
            if nic == bridge:
                raise HostnetError("uplink '%s': the NIC is the bridge itself; give the NIC the bridge takes over" % nic)
            for name in (bridge, nic):
                if name in seen:
                    raise HostnetError("uplink '%s': '%s' is already used by the uplink of bridge '%s'; give each"
                                       " uplink its own bridge and NIC" % (nic, name, seen[name]))
                seen[name] = bridge
            if item["dhcp"] and item["via"] != "bridge":
                raise HostnetError("uplink '%s': dhcp needs via: bridge (a macvlan takes over static addresses only)" % nic)
            if not 0 <= item["route_metric"] <= 4294967295:
                raise HostnetError("uplink '%s': route_metric %d is out of range; give 0 to 4294967295"
                                   % (nic, item["route_metric"]))
            if item["vlans"] and item["via"] != "bridge":
                raise HostnetError("uplink '%s': vlans needs via: bridge (the NIC carries them as a port of the bridge)"
                                   % nic)
            uplinks.append({"bridge": bridge, "nic": nic, "state": item["state"], "name": item["name"] or bridge,
                            "via": item["via"], "dhcp": item["dhcp"], "route_metric": item["route_metric"],
                            "vlans": _vlannet.uplink_port(item["vlans"], "uplink '%s'" % nic)})
        if params["step"] == "confirm":
            if module.check_mode:
                return {"changed": False, "armed": False, "plan": [], "uplinks": {}, "confirmed": []}
            result = _uplink.confirm(uplinks, params["state_dir"], purge=params["purge"])
            result.update({"armed": False, "plan": [], "uplinks": {}})
            return result
        if params["timeout"] < 10:
            raise HostnetError("timeout %d s is too short for a rollback timer; give at least 10 seconds" % params["timeout"])
        return _uplink.arm(uplinks, params["state_dir"], params["runner"], params["timeout"],
                           check_mode=module.check_mode, purge=params["purge"])

    _runner.run(module, work)


if __name__ == "__main__":
    main()
