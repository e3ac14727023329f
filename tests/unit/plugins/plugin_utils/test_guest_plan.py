# -*- coding: utf-8 -*-
"""The guest role's pure logic (plugins/plugin_utils/_guest.py): validation, conflicts, QEMU argv, unit text."""

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _guest, _guestconflicts, _guestrender

HOST = {
    "users": {"qemu": ["x", "999", "999", "", "/", "/bin/false"], "root": ["x", "0", "0", "", "/root", "/bin/sh"]},
    "links": ["lo", "eth0", "vmbr0"],
    "files": {"/img/k": True, "/img/i": True, "/img/base.qcow2": True, "/img/have.raw": True},
    "kvm_users": [],
    "vhost_users": ["qemu"],
}


def guest(**kw):
    base = {"name": "vm1", "memory": 128, "kernel": "/img/k", "initrd": "/img/i", "append": "console=ttyS0 quiet"}
    base.update(kw)
    return base


def plan(*guests, host=None, settings=None):
    """Guests of the shared user qemu (their own users: the test_own_user_* tests)."""
    settings = {"user": "qemu"} if settings is None else settings
    return _guest.normalise_all(list(guests), settings, HOST if host is None else host)


def err(*guests, host=None):
    with pytest.raises(HostnetError) as info:
        plan(*guests, host=host)
    return str(info.value)


def test_defaults_and_derived_mac():
    g = plan(guest(nics=[{"kind": "tap", "bridge": "vmbr0"}]))[0]
    assert g["user"] == "qemu" and g["state"] == "started" and g["accel"] == "tcg" and g["cpus"] == 1
    nic = g["nics"][0]
    assert nic["mac"] == _validate.derive_mac("vm1/0") and nic["mac"].startswith("52:54:00:")
    assert nic["ifname"] == "vm1-n0" and nic["vhost"] is False  # vhost only with kvm by default
    assert plan(guest(nics=[{"kind": "tap"}]))[0]["nics"][0]["mac"] == nic["mac"]  # stable


def test_accel_auto_follows_kvm_access():
    assert plan(guest())[0]["accel"] == "tcg"
    assert plan(guest(), host=dict(HOST, kvm_users=["qemu"]))[0]["accel"] == "kvm"
    assert plan(guest(accel="tcg"), host=dict(HOST, kvm_users=["qemu"]))[0]["accel"] == "tcg"
    g = plan(guest(nics=[{"kind": "tap"}]), host=dict(HOST, kvm_users=["qemu"]))[0]
    assert g["nics"][0]["vhost"] is True


@pytest.mark.parametrize("spec, kvm, model", [
    ({}, False, "max"),  # TCG: every feature TCG emulates, so x86-64-v2 distributions boot (qemu64 lacks SSE4.2)
    ({}, True, "host"),
    ({"accel": "tcg"}, True, "max"),
    ({"cpu": "Haswell,-hle"}, True, "Haswell,-hle"),
    ({"cpu": "qemu64", "accel": "tcg"}, False, "qemu64"),
])
def test_cpu_model_follows_the_accelerator_unless_given(spec, kvm, model):
    host = dict(HOST, kvm_users=["qemu"] if kvm else [])
    args = _guestrender.argv(plan(guest(**spec), host=host)[0])
    assert args[args.index("-cpu") + 1] == model


