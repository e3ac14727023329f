# -*- coding: utf-8 -*-
"""Capture rtnetlink dump replies for tests/unit/plugins/module_utils/test_nlwire.py: run as root, writes rtnl-dump.json beside it.

In a throwaway namespace it makes a bridge (forward delay 4 s; this kernel refuses STP outside the initial namespace and VLAN filtering), a tap owned by nobody
(vnet_hdr, multi_queue) enslaved to it, a tun, a veth pair with a macvtap and a macvlan on it, two VXLAN devices
(IPv4 without learning on the veth, enslaved to the bridge; IPv6 on another port) with forwarding-database
entries (a flood list, a remote MAC, an IPv6 flood entry), IPv4 and IPv6
addresses (a secondary, a broadcast, a finite lifetime, noprefixroute) and routes (a default, an onlink gateway,
a metric, a prefsrc, a multipath route, a route in table 100). It stores each reply message as hex next to what
iproute2 says about the same objects (`ip -d -j link`, `ip -j addr`, `ip -j route`, `bridge -j fdb`), the
independent view the
unit tests compare the parsers against. Re-run it when the parsers learn new attributes.
"""

import binascii
import json
import os
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "..", ".collections"))

from ansible_collections.hostnet.qemu.plugins.module_utils import _netlink, _nlwire  # noqa: E402

SETUP = """
link add cbr0 type bridge forward_delay 400
tuntap add mode tap name ctap0 user nobody vnet_hdr multi_queue
tuntap add mode tun name ctun0
link set ctap0 master cbr0
link add cveth0 type veth peer name cveth1
link add link cveth0 name cmvt0 type macvtap mode bridge
link add link cveth0 name cmvl0 type macvlan mode private
link set cbr0 address 52:54:00:12:34:56 mtu 1400 up
link set cveth0 up
link set cveth1 up
link add cvx0 type vxlan id 4242 local 10.78.0.1 dev cveth0 dstport 4789 nolearning
link add cvx6 type vxlan id 16777215 local fd00:78::1 dstport 8472
link set cvx0 master cbr0
addr add 10.77.0.1/24 brd 10.77.0.255 dev cbr0
addr add 10.77.0.2/24 dev cbr0
addr add 10.78.0.1/24 dev cveth0 valid_lft 3600 preferred_lft 1800
addr add fd00:77::1/64 dev cbr0 nodad
addr add fd00:78::1/64 dev cveth0 nodad noprefixroute
addr add 10.79.0.1 peer 10.79.0.2/32 dev ctun0
route add default via 10.77.0.254 dev cbr0 metric 50
route add 192.0.2.0/24 via 10.78.0.254 dev cveth0 onlink
route add 198.51.100.0/24 dev cbr0 src 10.77.0.1
route add 203.0.113.0/24 nexthop via 10.77.0.253 dev cbr0 nexthop via 10.78.0.253 dev cveth0
route add 10.99.0.0/16 via 10.77.0.252 dev cbr0 table 100
route add fd00:99::/48 via fd00:77::fe dev cbr0 metric 7
"""
# the forwarding database of the VXLAN devices: a flood list of two, a remote MAC, an IPv6 flood entry
FDB = """
fdb append 00:00:00:00:00:00 dev cvx0 dst 10.78.0.2
fdb append 00:00:00:00:00:00 dev cvx0 dst 10.78.0.3
fdb add 52:54:00:0a:0b:0c dev cvx0 dst 10.78.0.2
fdb append 00:00:00:00:00:00 dev cvx6 dst fd00:78::2
"""


def ip(ns, *args):
    return subprocess.run(["ip", "-n", ns] + list(args), check=True, stdout=subprocess.PIPE,
                          universal_newlines=True).stdout


def main():
    ns = "hn-capture-" + uuid.uuid4().hex[:8]
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input=SETUP, universal_newlines=True, check=True)
        subprocess.run(["bridge", "-n", ns, "-batch", "-"], input=FDB, universal_newlines=True, check=True)
        out = {"ifindex": dict((l["ifname"], l["ifindex"]) for l in json.loads(ip(ns, "-j", "link")))}
        with _netlink.Kernel(ns) as kernel:
            for kind, mtype, family in (("links", _nlwire.RTM_GETLINK, 0), ("addresses", _nlwire.RTM_GETADDR, 0),
                                        ("routes", _nlwire.RTM_GETROUTE, 0),
                                        ("fdb", _nlwire.RTM_GETNEIGH, _nlwire.AF_BRIDGE)):
                out[kind] = [binascii.hexlify(data[offset:offset + length]).decode("ascii")
                             for data, offset, length in kernel._dump(mtype, family)]
        out["ip_link"] = json.loads(ip(ns, "-d", "-j", "link"))
        out["ip_addr"] = json.loads(ip(ns, "-j", "addr"))
        out["ip_route"] = json.loads(ip(ns, "-j", "route", "show", "table", "all"))
        out["bridge_fdb"] = json.loads(subprocess.run(["bridge", "-n", ns, "-j", "fdb", "show"], check=True,
                                                      stdout=subprocess.PIPE, universal_newlines=True).stdout)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    with open(os.path.join(HERE, "rtnl-dump.json"), "w") as handle:
        json.dump(out, handle, indent=1, sort_keys=True)
        handle.write("\n")


if __name__ == "__main__":
    main()
