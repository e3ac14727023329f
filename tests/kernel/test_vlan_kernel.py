"""Bridge-port VLANs against the real kernel: access ports, trunks with and without a native VLAN, and an uplink
trunk to a LAN whose 802.1Q interfaces are the kernel's own (8021q), each test in its own namespaces.

The oracle is the kernel twice over: `bridge -j vlan show` for what each port carries, and Ethernet frames written
into the taps (as a guest's NIC writes them) and read where the bridge delivered them - other taps, tagged or not,
and the LAN's VLAN interfaces. This machine's kernel has neither bridge VLAN filtering nor 8021q: there the first
test proves the refusal, and scenario realguest runs this file inside rg1, a Debian kernel that has both.
"""

import json
import sys

import pytest

from conftest import addrs, links, ping, sh, snapshot, throwaway_netns
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model, _uplinkhost, _uplinkplan, _vlannet
from ansible_collections.hostnet.qemu.plugins.module_utils._netlink import Kernel


def _kernel_filters_vlans():
    with throwaway_netns() as ns:
        return sh("ip", "-n", ns, "link", "add", "name", "probe0", "type", "bridge", "vlan_filtering", "1",
                  check=False).returncode == 0


FILTERS = _kernel_filters_vlans()
NO_FILTERING = ("this kernel has no bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING) or no 8021q; scenario realguest"
                " runs this test inside rg1, whose Debian kernel has both")


def converge(netns, devices, **kw):
    return _engine.converge(_model.normalise_all(devices), netns=netns, **kw)


def kernel_vlans(netns):
    """{port: ['10', '30 pvid untagged', ...]} as `bridge -j vlan show` reports it."""
    out = {}
    for port in json.loads(sh("bridge", "-n", netns, "-j", "vlan", "show").stdout or "[]"):
        entries = []
        for vlan in port["vlans"]:
            flags = vlan.get("flags", [])
            words = [str(vlan["vlan"])] + (["pvid"] if "PVID" in flags else []) + \
                (["untagged"] if "Egress Untagged" in flags else [])
            entries.append(" ".join(words))
        out[port["ifname"]] = entries
    return out


@pytest.mark.skipif(FILTERS, reason="this kernel filters VLANs: the refusal of a kernel without it cannot happen here")
def test_a_kernel_without_vlan_filtering_refuses_with_one_message_and_nothing_changes(netns):
    before = snapshot(netns)
    with pytest.raises(HostnetError) as err:
        converge(netns, [{"kind": "bridge", "name": "br0", "vlan_filtering": True},
                         {"kind": "tap", "name": "a0", "master": "br0", "vlan": 10}])
    assert str(err.value) == ("bridge 'br0': create with VLAN filtering failed: this kernel has no bridge VLAN filtering"
                              " (CONFIG_BRIDGE_VLAN_FILTERING); run it on a kernel that has it, or drop the VLAN options")
    assert snapshot(netns) == before


# The guests and the LAN: taps opened as QEMU opens them, and packet sockets on the LAN's VLAN interfaces. Each
# sender writes one frame (EtherType 0x88b5, a marker as payload), optionally 802.1Q-tagged; every endpoint then
# reports what it read: [marker, VLAN id or null].
FRAMES = r"""
import ctypes, fcntl, json, os, select, socket, struct, sys, time
spec = json.loads(sys.argv[1])
lan = {}
for name in spec["lan"]:  # created in the LAN namespace, where this process starts
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((name, 0))
    lan[name] = s
fd = os.open("/run/netns/" + spec["bridge_ns"], os.O_RDONLY)
assert ctypes.CDLL(None, use_errno=True).setns(fd, 0x40000000) == 0
taps = {}
for name in spec["taps"]:
    taps[name] = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(taps[name], 0x400454ca, struct.pack("16sH22x", name.encode(), 0x0002 | 0x1000))
time.sleep(spec["settle"])
def frame(src, marker, vid):
    tag = struct.pack("!HH", 0x8100, vid) if vid else b""
    return b"\xff" * 6 + bytes.fromhex(src) + tag + struct.pack("!H", 0x88b5) + marker.encode().ljust(46, b"\0")
def drain(seen):
    while True:
        ready = select.select(list(taps.values()) + list(lan.values()), [], [], 0.3)[0]
        if not ready:
            return
        for name, f in list(taps.items()) + list(lan.items()):
            if f not in ready:
                continue
            if name in taps:
                data = os.read(f, 2048)
            else:
                data, addr = f.recvfrom(2048)
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
            vid, etype, body = None, struct.unpack("!H", data[12:14])[0], data[14:]
            if etype == 0x8100:
                vid, etype, body = struct.unpack("!H", data[14:16])[0] & 0xfff, struct.unpack("!H", data[16:18])[0], data[18:]
            if etype == 0x88b5:
                seen.setdefault(name, []).append([body.rstrip(b"\0").decode(), vid])
seen = {}
for i, (sender, marker, vid) in enumerate(spec["send"]):
    data = frame("02000000%04x" % i, marker, vid)
    if sender in taps:
        os.write(taps[sender], data)
    else:
        lan[sender].send(data)
    drain(seen)
print(json.dumps(seen))
"""