def test_argv_tap_user_socket_bridge_macvtap():
    host = dict(HOST, bridge_checked=True, bridge_conf_text="allow vmbr0\n")
    g = plan(guest(cpus=2, disks=[{"path": "/img/new.qcow2", "size": "1G"}], cdrom="/img/i", nics=[
        {"kind": "tap", "bridge": "vmbr0", "queues": 2, "mac": "52:54:00:AA:00:01"},
        {"kind": "user", "hostfwd": [{"host_port": 2280, "guest_port": 80}], "restrict": True},
        {"kind": "socket", "network": "lan"},
        {"kind": "bridge", "bridge": "vmbr0", "model": "e1000"},
        {"kind": "macvtap", "link": "eth0"},
    ]), host=host)[0]
    args = _guestrender.argv(g)
    text = " ".join(args)
    assert args[0] == "/usr/bin/qemu-system-x86_64"
    assert "-accel tcg -cpu max -m 128 -smp 2 -nodefaults" in text
    assert "-netdev tap,id=net0,ifname=vm1-n0,script=no,downscript=no,queues=2" in text
    assert "-device virtio-net-pci,netdev=net0,mac=52:54:00:aa:00:01,id=nic0,mq=on,vectors=6" in text
    assert "-netdev user,id=net1,restrict=on,hostfwd=tcp:127.0.0.1:2280-:80" in text
    group, port = _guest.socket_endpoint("lan")
    assert "-netdev socket,id=net2,mcast=%s:%d,localaddr=127.0.0.1" % (group, port) in text
    assert "-netdev bridge,id=net3,br=vmbr0,helper=/usr/lib/qemu/qemu-bridge-helper" in text
    assert "-device e1000,netdev=net3" in text
    assert "-netdev tap,id=net4,fd=3" in text
    # a kernel boots directly: no disk gets a boot index
    assert "-drive file=/img/new.qcow2,format=qcow2,if=none,id=disk0 -device virtio-blk-pci,drive=disk0,id=vdisk0 " in text
    assert "-drive if=none,id=cdrom0,media=cdrom,readonly=on -device virtio-scsi-pci,id=scsi0 -device scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0" in text
    assert args[args.index("-append") + 1] == "console=ttyS0 quiet"
    # the bridge helper must be spawnable and gain its capability
    assert "spawn=deny" not in text and "elevateprivileges=deny" not in text


def test_socket_networks_are_deterministic_and_distinct():
    assert _guest.socket_endpoint("a") == _guest.socket_endpoint("a")
    endpoints = set(_guest.socket_endpoint("net%d" % i) for i in range(200))
    assert len(endpoints) == 200


def test_unit_text_hardened_and_graceful():
    g = plan(guest(disks=[{"path": "/img/have.raw", "format": "raw"}, {"path": "/img/base.qcow2", "readonly": True}],
                   nics=[{"kind": "tap", "bridge": "vmbr0"}, {"kind": "macvtap", "link": "eth0"}]))[0]
    text = _guestrender.unit(g)
    assert "User=qemu" in text and "NoNewPrivileges=yes" in text and "CapabilityBoundingSet=\n" in text
    assert "ExecStart=/usr/bin/python3 /usr/local/libexec/hostnet-qemu-guest launch --fd 3=vm1-m1 -- " in text
    assert "ExecStop=/usr/bin/python3 /usr/local/libexec/hostnet-qemu-guest stop --timeout 60 /run/hostnet-qemu/vm1/qmp.sock" in text
    assert "TimeoutStopSec=75" in text and "Restart=on-failure" in text
    assert "ReadWritePaths=/img/have.raw\n" in text and "ReadWritePaths=/img/base.qcow2" not in text
    assert "DevicePolicy=closed" in text and "DeviceAllow=/dev/net/tun rw" in text
    assert "DeviceAllow=char-macvtap rw" in text and "/dev/kvm" not in text
    assert "ProtectSystem=strict" in text and "MemoryDenyWriteExecute=yes" not in text
    assert '"console=ttyS0 quiet"' in text  # quoted as one argument


def test_bridge_helper_unit_keeps_privileges():
    host = dict(HOST, bridge_checked=True, bridge_conf_text="allow all\n")
    planned = plan(guest(nics=[{"kind": "bridge", "bridge": "vmbr0"}]), host=host)[0]
    text = _guestrender.unit(planned)
    assert "NoNewPrivileges=no" in text and "CapabilityBoundingSet=CAP_NET_ADMIN" in text
    # QEMU's -sandbox and systemd's seccomp-based options set no_new_privs: the helper would lose its file capability
    assert "-sandbox" not in _guestrender.argv(planned)
    for option in ("RestrictSUIDSGID=", "SystemCallArchitectures=", "RestrictAddressFamilies=", "LockPersonality="):
        assert "\n" + option not in text
    assert "ProtectSystem=strict" in text and "DevicePolicy=closed" in text and "ProtectProc=invisible" in text


