# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network schema: one nested argument spec for an entry of hostnet_network_networks.

Checked by _argspec (types, choices, unknown fields, strings without control characters, interface and object
names); _nftnet.check() and _dhcp.check() keep only the rules between fields and between networks.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.hostnet.qemu.plugins.module_utils import _argspec, _validate

KINDS = ["isolated", "nat", "routed", "macvtap", "uplink"]
# the kinds whose guests the host routes through an uplink, as their gateway (nat masquerades, routed does not)
GATEWAY_KINDS = ("nat", "routed")

RANGE = dict(start=dict(type="str", required=True), end=dict(type="str", required=True))
DHCP_HOST = dict(mac=dict(type="str", required=True), address=dict(type="str", required=True), name=dict(type="str"))
DHCP = dict(
    ranges=dict(type="list", elements="dict", options=RANGE),
    lease_time=dict(type="raw"),  # seconds (int) or '1h', 'infinite': checked by _dhcp
    hosts=dict(type="list", elements="dict", options=DHCP_HOST),
)
DNS = dict(enabled=dict(type="bool"), domain=dict(type="str"), forward=dict(type="bool"))
FILTER = dict(allow=dict(type="list", elements="str"), reject=dict(type="list", elements="str"))
FORWARD = dict(
    proto=dict(type="str", choices=["tcp", "udp"]),
    host_address=dict(type="str"),
    host_port=dict(type="int", required=True),
    guest=dict(type="str", required=True),
    guest_port=dict(type="int"),
)
IPV6 = dict(address=dict(type="str", required=True), nat=dict(type="bool"), dhcp=dict(type="dict", options=RANGE))
ROUTE = dict(to=dict(type="str", required=True), via=dict(type="str", required=True), proxy_arp=dict(type="bool"))
CONTROL_PLANES = ["static", "evpn"]
# This host's BGP for spanned networks with control_plane evpn: the AS (iBGP), the neighbours (their VTEPs) and
# whether this host is a route reflector (its neighbours are then its clients).
BGP = dict(
    asn=dict(type="int", required=True),
    neighbors=dict(type="list", elements="str", default=[]),
    reflector=dict(type="bool", default=False),
)
# A network spanning several hosts over VXLAN. vni, control_plane, port, mtu and gateway_host are what the user
# writes (the same on every host); local, peers, gateway and bgp are this host's part, which the network role
# derives from the inventory (a direct caller of the networks module gives them).
SPAN = dict(
    vni=dict(type="int", required=True),
    control_plane=dict(type="str", choices=CONTROL_PLANES),
    port=dict(type="int"),
    mtu=dict(type="int"),
    gateway_host=dict(type="str"),
    local=dict(type="str"),
    peers=dict(type="list", elements="str"),
    gateway=dict(type="bool"),
    bgp=dict(type="dict", options=BGP),
)

NETWORK = dict(
    name=dict(type="str", required=True, check=_validate.object_name),
    kind=dict(type="str", choices=KINDS),
    state=dict(type="str", choices=["present", "absent"]),
    bridge=dict(type="str", check=_validate.ifname),
    host_interface=dict(type="str", check=_validate.ifname),
    link=dict(type="str", check=_validate.ifname),
    takeover=dict(type="bool"),
    uplink=dict(type="str", check=_validate.ifname),
    dhcp_client=dict(type="bool"),
    route_metric=dict(type="int"),
    address=dict(type="str"),
    subnet=dict(type="str"),
    filter=dict(type="dict", options=FILTER),
    dhcp=dict(type="dict", options=DHCP),
    dns=dict(type="dict", options=DNS),
    span=dict(type="dict", options=SPAN),
    forwards=dict(type="list", elements="dict", options=FORWARD),
    routes=dict(type="list", elements="dict", options=ROUTE),
    ipv6=dict(type="dict", options=IPV6),
    vlans=dict(type="list", elements="int"),
)


def _without_none(value):
    """Fields left out stay left out (the validator fills them with None): `net.get(key, default)` keeps working."""
    if isinstance(value, dict):
        return dict((k, _without_none(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def parse(networks):
    """(typed networks, problems): each entry through the spec; an entry with a problem is left out."""
    if not isinstance(networks, list):
        return [], ["hostnet_network_networks: %r is not a list; give a YAML list of networks (each a mapping with at "
                    "least name)" % (networks,)]
    out, problems = [], []
    for index, net in enumerate(networks):
        try:
            label = _argspec.entry_label(net, index, "network", "hostnet_network_networks")
            out.append(_without_none(_argspec.validate(NETWORK, net, label)))
        except _validate.HostnetError as exc:
            problems.append(str(exc))
    return out, problems