def exchange(bridge_ns, lan_ns, taps, lan, send):
    out = sh("ip", "netns", "exec", lan_ns, sys.executable, "-c", FRAMES,
             json.dumps({"bridge_ns": bridge_ns, "taps": taps, "lan": lan, "send": send, "settle": 1.0})).stdout
    return dict((name, sorted(tuple(x) for x in got)) for name, got in json.loads(out).items())


@pytest.fixture()
def lan():
    with throwaway_netns() as name:
        yield name


@pytest.mark.skipif(not FILTERS, reason=NO_FILTERING)
def test_access_ports_are_isolated_and_trunks_carry_both(netns, lan):
    # the LAN: a veth whose bridge end is the uplink, its other end with 802.1Q interfaces for VLANs 10 and 20
    sh("ip", "-n", netns, "link", "add", "name", "up0", "type", "veth", "peer", "name", "lan0", "netns", lan)
    for vid in (10, 20):
        sh("ip", "-n", lan, "link", "add", "link", "lan0", "name", "lan0.%d" % vid, "type", "vlan", "id", str(vid))
    for name in ("lan0", "lan0.10", "lan0.20"):
        sh("ip", "-n", lan, "link", "set", name, "up")
    sh("ip", "-n", netns, "link", "set", "up0", "addrgenmode", "none", "up")  # no link-local address appearing later
    devices = [
        {"kind": "bridge", "name": "br0", "vlan_filtering": True, "stp": False, "forward_delay": 0,
         "ports": ["up0"], "port_vlans": [10, 20], "port_native": 1},
        {"kind": "tap", "name": "a0", "master": "br0", "vlan": 10},  # access, VLAN 10
        {"kind": "tap", "name": "b0", "master": "br0", "vlan": 20},  # access, VLAN 20
        {"kind": "tap", "name": "t0", "master": "br0", "vlans": [10, 20]},  # trunk, both tagged, no native
        {"kind": "tap", "name": "n0", "master": "br0", "vlans": [20], "native": 10},  # trunk, 10 untagged
    ]
    check = converge(netns, devices, check_mode=True)
    assert check["changed"] and check["devices"]["a0"]["vlans"] == ["10 pvid untagged"]
    assert set(links(netns)) == {"lo", "up0"}
    result = converge(netns, devices)
    assert result["changed"] and "add VLAN 10 pvid untagged on tap 'a0'" in result["plan"]
    assert kernel_vlans(netns) == {
        "up0": ["1 pvid untagged", "10", "20"], "a0": ["10 pvid untagged"], "b0": ["20 pvid untagged"],
        "t0": ["10", "20"], "n0": ["10 pvid untagged", "20"], "br0": ["1 pvid untagged"]}
    assert links(netns)["br0"]["linkinfo"]["info_data"]["vlan_filtering"] == 1
    assert result["devices"]["n0"]["vlans"] == ["10 pvid untagged", "20"]  # the module's report agrees
    before = snapshot(netns)
    again = converge(netns, devices)
    assert not again["changed"] and again["plan"] == []
    assert not converge(netns, devices, check_mode=True)["changed"]
    assert snapshot(netns) == before

    got = exchange(netns, lan, ["a0", "b0", "t0", "n0"], ["lan0.10", "lan0.20"], [
        ["a0", "a", 0], ["b0", "b", 0],  # access guests send untagged
        ["t0", "t10", 10], ["t0", "t20", 20], ["t0", "t-untagged", 0],  # the trunk tags; untagged it has no VLAN
        ["n0", "n-untagged", 0],  # the native VLAN
        ["a0", "a-hops-to-20", 20],  # an access guest that tags its frames reaches no other VLAN
        ["lan0.10", "lan10", 0], ["lan0.20", "lan20", 0],  # the LAN, through the uplink trunk
    ])
    assert got == {
        "a0": [("lan10", None), ("n-untagged", None), ("t10", None)],
        "b0": [("lan20", None), ("t20", None)],
        "t0": [("a", 10), ("b", 20), ("lan10", 10), ("lan20", 20), ("n-untagged", 10)],
        "n0": [("a", None), ("b", 20), ("lan10", None), ("lan20", 20), ("t10", None), ("t20", 20)],
        "lan0.10": [("a", None), ("n-untagged", None), ("t10", None)],
        "lan0.20": [("b", None), ("t20", None)],
    }

    # a guest moves from VLAN 10 to a trunk: changed in place, no frames of VLAN 10 untagged any more
    devices[1] = {"kind": "tap", "name": "a0", "master": "br0", "vlans": [10, 20]}
    moved = converge(netns, devices)
    assert moved["plan"] == ["add VLAN 10 on tap 'a0'", "add VLAN 20 on tap 'a0'"]
    assert moved["diff"]["before"]["a0"]["vlans"] == ["10 pvid untagged"]
    assert kernel_vlans(netns)["a0"] == ["10", "20"]