def test_netdevs_one_list_for_all_guests():
    guests = plan(guest(nics=[{"kind": "tap", "bridge": "vmbr0", "queues": 2}, {"kind": "user"}]),
                  guest(name="vm2", nics=[{"kind": "macvtap", "link": "eth0", "mac": "52:54:00:00:00:09"}]),
                  guest(name="vm3", state="absent", nics=[{"kind": "tap", "ifname": "old0"}]))
    assert _guestrender.netdevs(guests) == [
        {"kind": "tap", "name": "vm1-n0", "owner": "qemu", "multi_queue": True, "master": "vmbr0"},
        {"kind": "macvtap", "name": "vm2-m0", "link": "eth0", "mode": "bridge", "mac": "52:54:00:00:00:09",
         "device_owner": "qemu", "device_mode": "0600"},
        {"kind": "tap", "name": "old0", "state": "absent"},
    ]


def test_absent_guest_needs_no_user_or_files():
    g = plan(guest(state="absent", user="gone", kernel="/nope"), host=HOST)[0]
    assert g["state"] == "absent"


# --- bad input: each names the guest, the field and the fix ---

@pytest.mark.parametrize("kw, words", [
    ({"nics": [{"kind": "vde"}]}, ["guest 'vm1'", "nics[0].kind", "'vde' is not one of user, socket", "use one of"]),
    ({"memory": 8}, ["guest 'vm1'", "memory", "out of range", "16 to"]),
    ({"memory": "lots"}, ["guest 'vm1'", "memory", "not a whole number"]),
    ({"cpus": 0}, ["guest 'vm1'", "cpus", "out of range"]),
    ({"cpus": 1000}, ["guest 'vm1'", "cpus", "out of range"]),
    ({"user": "nobody-here"}, ["guest 'vm1'", "user", "'nobody-here' does not exist", "create it"]),
    ({"user": "root"}, ["guest 'vm1'", "user", "never run as root"]),
    ({"disks": [{"path": "/img/o.qcow2", "backing": "/img/missing.qcow2"}]},
     ["guest 'vm1'", "disks[0].backing", "'/img/missing.qcow2' does not exist"]),
    ({"disks": [{"path": "/img/none.raw"}]}, ["guest 'vm1'", "disks[0].path", "does not exist", "give size"]),
    ({"nics": [{"kind": "macvtap", "link": "eth9"}]},
     ["guest 'vm1'", "nics[0].link", "'eth9' does not exist on this host"]),
    ({"nics": [{"kind": "tap", "mac": "01:00:5e:00:00:01"}]}, ["guest 'vm1'", "nics[0].mac", "multicast"]),
    ({"nics": [{"kind": "tap", "mac": "52:54:00:00:00:01"}, {"kind": "user", "mac": "52:54:00:00:00:01"}]},
     ["guest 'vm1'", "nics[1].mac", "also nics[0]"]),
    ({"nics": [{"kind": "user", "queues": 2}]}, ["nics[0].queues", "a user NIC has no queues", "use kind tap"]),
    ({"nics": [{"kind": "user", "hostfwd": [{"host_port": 70000, "guest_port": 80}]}]},
     ["nics[0].hostfwd[0].host_port", "out of range"]),
    ({"accel": "xen"}, ["guest 'vm1'", "accel", "'xen' is not one of auto, kvm, tcg"]),
    ({"cpu": "max -smp 64"}, ["guest 'vm1'", "cpu", "'max -smp 64' is not a CPU model", "e.g. host, max"]),
    ({"cpu": "host,,-vmx"}, ["guest 'vm1'", "cpu", "is not a CPU model"]),
    ({"cpu": "host,-vmx\n"}, ["guest 'vm1'", "cpu", "control character"]),
    ({"kernel": "/img/nokernel"}, ["guest 'vm1'", "kernel", "does not exist"]),
])
def test_bad_input(kw, words):
    message = err(guest(**kw))
    for word in words:
        assert word in message, message


def test_long_default_ifname_asks_for_one():
    message = err(guest(name="a-very-long-guest", nics=[{"kind": "tap"}]))
    assert "set nics[0].ifname" in message and "a-very-long-guest-n0" in message


