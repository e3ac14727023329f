#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: networks
short_description: Converge all guest networks of a host in one call (bridges, nftables, boot unit, DHCP/DNS)
version_added: 0.1.0
description:
  - The engine of the P(hostnet.qemu.network#role) role (role-internal; its options follow the role's variables). It
    validates O(networks) as M(hostnet.qemu.nft_networks) does, reads the host once and converges everything
    the role owns in one plan.
  - With O(state=present), in this order, the bridges (through the same engine as M(hostnet.qemu.netdevs)); the
    collection's nftables table C(inet) O(table) and the saved boot state in O(config_dir); the boot-time CLI
    in O(lib_dir) (a launcher and the import closure of the engine, derived from the code, stale files removed);
    the boot unit C(hostnet-qemu-network.service); the sysctl drop-in O(sysctl_file); the modules-load file
    O(modules_file) (C(br_netfilter), when O(bridge_nf_call=true)); NetworkManager's unmanaged list
    O(nm_conf) (when NetworkManager is installed and O(nm_unmanaged=true)); the live sysctls, after the table;
    one dnsmasq per network with C(dhcp) or C(dns) (C(hostnet-qemu-dnsmasq@NAME.service), one template
    unit). systemd is reloaded once; units are enabled, started and restarted as sets.
  - A dnsmasq instance is restarted when its configuration or the template unit changed, and also when the
    running instance runs another configuration than its file or the template records, or systemd has not read
    the unit yet, so a run that stopped half-way is completed by the next one. The boot unit is started, never
    restarted (it converges to what this module just applied).
  - With O(state=absent), every dnsmasq instance is stopped and disabled, the boot unit disabled, every file
    above removed, then the devices saved in O(config_dir) and those of O(networks) removed, the table deleted,
    and O(config_dir) removed if nothing else is left in it. Uplink NICs are given back by M(hostnet.qemu.uplink)
    before this runs.
  - IPv4 forwarding is switched on per interface, for each nat network's bridge and uplink, never globally
    (C(net.ipv4.ip_forward) switches every interface). An uplink whose forwarding was off before is recorded as
    such in the saved state, and the table drops whatever enters by it unless it goes to a bridge of a nat network
    behind it, so the host routes nothing new between other interfaces. When no nat network uses an uplink any
    more, its recorded value is written back.
  - IPv6 (a network's C(ipv6)) is forwarded in the same way with C(net.ipv6.conf.IF.force_forwarding) (Linux 6.17
    or later), recorded as C(ipv6/UPLINK). The bridges of isolated, nat and routed networks take no router
    advertisements (C(accept_ra) 0), and their dnsmasq advertises the network's prefix.
  - A routed network's route with C(proxy_arp) to an IPv6 address (proxy NDP) makes its uplink a router that still
    takes its LAN's router advertisements (C(proxy_ndp) and C(forwarding) 1, C(accept_ra) 2 where it was 1); the
    values found before are recorded as C(ndp/UPLINK), C(router6/UPLINK) and C(ra/UPLINK) and written back in the
    same way.
  - O(ports) are the guests' taps on isolated and nat networks (the role derives them from the
    P(hostnet.qemu.guest#role) role's guests). What a guest sends through its tap is held to its NIC in the table
    C(bridge) O(table) (anti-spoofing). Frames only from the NIC's MAC, ARP and IPv4 only from its addresses (its
    declared ones, else its lease, else the network's subnet, plus the DHCP request), IPv6 only link-local and the
    network's prefix (on a network with stateful DHCPv6, its one address of the prefix), no router advertisements or
    DHCPv6 replies, no other EtherType, and never the host's own
    addresses on the bridge (as a source, in ARP or in a neighbour advertisement) nor a link-local address formed
    from another MAC (EUI-64, such as the host's on the bridge, which an isolated, nat or routed network's bridge
    forms from its MAC whatever the host's default). A port with C(trust) is not held.
  - A held port without addresses on a network whose DHCP ranges this host serves is pinned to one lease. The module
    reserves an address for its MAC (a C(dhcp-host) line) and holds the port to it. The address is the one already
    reserved for that MAC in the network's dnsmasq configuration, else the one its MAC holds in the lease file, else
    the first free address of the ranges (not the host's, not reserved, not leased to another MAC). A full pool is
    an error naming the NICs left without an address.
  - On a network with stateful DHCPv6 (C(ipv6.dhcp), no SLAAC) every held port is pinned the same way to one address
    of the range (a C(dhcp-host=MAC,[ADDRESS]) line; IPv6 addresses are never declared), the one already reserved
    for its MAC, else the one its MAC holds in the lease file (read from a DUID-LLT or DUID-LL), else the first one
    nobody holds. dnsmasq finds a DHCPv6 client's MAC in the host's neighbour table, not in
    the DUID the client writes. The port may send from, and claim by a neighbour advertisement, no other address of
    the prefix.
  - Spanned networks with C(span.control_plane=evpn) get BGP EVPN through FRR. The module owns the default BGP
    instance in O(frr_dir)C(/frr.conf) that carries the peer group C(hostnet-qemu), and C(bgpd=yes) in
    O(frr_dir)C(/daemons); every other line of frr.conf is left as it is, and a C(router bgp) section of the
    user's is refused rather than taken over. FRR is enabled and started, or reloaded when the section changed
    (C(frr-reload.py) applies only the difference). The table admits BGP (TCP 179) from this host's neighbours
    only. With O(state=absent), or when no network uses EVPN any more, the section is removed and FRR reloaded;
    FRR itself is left installed and running.
  - The whole run holds the collection's host-wide lock.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes
  - hostnet.qemu.ports
options:
  networks:
    description: The role's C(hostnet_network_networks) (see the role's argument spec).
    type: list
    elements: dict
    default: []
  state:
    description: C(present) (converge) or C(absent) (remove everything listed above).
    type: str
    choices: [present, absent]
    default: present
  table:
    description: Name of the collection's tables, C(inet) (routed traffic) and C(bridge) (guest ports).
    type: str
    default: hostnet_qemu
  config_dir:
    description: The saved state (C(netdevs.json), C(nftables.json)) and the dnsmasq configurations (C(dnsmasq/)).
    type: path
    default: /etc/hostnet-qemu
  lib_dir:
    description: Where the boot-time CLI (C(hostnet-qemu-network)) and its copy of the engine are installed.
    type: path
    default: /usr/local/lib/hostnet-qemu
  unit_dir:
    description: Where the units are written.
    type: path
    default: /etc/systemd/system
  sysctl_file:
    description:
      - The sysctl.d drop-in, owned whole. It holds the C(bridge-nf-call-*) keys when O(bridge_nf_call) is set and
        is removed when it would be empty. Forwarding is not in it, the boot unit switches it on per interface once
        the table is loaded. A C(net.ipv4.ip_forward = 1) line written by an older release is removed (with a
        warning while the live value is still 1).
    type: path
    default: /etc/sysctl.d/60-hostnet-qemu-network.conf
  modules_file:
    description: The modules-load.d file that loads C(br_netfilter) at boot (written when O(bridge_nf_call=true), removed when false).
    type: path
    default: /etc/modules-load.d/hostnet-qemu-network.conf
  bridge_nf_call:
    description:
      - C(net.bridge.bridge-nf-call-{arptables,ip6tables,iptables}). Unset leaves them (and the lines of them
        in O(sysctl_file)) alone; V(false) sets them to 0; V(true) loads C(br_netfilter) and sets them to 1.
    type: bool
  nm_unmanaged:
    description: Write O(nm_conf), the bridges as NetworkManager's unmanaged devices, when C(/etc/NetworkManager) exists.
    type: bool
    default: true
  nm_conf:
    description: NetworkManager's conf.d file for the bridges.
    type: path
    default: /etc/NetworkManager/conf.d/90-hostnet-qemu-unmanaged.conf
  network_unit:
    description: The text of C(hostnet-qemu-network.service). Required with O(state=present).
    type: str
  dnsmasq_unit:
    description:
      - The text of the template unit C(hostnet-qemu-dnsmasq@.service) (it must have a C([Service]) section;
        the module records its hash there). Required with O(state=present) when a network has C(dhcp) or C(dns).
    type: str
  frr_dir:
    description: FRR's configuration directory (C(frr.conf), C(daemons)), used when a network has C(control_plane=evpn).
    type: path
    default: /etc/frr
notes:
  - Check mode and diff are supported; the diff shows the devices, the table, every file (the boot CLI as one
    list of file digests) and the systemd actions in the plan.
requirements:
  - nft (nftables)
  - netaddr (Python)
  - pyroute2 (Python)
  - systemd
  - FRR with frr-reload.py (Debian packages frr, frr-pythontools) for networks with C(control_plane=evpn)
"""

EXAMPLES = r"""
- name: The host's networks in one call (normally done by the hostnet.qemu.network role)
  hostnet.qemu.networks:
    networks:
      - {name: isonet, kind: isolated, address: 10.10.0.1/24, dhcp: {}}
      - {name: natnet, kind: nat, address: 192.168.50.1/24, uplink: eth0}
    network_unit: "{{ lookup('ansible.builtin.template', 'hostnet-qemu-network.service.j2') }}"
    dnsmasq_unit: "{{ lookup('ansible.builtin.template', 'hostnet-qemu-dnsmasq@.service.j2') }}"

- name: Remove everything the role created
  hostnet.qemu.networks:
    state: absent
"""

RETURN = r"""
plan:
  description: Every action, in order (devices, table, files, sysctls, systemd).
  returned: always
  type: list
  elements: str
  sample: ["create bridge hqnat0", "write /etc/systemd/system/hostnet-qemu-network.service", "start hostnet-qemu-network.service"]
devices:
  description: The device engine's result for the bridges (as M(hostnet.qemu.netdevs) returns it).
  returned: always
  type: dict
frr:
  description: What was (in check mode, would be) done to FRR for EVPN; empty when no network uses it.
  returned: always
  type: list
  elements: str
  sample: ["write the BGP EVPN section in /etc/frr/frr.conf", "bgpd=yes in /etc/frr/daemons", "enable frr.service",
           "start frr.service"]
nft:
  description: The table's actions (write, load, remove, delete_table with their path or table).
  returned: always
  type: list
  elements: str
dnsmasq:
  description: The dnsmasq units of the present networks with C(dhcp), C(dns) or C(ipv6) (router advertisements).
  returned: always
  type: list
  elements: str
  sample: [hostnet-qemu-dnsmasq@isonet.service]
sysctls:
  description:
    - Sysctls the networks need, in slash form; C(net/ipv4/conf/IF/forwarding) for each nat network's bridge and uplink,
      C(net/ipv6/conf/IF/force_forwarding) for those with IPv6, C(net/ipv6/conf/BRIDGE/accept_ra) 0; for an uplink
      with proxy NDP entries C(net/ipv6/conf/UPLINK/proxy_ndp) and C(forwarding) 1, C(accept_ra) 2 where it was 1.
  returned: always
  type: dict
  sample: {"net/ipv4/conf/eth0/forwarding": "1", "net/ipv4/conf/hqnat0/forwarding": "1"}
ports:
  description: The guest ports the table holds to their NICs (trusted ones are listed with RV(ports[].trust=true) and not held).
  returned: always
  type: list
  elements: dict
  contains:
    ifname:
      description: The tap.
      type: str
    network:
      description: The network.
      type: str
    allowed:
      description: The IPv4 addresses (or the subnet) it may send from; null when the network has no subnet.
      type: list
      elements: str
    pinned:
      description:
        - For a NIC that leases, the address reserved for its MAC in the network's DHCP, which is also the only one it
          may send from; null for other ports.
      type: str
    pinned6:
      description:
        - On a network with stateful DHCPv6, the IPv6 address reserved for its MAC, which is also the only address of
          the prefix it may send from; null for other ports.
      type: str
    trust:
      description: Not held.
      type: bool
forwarding:
  description: The nat uplinks' forwarding.
  returned: always
  type: dict
  contains:
    before:
      description:
        - Each nat or routed uplink's forwarding value found before the collection switched it on (kept in the saved
          state); C(ipv6/UPLINK) its IPv6 C(force_forwarding), and for proxy NDP C(ndp/UPLINK), C(router6/UPLINK) and
          C(ra/UPLINK) its C(proxy_ndp), C(forwarding) and C(accept_ra).
      type: dict
      sample: {"eth0": "0", "ipv6/eth0": "0"}
    guarded:
      description: The uplinks that were off before; the table routes what enters by them only to their networks' bridges.
      type: list
      elements: str
      sample: [eth0]
    restore:
      description: The values written back (or, in check mode, to write back) for uplinks no nat network uses any more.
      type: dict
      sample: {}
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import (_dhcp, _engine, _files, _forwarding, _frr,
                                                                   _leasepins, _model, _netset, _nftnet, _nftports,
                                                                   _nftstate, _runner)
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._lock import host_lock


def _saved_devices(path):
    """The devices the role saved (a broken file is no reason to keep the rest)."""
    text = _files.read_text(path, "networks")
    try:
        devices = json.loads(text).get("devices") if text else []
    except (ValueError, AttributeError):
        return []
    return [d for d in devices or [] if isinstance(d, dict) and d.get("name") and d.get("kind")]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            networks=dict(type="list", elements="dict", default=[]),
            ports=dict(type="list", elements="dict", default=[], options=_nftports.SPEC),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            table=dict(type="str", default="hostnet_qemu"),
            config_dir=dict(type="path", default="/etc/hostnet-qemu"),
            lib_dir=dict(type="path", default="/usr/local/lib/hostnet-qemu"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            sysctl_file=dict(type="path", default="/etc/sysctl.d/60-hostnet-qemu-network.conf"),
            modules_file=dict(type="path", default="/etc/modules-load.d/hostnet-qemu-network.conf"),
            bridge_nf_call=dict(type="bool"),
            nm_unmanaged=dict(type="bool", default=True),
            nm_conf=dict(type="path", default="/etc/NetworkManager/conf.d/90-hostnet-qemu-unmanaged.conf"),
            network_unit=dict(type="str"),
            dnsmasq_unit=dict(type="str"),
            frr_dir=dict(type="path", default="/etc/frr"),
        ),
        required_if=[("state", "present", ["network_unit"])],
        supports_check_mode=True,
    )

    def work():
        params, check = module.params, module.check_mode
        # typed from here on; removing everything needs no tunnel endpoint
        networks = _nftnet.validate_on_host(params["networks"], tunnels=params["state"] == "present")
        present = params["state"] == "present"
        normalised = _nftnet.normalise(networks)
        ports = _nftports.normalise(params["ports"], normalised) if present else []
        devices = _nftnet.devices(networks)
        spec = dict((k, params[k]) for k in ("state", "config_dir", "lib_dir", "unit_dir", "sysctl_file", "modules_file",
                                             "bridge_nf_call", "nm_unmanaged", "nm_conf", "network_unit", "dnsmasq_unit"))
        spec["bridges"] = [d["name"] for d in devices if d.get("state", "present") == "present"]
        nft = module.get_bin_path("nft", required=present)
        ruleset = os.path.join(params["config_dir"], "nftables.json")
        state_path = os.path.join(params["config_dir"], "netdevs.json")
        with host_lock("networks"):
            # a leasing guest NIC gets its reservation (read from dnsmasq's files, written by this run)
            normalised, ports = _leasepins.pin(normalised, ports, os.path.join(params["config_dir"], "dnsmasq"))
            spec["dnsmasq"] = _dhcp.instances(normalised)
            if present and spec["dnsmasq"] and not params["dnsmasq_unit"]:
                raise HostnetError("networks %s have dhcp or dns: dnsmasq_unit is required"
                                   % ", ".join(i["name"] for i in spec["dnsmasq"]))
            # EVPN's FRR configuration is planned first: a host that cannot run it is refused before anything changes
            frr = _frr.plan(normalised if present else [], params["frr_dir"], check_mode=check)
            # an uplink no nat network needs any more is switched back before the table drops its guard
            forwarding = _forwarding.plan(normalised if present else [], state_path, params["sysctl_file"])
            spec["sysctls"] = _nftnet.sysctls(networks, forwarding["before"]) if present else {}
            if not check:
                _forwarding.apply_restore(forwarding)
            if present:
                engine = _engine.converge(_model.normalise_all(devices), check_mode=check)
                table = _nftstate.converge(networks, params["table"], ruleset, state_path, nft=nft, check_mode=check,
                                           forwarding=forwarding["before"], ports=ports)
                files = _netset.plan(spec)
                if not check:
                    _netset.apply(files)
            else:  # stop the dnsmasq instances before their bridges go
                files = _netset.plan(spec)
                if not check:
                    _netset.apply(files)
                kinds = dict((d["name"], d["kind"]) for d in _saved_devices(state_path) + devices)
                gone = [{"name": n, "kind": k, "state": "absent"} for n, k in sorted(kinds.items())]
                engine = _engine.converge(_model.normalise_all(gone), check_mode=check)
                table = _nftstate.converge([], params["table"], ruleset, state_path, state="absent", nft=nft or "nft",
                                           check_mode=check)
                if not check:
                    try:
                        os.rmdir(params["config_dir"])
                    except OSError:
                        pass  # not empty (the guest role's saved devices, a user's file) or not there
            if not check:
                _frr.apply(frr)  # after the VXLAN devices (zebra takes them as EVPN VNIs) and the table admitting BGP
        if not check:
            _netset.start_units(files)  # the boot unit takes the lock: not while this module holds it
        if forwarding["legacy"] and _forwarding.read(_forwarding.LEGACY_KEY) == "1":
            module.warn("net.ipv4.ip_forward is 1: an older release of hostnet.qemu set it for every interface. The"
                        " networks now switch forwarding on only for their bridges and uplinks, and the drop-in no"
                        " longer holds it, so it is 0 again from the next boot. If nothing else on this host routes,"
                        " set it now: sysctl -w net.ipv4.ip_forward=0 (then run the role again).")
        nft_lines = [" ".join(str(a) for a in action[:2]) for action in table["actions"]]
        diff = []
        if engine["changed"]:
            diff.append(_engine.diff_entry(engine))
        diff += table["diff"] + files["diff"] + frr["diff"]
        restore = _forwarding.restore_lines(forwarding)
        return {"changed": engine["changed"] or table["changed"] or files["changed"] or frr["changed"] or bool(restore),
                "plan": restore + engine["plan"] + ["nft: " + line for line in nft_lines] + files["plan"]
                + ["frr: " + line for line in frr["plan"]], "frr": frr["plan"],
                "devices": engine, "nft": nft_lines, "dnsmasq": files["dnsmasq"], "sysctls": spec["sysctls"],
                "forwarding": dict((k, forwarding[k]) for k in ("before", "guarded", "restore")), "diff": diff,
                "ports": [dict((k, p[k]) for k in ("ifname", "network", "allowed", "pinned", "pinned6", "trust")) for p in ports]}

    _runner.run(module, work)


if __name__ == "__main__":
    main()
