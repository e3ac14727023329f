# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The guest ports of networks and nft_networks (module_utils/_nftports.py SPEC).
    DOCUMENTATION = r"""
options:
  ports:
    description:
      - The guest ports to hold to their NICs in the table C(bridge) O(table) (anti-spoofing); the
        P(hostnet.qemu.network#role) role derives them from C(hostnet_guest_guests). Frames only from the NIC's MAC,
        ARP and IPv4 only from its addresses (else from the network's subnet, plus the DHCP request), IPv6 only
        link-local, no other EtherType.
    type: list
    elements: dict
    default: []
    suboptions:
      ifname:
        description: The guest's tap, a port of the network's bridge.
        type: str
        required: true
      mac:
        description: The guest NIC's MAC address.
        type: str
        required: true
      network:
        description: The isolated or nat network (by name) whose bridge the tap is a port of.
        type: str
        required: true
      addresses:
        description:
          - The NIC's IPv4 addresses. None means the NIC leases from the pool. Where this host serves the network's
            DHCP pool, the module reserves one pool address for the NIC's MAC and holds the port to it (C(ports[].pinned)
            of M(hostnet.qemu.networks)); else the port is held to the network's subnet.
        type: list
        elements: str
        default: []
      trust:
        description: Do not hold this port (a guest that routes or bridges other hosts' traffic).
        type: bool
        default: false
      label:
        description: How messages and the rules' comments name the NIC, e.g. C(guest 'vm1' nics[0]).
        type: str
      hostname:
        description:
          - The guest's host name (a DNS label). A NIC that leases has its pool reservation written with this name,
            so the network's DNS answers it with the NIC's address and no other guest can take the name by DHCP.
          - The first NIC of a network (by O(ports[].ifname)) with a given name gets it; a name the network's
            C(dhcp.hosts) already gives is left to that host.
        type: str
"""