@pytest.mark.parametrize("text, words", [
    ("allow br1\n", ["bridge 'vmbr0' is not allowed by /etc/qemu/bridge.conf", "allow it"]),
    ("allow vmbr0\ndeny vmbr0\n", ["deny wins"]),
    ("allow all\ndeny all\n", ["deny wins"]),
    (None, ["is not allowed: /etc/qemu/bridge.conf does not exist", "allow it"]),
    ("bogus line\n", ["unknown command"]),
])
def test_bridge_acl(text, words):
    host = dict(HOST, bridge_checked=True, bridge_conf="/etc/qemu/bridge.conf", bridge_conf_text=text)
    message = err(guest(nics=[{"kind": "bridge", "bridge": "vmbr0"}]), host=host)
    assert "guest 'vm1'" in message and "nics[0].bridge" in message
    for word in words:
        assert word in message, message


def test_bridge_acl_include_and_allowed():
    host = dict(HOST, bridge_checked=True, bridge_conf_text="include /etc/qemu/more.conf\n",
                bridge_includes={"/etc/qemu/more.conf": "allow vmbr0\n"})
    assert plan(guest(nics=[{"kind": "bridge", "bridge": "vmbr0"}]), host=host)[0]["uses_bridge_helper"]


def test_conflicts_across_hosts_name_both_guests():
    a = plan(guest(nics=[{"kind": "tap", "mac": "52:54:00:00:00:01"}]))
    b = plan(guest(name="vm9", nics=[{"kind": "user", "mac": "52:54:00:00:00:01"}]))
    problems = _guestconflicts.conflicts({"h1": a, "h2": b})
    assert len(problems) == 1
    assert "duplicate MAC 52:54:00:00:00:01" in problems[0]
    assert "guest 'vm1' on h1" in problems[0] and "guest 'vm9' on h2" in problems[0]
    # the same derived MAC needs the same guest name: names may repeat on different hosts
    assert _guestconflicts.conflicts({"h1": plan(guest()), "h2": plan(guest())}) == []


def test_same_tap_and_same_hostfwd_port_on_one_host():
    message = err(guest(nics=[{"kind": "tap", "ifname": "t0"}]), guest(name="vm2", nics=[{"kind": "tap", "ifname": "t0"}]))
    assert "guest 'vm2'" in message and "guest 'vm1'" in message and "interface 't0'" in message
    fwd = [{"host_port": 2280, "guest_port": 80}]
    message = err(guest(nics=[{"kind": "user", "hostfwd": fwd}]), guest(name="vm2", nics=[{"kind": "user", "hostfwd": fwd}]))
    assert "both forward tcp port 127.0.0.1:2280" in message and "vm1" in message and "vm2" in message
    wild = [{"host_port": 2280, "guest_port": 80, "host_address": "0.0.0.0"}]
    message = err(guest(nics=[{"kind": "user", "hostfwd": fwd}]), guest(name="vm2", nics=[{"kind": "user", "hostfwd": wild}]))
    assert "both forward" in message
    # udp and tcp on the same port do not clash
    udp = [{"host_port": 2280, "guest_port": 80, "proto": "udp"}]
    plan(guest(nics=[{"kind": "user", "hostfwd": fwd}]), guest(name="vm2", nics=[{"kind": "user", "hostfwd": udp}]))


def test_duplicate_guest_name():
    assert "defined twice" in err(guest(), guest())


# -- each guest its own user (the default) -----------------------------------------------------------------
OWN = dict(HOST, groups={"qemusers": ["x", "990", ""]}, check_mode=False)


@pytest.mark.parametrize("name, user", [
    ("vm1", "hq-vm1"),
    ("web.01", "hq-web.01"),
    ("VM1", "hq-vm1-%s" % __import__("hashlib").sha256(b"VM1").hexdigest()[:8]),
    ("a" * 40, "hq-%s-%s" % ("a" * 19, __import__("hashlib").sha256(b"a" * 40).hexdigest()[:8])),
])
def test_own_user_by_default(name, user):
    g = plan(guest(name=name), host=OWN, settings={})[0]
    assert (g["user"], g["own_user"], g["group"]) == (user, True, "qemusers")
    assert len(user) <= 32 and _guestrender.guest_set([g])[0]["create_user"] is True
    assert "User=%s\n" % user in _guestrender.unit(g)