@pytest.mark.skipif(not FILTERS, reason=NO_FILTERING)
def test_unfiltered_bridge_is_refused_before_anything_changes(netns):
    converge(netns, [{"kind": "bridge", "name": "br0"}])
    before = snapshot(netns)
    with pytest.raises(HostnetError) as err:
        converge(netns, [{"kind": "bridge", "name": "br0"}, {"kind": "tap", "name": "a0", "master": "br0", "vlan": 10}])
    assert str(err.value) == ("tap 'a0': VLANs 10 need bridge 'br0' to filter VLANs, and it does not; set"
                              " vlan_filtering: true on the bridge")
    assert snapshot(netns) == before


@pytest.mark.skipif(not FILTERS, reason=NO_FILTERING)
def test_an_uplink_nic_carries_the_vlans_tagged_and_the_hosts_own_traffic_untagged(netns, lan):
    """The uplink move with `vlans`: the NIC, once the bridge's port, carries VLAN 10 tagged beside VLAN 1 untagged
    (the host's address, moved onto the bridge, still reaches the LAN); given back, it is a plain NIC again."""
    sh("ip", "-n", netns, "link", "add", "name", "nic0", "type", "veth", "peer", "name", "lan0", "netns", lan)
    sh("ip", "-n", netns, "addr", "add", "10.79.0.2/24", "dev", "nic0")
    sh("ip", "-n", lan, "addr", "add", "10.79.0.1/24", "dev", "lan0")
    sh("ip", "-n", lan, "link", "add", "link", "lan0", "name", "lan0.10", "type", "vlan", "id", "10")
    for ns, name in ((netns, "nic0"), (lan, "lan0"), (lan, "lan0.10")):
        sh("ip", "-n", ns, "link", "set", name, "up")
    converge(netns, [{"kind": "bridge", "name": "br0", "vlan_filtering": True, "stp": False, "forward_delay": 0},
                     {"kind": "tap", "name": "a0", "master": "br0", "vlan": 10}])
    with Kernel(netns) as kernel:
        live = _uplinkhost.read(kernel)
    entry = {"bridge": "br0", "nic": "nic0", "mac": live["links"]["nic0"]["mac"], "routes": [],
             "addresses": _uplinkplan.movable_addresses(live, "nic0"), "vlans": _vlannet.uplink_port([10], "uplink 'nic0'")}
    done = _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=netns)
    assert "set interface 'nic0': master=br0" in done and "add VLAN 10 on interface 'nic0'" in done
    assert kernel_vlans(netns)["nic0"] == ["1 pvid untagged", "10"]
    assert [a for a in addrs(netns, "br0") if not a.startswith("fe80:")] == ["10.79.0.2/24"]
    assert ping(netns, "10.79.0.1")  # the host's own traffic: VLAN 1, untagged on the LAN
    assert _uplinkhost.converge(entry, _uplinkplan.MOVED, netns=netns) == []  # a second run changes nothing
    got = exchange(netns, lan, ["a0"], ["lan0.10"], [["a0", "a", 0], ["lan0.10", "lan10", 0]])
    assert got == {"a0": [("lan10", None)], "lan0.10": [("a", None)]}
    _uplinkhost.converge(entry, _uplinkplan.ORIGINAL, netns=netns)
    assert links(netns)["nic0"].get("master") is None
    assert [a for a in addrs(netns, "nic0") if not a.startswith("fe80:")] == ["10.79.0.2/24"]
    assert ping(netns, "10.79.0.1")