def test_own_users_never_clash():
    users = [g["user"] for g in plan(guest(name="VM1"), guest(name="vm1"), guest(name="Vm1"), host=OWN, settings={})]
    assert len(set(users)) == 3


def test_a_given_user_is_shared_and_not_created():
    g = plan(guest(user="qemu"), host=OWN, settings={})[0]
    assert g["own_user"] is False and _guestrender.guest_set([g])[0]["create_user"] is False


def test_own_user_needs_the_group():
    with pytest.raises(HostnetError) as info:
        plan(guest(), host=dict(OWN, groups={}), settings={})
    assert str(info.value) == (
        "guest 'vm1': user: its own user 'hq-vm1' would join group 'qemusers', which does not exist on this host;"
        " run the hostnet.qemu.host role first (it creates the group), or set hostnet_guest_group to an existing"
        " group, or give the guest an existing user")
    assert plan(guest(), host=dict(OWN, groups={}, check_mode=True), settings={})[0]["user"] == "hq-vm1"


def test_a_new_own_user_sees_what_the_stand_in_saw():
    new = {"readable": ["/img/i"], "kvm": True, "vhost": False}
    with pytest.raises(HostnetError) as info:
        plan(guest(), host=dict(OWN, readable={}, new_user=new), settings={})
    assert "guest 'vm1': kernel: user 'hq-vm1' cannot read '/img/k'" in str(info.value)
    new["readable"].append("/img/k")
    assert plan(guest(), host=dict(OWN, readable={}, new_user=new), settings={})[0]["accel"] == "kvm"


def test_host_info_is_read_per_user_and_for_the_stand_in():
    info = {"passwd": OWN["users"], "group": OWN["groups"], "links": ["lo", "br0"], "exists": ["/img/k", "/img/i"],
            "access": {"qemu": {"devices": ["/dev/vhost-net"], "readable": ["/img/k", "/img/i"]}},
            "stand_in": {"devices": ["/dev/kvm"], "readable": ["/img/i"]},
            "acl": {"path": "/etc/qemu/bridge.conf", "text": "allow br0\n", "includes": {}}}
    got = _guest.from_info(info, {"ghost": {}})
    assert got == {"users": dict(OWN["users"], ghost={}), "groups": OWN["groups"], "links": ["lo", "br0"],
                   "files": {"/img/k": True, "/img/i": True}, "readable": {"qemu": ["/img/k", "/img/i"]},
                   "kvm_users": [], "vhost_users": ["qemu"],
                   "new_user": {"readable": ["/img/i"], "kvm": True, "vhost": False},
                   "bridge_conf_text": "allow br0\n", "bridge_includes": {}}
    host = dict(check_mode=False, info=info)
    with pytest.raises(HostnetError) as info_err:
        _guest.normalise_all([guest()], {}, host)
    assert "guest 'vm1': kernel: user 'hq-vm1' cannot read '/img/k'" in str(info_err.value)
    assert _guest.normalise_all([guest(user="qemu")], {}, dict(host))[0]["user"] == "qemu"
    with pytest.raises(HostnetError) as info_err:
        _guest.normalise_all([guest(user="qemu", kernel="/img/gone")], {}, dict(host))
    assert "'/img/gone' does not exist" in str(info_err.value)
    assert _guest.from_info(dict(info, stand_in=None, acl=None))["new_user"] is None


def test_nic_mtu_tells_the_guest_and_sets_the_tap():
    host = dict(HOST, bridge_checked=True, bridge_conf_text="allow vmbr0\n")
    g = plan(guest(nics=[{"kind": "tap", "bridge": "vmbr0", "mtu": 1450}, {"kind": "bridge", "bridge": "vmbr0", "mtu": 1450},
                         {"kind": "macvtap", "link": "eth0", "mtu": 1400}, {"kind": "tap"}]), host=host)[0]
    text = " ".join(_guestrender.argv(g))
    assert "-device virtio-net-pci,netdev=net0,mac=%s,id=nic0,host_mtu=1450" % g["nics"][0]["mac"] in text
    assert "id=nic1,host_mtu=1450" in text and "id=nic2,host_mtu=1400" in text
    assert "id=nic3 " in text + " " and "id=nic3,host_mtu" not in text
    devices = dict((d["name"], d) for d in _guestrender.netdevs([g]))
    assert devices["vm1-n0"]["mtu"] == 1450 and devices["vm1-m2"]["mtu"] == 1400 and "mtu" not in devices["vm1-n3"]


@pytest.mark.parametrize("nic, words", [
    ({"kind": "tap", "mtu": 1450, "model": "e1000"},
     ["guest 'vm1'", "nics[0].mtu", "model 'e1000' cannot tell the guest its MTU", "virtio-net-pci"]),
    ({"kind": "user", "mtu": 1450}, ["guest 'vm1'", "nics[0].mtu", "a user NIC has no mtu"]),
    ({"kind": "tap", "mtu": 67}, ["guest 'vm1'", "nics[0].mtu"]),
])
def test_bad_nic_mtu(nic, words):
    message = err(guest(nics=[nic]))
    for word in words:
        assert word in message, message


def test_socket_nics_explicit_group_and_a_tcp_pair():
    guests = plan(guest(name="a", nics=[{"kind": "socket", "address": "230.0.0.1:12345"},
                                        {"kind": "socket", "listen": "127.0.0.1:8081"}]),
                  guest(name="b", nics=[{"kind": "socket", "connect": "127.0.0.1:8081"}]))
    a, b = (" ".join(_guestrender.argv(g)) for g in guests)
    assert "-netdev socket,id=net0,mcast=230.0.0.1:12345,localaddr=127.0.0.1" in a
    assert "-netdev socket,id=net1,listen=127.0.0.1:8081 " in a
    assert "-netdev socket,id=net0,connect=127.0.0.1:8081 " in b
    # the connecting side's unit retries until the listener is up (QEMU exits while nothing listens)
    units = [_guestrender.unit(g) for g in guests]
    assert "StartLimitIntervalSec=0\n" in units[1] and "StartLimitIntervalSec" not in units[0]
    public = plan(guest(nics=[{"kind": "socket", "listen": "192.0.2.7:8081", "public": True}]))[0]
    assert "listen=192.0.2.7:8081" in " ".join(_guestrender.argv(public))


@pytest.mark.parametrize("nic, words", [
    ({"kind": "socket", "listen": "127.0.0.1:8081", "connect": "127.0.0.1:8082"},
     ["guest 'vm1'", "nics[0].connect", "one of network, address, listen or connect", "also has listen"]),
    ({"kind": "socket", "address": "10.1.2.3:5000"},
     ["guest 'vm1'", "nics[0].address", "10.1.2.3 is not a multicast address (224.0.0.0/4)"]),
    ({"kind": "socket", "address": "239.1.2.3"}, ["nics[0].address", "is not ADDRESS:PORT"]),
    ({"kind": "socket", "listen": "0.0.0.0:8081"}, ["nics[0].listen", "0.0.0.0 is not a host address"]),
    ({"kind": "socket", "listen": "192.0.2.7:8081"},
     ["nics[0].listen", "192.0.2.7 is not a loopback address", "set public: true to mean it"]),
    ({"kind": "socket", "connect": "239.1.1.1:80"}, ["nics[0].connect", "239.1.1.1 is not a host address"]),
    ({"kind": "socket", "connect": "127.0.0.1:8081", "localaddr": "127.0.0.1"},
     ["nics[0].localaddr", "a TCP socket NIC has no localaddr"]),
    ({"kind": "socket", "network": "lan", "public": True}, ["nics[0].public", "a multicast socket NIC has no public"]),
    ({"kind": "tap", "listen": "127.0.0.1:8081"}, ["nics[0].listen", "a tap NIC has no listen"]),
])
def test_bad_socket_nics(nic, words):
    message = err(guest(nics=[nic]))
    for word in words:
        assert word in message, message


def test_two_guests_listening_on_one_port_clash():
    message = err(guest(name="a", nics=[{"kind": "socket", "listen": "127.0.0.1:8081"}]),
                  guest(name="b", nics=[{"kind": "socket", "listen": "127.0.0.1:8081"}]))
    assert "both listen on 127.0.0.1:8081" in message and "guest 'a'" in message and "guest 'b'" in message
