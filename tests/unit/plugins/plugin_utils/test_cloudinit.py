# -*- coding: utf-8 -*-
"""The cloud-init seed's text (plugins/plugin_utils/_cloudinit.py), static NIC addresses from the managed networks,
firmware and boot order (_guestfw.py), and how the renderer puts them on QEMU's command line and into the unit."""

import pytest
import yaml

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _cloudinit, _guest, _guestrender

NETWORKS = [
    {"name": "natnet", "kind": "nat", "uplink": "eth0", "address": "10.5.0.1/24", "dhcp": {}, "dns": {"domain": "lab.test"}},
    {"name": "iso", "kind": "isolated", "address": "10.6.0.1/24"},
]
HOST = {"networks": NETWORKS, "files": {"/img/base.qcow2": True, "/dev/vg0/vm1-root": True, "/dev/sdb": True, "/usr/share/OVMF/OVMF_CODE_4M.fd": True,
                                        "/usr/share/OVMF/OVMF_VARS_4M.fd": True, "/usr/bin/swtpm": True}}


def plan(**kw):
    base = {"name": "vm1", "user": "qemu", "disks": [{"path": "/d/vm1.qcow2", "size": "1G"}]}
    base.update(kw)
    return _guest.normalise_all([base], None, dict(HOST))[0]


def seed_files(**kw):
    return plan(cloud_init=kw.pop("cloud_init", {}), **kw)["seed"]["files"]


@pytest.mark.parametrize("value, want", [
    (None, "#cloud-config\n{}\n"),
    ({"users": [{"name": "u"}]}, "#cloud-config\nusers:\n- name: u\n"),
    ("hostname: a\n", "#cloud-config\nhostname: a\n"),
    ("#cloud-config\nhostname: a\n", "#cloud-config\nhostname: a\n"),
    ("#!/bin/sh\necho hi\n", "#!/bin/sh\necho hi\n"),
])
def test_user_data_text(value, want):
    assert _cloudinit.user_data_text("vm1", value) == want


@pytest.mark.parametrize("value, want", [
    ("users: [u\nbroken: {", "guest 'vm1': cloud_init.user_data: not valid YAML (line 2, column 7): expected ',' or"
                             " ']', but got ':'; fix the cloud-config text, or give user_data as a YAML mapping"),
    ("- a\n- b\n", "guest 'vm1': cloud_init.user_data: cloud-config text must be a YAML mapping, not list; write keys"
                   " such as users: or hostname:, or start a script with #!"),
    ("just words", "cloud-config text must be a YAML mapping, not str"),
])
def test_user_data_refused(value, want):
    with pytest.raises(HostnetError) as err:
        plan(cloud_init={"user_data": value})
    assert want in str(err.value)


def test_meta_data_defaults_and_overrides():
    assert yaml.safe_load(seed_files()["meta-data"]) == {"instance-id": "iid-vm1", "local-hostname": "vm1"}
    meta = yaml.safe_load(seed_files(cloud_init={"instance_id": "v2", "hostname": "web"})["meta-data"])
    assert meta == {"instance-id": "v2", "local-hostname": "web"}
    meta = yaml.safe_load(seed_files(cloud_init={"meta_data": {"instance-id": "x", "zone": "a"}})["meta-data"])
    assert meta == {"instance-id": "x", "local-hostname": "vm1", "zone": "a"}


def test_seed_hash_follows_content_only():
    one = plan(cloud_init={"user_data": {"a": 1}})["seed"]
    assert one["path"] == "/var/lib/hostnet-qemu/guests/vm1/seed.iso"
    assert plan(cloud_init={"user_data": {"a": 1}}, memory=1024)["seed"]["hash"] == one["hash"]
    assert plan(cloud_init={"user_data": {"a": 2}})["seed"]["hash"] != one["hash"]
    assert plan()["seed"] is None


def test_network_config_auto_static_dhcp_and_one_default_route():
    nics = [{"kind": "tap", "bridge": "natnet", "address": "10.5.0.10", "mac": "52:54:00:00:00:01"},
            {"kind": "user", "mac": "52:54:00:00:00:02"},
            {"kind": "socket", "network": "seg"},
            {"kind": "tap", "bridge": "natnet", "address": "10.5.0.11/24", "mac": "52:54:00:00:00:04",
             "ifname": "vm1-second"}]
    net = yaml.safe_load(seed_files(nics=nics)["network-config"])
    assert net == {"version": 2, "ethernets": {
        "net0": {"match": {"macaddress": "52:54:00:00:00:01"}, "addresses": ["10.5.0.10/24"],
                 "routes": [{"to": "default", "via": "10.5.0.1"}],
                 "nameservers": {"addresses": ["10.5.0.1"], "search": ["lab.test"]}},
        "net1": {"match": {"macaddress": "52:54:00:00:00:02"}, "dhcp4": True},
        # after a NIC with a default route: its address and DNS, no second default route
        "net3": {"match": {"macaddress": "52:54:00:00:00:04"}, "addresses": ["10.5.0.11/24"],
                 "nameservers": {"addresses": ["10.5.0.1"], "search": ["lab.test"]}}}}


def test_network_config_isolated_unmanaged_none_and_given():
    nics = [{"kind": "tap", "bridge": "iso", "address": "10.6.0.9"},
            {"kind": "tap", "bridge": "mine", "address": "192.0.2.5/25", "ifname": "vm1-x"}]
    eth = yaml.safe_load(seed_files(nics=nics)["network-config"])["ethernets"]
    assert eth["net0"]["addresses"] == ["10.6.0.9/24"] and "routes" not in eth["net0"] and "nameservers" not in eth["net0"]
    assert eth["net1"]["addresses"] == ["192.0.2.5/25"] and set(eth["net1"]) == {"match", "addresses"}
    assert "network-config" not in seed_files(cloud_init={"network_config": "none"})
    given = {"version": 2, "ethernets": {"e": {"dhcp4": True}}}
    assert yaml.safe_load(seed_files(cloud_init={"network_config": given})["network-config"]) == given


@pytest.mark.parametrize("nic, want", [
    ({"kind": "tap", "bridge": "natnet", "address": "10.5.0.1"},
     "guest 'vm1': nics[0].address: 10.5.0.1 is not a free host address of network 'natnet' (10.5.0.0/24: not its"
     " network, broadcast or host address); pick another"),
    ({"kind": "tap", "bridge": "natnet", "address": "10.5.0.255"}, "10.5.0.255 is not a free host address"),
    ({"kind": "tap", "bridge": "natnet", "address": "10.9.0.3"}, "10.9.0.3 is not a free host address"),
    ({"kind": "tap", "bridge": "natnet", "address": "10.5.0.3/16"},
     "guest 'vm1': nics[0].address: prefix /16 differs from network 'natnet' (10.5.0.0/24); leave the prefix out"),
    ({"kind": "tap", "bridge": "mine", "address": "192.0.2.5"},
     "guest 'vm1': nics[0].address: '192.0.2.5' has no prefix, and bridge 'mine' is no network of the"
     " hostnet.qemu.network role that could give it; write ADDRESS/PREFIX"),
    ({"kind": "tap", "bridge": "natnet", "address": "not-an-ip"},
     "guest 'vm1': nics[0].address: 'not-an-ip' is not an IPv4 address; give e.g. 192.168.100.10"),
    ({"kind": "user", "address": "10.5.0.3"}, "guest 'vm1': nics[0].address: a user NIC has no address"),
])
def test_static_address_refused(nic, want):
    with pytest.raises(HostnetError) as err:
        plan(nics=[nic], cloud_init={})
    assert want in str(err.value)


@pytest.mark.parametrize("kw, want", [
    ({"secure_boot": True}, "guest 'vm1': secure_boot: secure boot needs UEFI firmware, and this guest has firmware:"
                            " bios; set firmware: uefi, or drop secure_boot"),
    ({"boot": ["floppy"]}, "guest 'vm1': boot: floppy is not one of disk, cdrom, network; use one of them"),
    ({"boot": ["disk", "disk"]}, "guest 'vm1': boot[1]: disk is listed twice; list each boot device once"),
    ({"boot": ["cdrom"]}, "guest 'vm1': boot: cdrom is listed, and the guest has no cdrom; set cdrom, or drop it from"
                          " boot"),
    ({"boot": ["network"]}, "guest 'vm1': boot: network is listed, and the guest has no NICs"),
    ({"firmware": "uefi", "secure_boot": True},
     "guest 'vm1': firmware: UEFI needs OVMF, and its code '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd' does not exist on"
     " this host; install the ovmf package (hostnet_guest_install_packages: true does), or set"
     " hostnet_guest_ovmf_secure_code to where it is"),
])
def test_firmware_and_boot_refused(kw, want):
    with pytest.raises(HostnetError) as err:
        plan(**kw)
    assert want in str(err.value)


def test_firmware_check_skipped_when_the_role_installs_ovmf():
    guest = _guest.normalise_all([{"name": "vm1", "user": "qemu", "firmware": "uefi", "secure_boot": True}], None,
                                 dict(HOST, installs_firmware=True))[0]
    assert guest["ovmf"] == {"code": "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
                             "template": "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
                             "vars": "/var/lib/hostnet-qemu/guests/vm1/OVMF_VARS.fd"}


def test_render_uefi_boot_order_and_seed():
    guest = plan(firmware="uefi", boot=["disk", "network"], nics=[{"kind": "user"}], cloud_init={})
    argv = _guestrender.argv(guest)
    joined = " ".join(argv)
    assert "-drive if=pflash,format=raw,unit=0,file=/usr/share/OVMF/OVMF_CODE_4M.fd,readonly=on" in joined
    assert "-drive if=pflash,format=raw,unit=1,file=/var/lib/hostnet-qemu/guests/vm1/OVMF_VARS.fd" in joined
    assert "-device virtio-blk-pci,drive=disk0,id=vdisk0,bootindex=0" in joined
    assert "-device virtio-net-pci,netdev=net0,mac=%s,id=nic0,bootindex=1" % guest["nics"][0]["mac"] in joined
    assert "scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0 " in joined and "-boot" not in argv
    assert "-drive file=/var/lib/hostnet-qemu/guests/vm1/seed.iso,format=raw,if=virtio,readonly=on,id=seed0" in joined
    assert "smm=on" not in joined and "cfi.pflash01" not in joined
    unit = _guestrender.unit(guest)
    assert "ReadWritePaths=/var/lib/hostnet-qemu/guests/vm1/OVMF_VARS.fd" in unit.splitlines()
    entry = _guestrender.guest_set([guest])[0]
    assert entry["firmware_vars"] == {"template": "/usr/share/OVMF/OVMF_VARS_4M.fd"}
    assert set(entry["seed"]) == {"files", "hash"}
    assert _guestrender.settings(guest)["firmware"] == "uefi"


def test_render_secure_boot_and_bios():
    secure = _guestrender.argv(_guest.normalise_all(
        [{"name": "vm1", "user": "qemu", "firmware": "uefi", "secure_boot": True}], None, {"installs_firmware": True})[0])
    assert secure[secure.index("-machine") + 1] == "q35,smm=on"
    assert "driver=cfi.pflash01,property=secure,value=on" in secure
    bios = _guestrender.argv(plan())
    assert "-boot" not in bios and not any("pflash" in arg or "seed" in arg for arg in bios)
    assert _guestrender.guest_set([plan()])[0]["firmware_vars"] is None


def test_reservations_join_dhcp_and_dns():
    from ansible_collections.hostnet.qemu.plugins.filter import guest as guest_filter
    nets = [{"name": "lan0", "kind": "isolated", "address": "192.168.100.1/24", "dns": {"domain": "lab.test"},
             "dhcp": {"hosts": [{"mac": "52:54:00:00:00:09", "address": "192.168.100.9", "name": "web1"}]}},
            {"name": "nodhcp", "kind": "isolated", "address": "10.0.0.1/24"}]
    guests = [{"name": "web1", "nics": [{"kind": "tap", "bridge": "lan0", "address": "192.168.100.21", "mac": "52:54:00:00:00:21"}]},
              {"name": "db", "cloud_init": {"hostname": "pg"}, "nics": [
                  {"kind": "tap", "bridge": "lan0", "address": "192.168.100.22", "mac": "52:54:00:00:00:22"},
                  {"kind": "tap", "bridge": "nodhcp", "address": "10.0.0.5", "mac": "52:54:00:00:00:23", "ifname": "db-b"}]},
              {"name": "mine", "nics": [{"kind": "tap", "bridge": "lan0", "address": "192.168.100.9", "mac": "52:54:00:00:00:30"}]},
              {"name": "gone", "state": "absent", "nics": [
                  {"kind": "tap", "bridge": "lan0", "address": "192.168.100.40", "mac": "52:54:00:00:00:40"}]}]
    out = guest_filter.guest_reservations(nets, guests, {"mac_prefix": "52:54:00"})
    assert out[0]["dhcp"]["hosts"] == [
        {"mac": "52:54:00:00:00:09", "address": "192.168.100.9", "name": "web1"},  # declared: kept, wins its address
        {"mac": "52:54:00:00:00:21", "address": "192.168.100.21"},  # the name web1 is taken
        {"mac": "52:54:00:00:00:22", "address": "192.168.100.22", "name": "pg"}]
    assert out[1] == nets[1]  # no DHCP there: nothing to reserve
    assert nets[0]["dhcp"]["hosts"] == [{"mac": "52:54:00:00:00:09", "address": "192.168.100.9", "name": "web1"}]
    bad = [{"name": "x", "memory": "lots"}]
    assert guest_filter.guest_reservations(nets, bad, None) is nets  # the guest role reports it


def test_reservations_keep_the_default_range():
    from ansible_collections.hostnet.qemu.plugins.filter import guest as guest_filter
    nets = [{"name": "lan0", "kind": "isolated", "address": "192.168.100.1/24", "dhcp": {}}]
    guests = [{"name": "web1", "nics": [{"kind": "tap", "bridge": "lan0", "address": "192.168.100.21", "mac": "52:54:00:00:00:21"}]}]
    dhcp = guest_filter.guest_reservations(nets, guests, None)[0]["dhcp"]
    assert dhcp == {"ranges": [{"start": "192.168.100.128", "end": "192.168.100.254"}],
                    "hosts": [{"mac": "52:54:00:00:00:21", "address": "192.168.100.21", "name": "web1"}]}


def test_ports_are_the_taps_on_the_bridge_networks():
    from ansible_collections.hostnet.qemu.plugins.filter import guest as guest_filter
    nets = [{"name": "lan0", "kind": "isolated", "address": "192.168.100.1/24"},
            {"name": "wan", "kind": "nat", "bridge": "hqnat0", "address": "10.5.0.1/24", "uplink": "eth0"},
            {"name": "lan", "kind": "uplink", "bridge": "br-lan", "uplink": "eth1"},
            {"name": "old", "kind": "isolated", "address": "10.9.0.1/24", "state": "absent"}]
    guests = [{"name": "web1", "nics": [{"kind": "tap", "bridge": "lan0", "address": "192.168.100.21", "mac": "52:54:00:00:00:21"},
                                        {"kind": "tap", "bridge": "hqnat0", "mac": "52:54:00:00:00:22"},
                                        {"kind": "tap", "bridge": "br-lan", "mac": "52:54:00:00:00:23"},
                                        {"kind": "tap", "bridge": "old", "mac": "52:54:00:00:00:24"},
                                        {"kind": "bridge", "bridge": "lan0", "mac": "52:54:00:00:00:25"}]},
              {"name": "r1", "nics": [{"kind": "tap", "bridge": "lan0", "trust": True, "mac": "52:54:00:00:00:31"}]},
              {"name": "gone", "state": "absent", "nics": [{"kind": "tap", "bridge": "lan0", "mac": "52:54:00:00:00:41"}]}]
    assert guest_filter.guest_ports(nets, guests, None) == [
        {"ifname": "web1-n0", "mac": "52:54:00:00:00:21", "network": "lan0", "addresses": ["192.168.100.21"],
         "trust": False, "label": "guest 'web1' nics[0]", "hostname": None},  # its name is its reservation's
        {"ifname": "web1-n1", "mac": "52:54:00:00:00:22", "network": "wan", "addresses": [], "trust": False,
         "label": "guest 'web1' nics[1]", "hostname": "web1"},
        {"ifname": "web1-n2", "mac": "52:54:00:00:00:23", "network": "lan", "addresses": [], "trust": False,
         "label": "guest 'web1' nics[2]", "hostname": "web1"},
        {"ifname": "r1-n0", "mac": "52:54:00:00:00:31", "network": "lan0", "addresses": [], "trust": True,
         "label": "guest 'r1' nics[0]", "hostname": "r1"}]
    assert guest_filter.guest_ports(nets, [{"name": "x", "memory": "lots"}], None) == []


def test_helper_nics_on_held_networks_are_named_unless_trusted():
    from ansible_collections.hostnet.qemu.plugins.filter import guest as guest_filter
    nets = [{"name": "lan0", "kind": "isolated", "address": "192.168.100.1/24"},
            {"name": "wan", "kind": "nat", "bridge": "hqnat0", "address": "10.5.0.1/24", "uplink": "eth0"},
            {"name": "old", "kind": "isolated", "address": "10.9.0.1/24", "state": "absent"}]
    plan = _guest.normalise_all([
        {"name": "web1", "nics": [{"kind": "bridge", "bridge": "lan0"}, {"kind": "bridge", "bridge": "hqnat0"},
                                  {"kind": "bridge", "bridge": "old"}, {"kind": "bridge", "bridge": "br-other"},
                                  {"kind": "tap", "bridge": "lan0"}]},
        {"name": "r1", "nics": [{"kind": "bridge", "bridge": "lan0", "trust": True}]},
        {"name": "gone", "state": "absent", "nics": [{"kind": "bridge", "bridge": "lan0"}]}])
    fix = ("is not held to its MAC and addresses (qemu-bridge-helper names its tap only when QEMU starts), so its guest"
           " can send as its neighbours; use kind tap to hold it, or set trust: true if the guest may")
    assert guest_filter.guest_unheld(plan, nets) == [
        "guest 'web1' nics[0]: a helper NIC (kind bridge) on network 'lan0' " + fix,
        "guest 'web1' nics[1]: a helper NIC (kind bridge) on network 'wan' " + fix]
    assert guest_filter.guest_unheld(plan, None) == []


def test_trust_belongs_to_tap_and_helper_nics():
    with pytest.raises(HostnetError) as err:
        plan(nics=[{"kind": "macvtap", "link": "eth0", "trust": True}])
    assert str(err.value).startswith("guest 'vm1': nics[0].trust: a macvtap NIC has no trust; drop it, or use kind tap"
                                     " or bridge")


@pytest.mark.parametrize("kw, want", [
    ({"display": "vnc"}, ["-device", "VGA", "-vnc", "unix:/run/hostnet-qemu/vm1/vnc.sock"]),
    ({"display": "vnc", "video": "virtio", "vnc": {"listen": "127.0.0.1", "port": 5907}},
     ["-device", "virtio-vga", "-vnc", "127.0.0.1:7"]),
    ({"display": "vnc", "vnc": {"listen": "192.0.2.1", "public": True}}, ["-device", "VGA", "-vnc", "192.0.2.1:0"]),
])
def test_vnc(kw, want):
    argv = _guestrender.argv(plan(**kw))
    at = argv.index("-vnc")
    assert argv[at - 2:at + 2] == want
    assert _guestrender.settings(plan(**kw))["display"] == want[-1]


@pytest.mark.parametrize("kw, want", [
    ({"display": "vnc", "vnc": {"listen": "0.0.0.0"}},
     "guest 'vm1': vnc.listen: 0.0.0.0 is not a loopback address, and VNC has no password here: anyone who reaches it"
     " sees and drives the guest's screen; listen on unix (the default) or 127.0.0.1, or set vnc.public: true to mean it"),
    ({"vnc": {"listen": "unix"}}, "guest 'vm1': vnc: set, and display is none; set display: vnc, or drop vnc"),
    ({"display": "vnc", "vnc": {"port": 80}}, "guest 'vm1': vnc.port: 80 is out of range; give 5900 to 65535"),
    ({"display": "vnc", "vnc": {"listen": "localhost"}}, "guest 'vm1': vnc.listen: 'localhost' is not an IPv4 address"),
])
def test_vnc_refused(kw, want):
    with pytest.raises(HostnetError) as err:
        plan(**kw)
    assert want in str(err.value)


def test_no_display_by_default():
    argv = _guestrender.argv(plan())
    assert "-vnc" not in argv and "VGA" not in argv and argv[argv.index("-display") + 1] == "none"


def test_tpm_companion_unit_and_guest_unit():
    guest = plan(tpm=True)
    tpm = _guestrender.tpm_unit(guest)
    assert "PartOf=hostnet-guest-vm1.service" in tpm.splitlines()
    assert ("ExecStart=/usr/bin/swtpm socket --tpm2 --tpmstate dir=/var/lib/hostnet-qemu/guests/vm1/tpm,mode=0600"
            " --ctrl type=unixio,path=/run/hostnet-qemu-tpm/vm1/swtpm.sock,mode=0600 --log level=1") in tpm.splitlines()
    assert "User=qemu" in tpm.splitlines() and "RuntimeDirectory=hostnet-qemu-tpm/vm1" in tpm.splitlines()
    unit = _guestrender.unit(guest).splitlines()
    assert "Requires=hostnet-swtpm-vm1.service" in unit and "After=hostnet-swtpm-vm1.service" in unit
    assert "BindPaths=/run/hostnet-qemu/vm1 /var/log/hostnet-qemu/vm1 /run/hostnet-qemu-tpm/vm1" in unit
    argv = " ".join(_guestrender.argv(guest))
    assert ("-chardev socket,id=chrtpm,path=/run/hostnet-qemu-tpm/vm1/swtpm.sock -tpmdev emulator,id=tpm0,"
            "chardev=chrtpm -device tpm-crb,tpmdev=tpm0") in argv
    assert _guestrender.guest_set([guest])[0]["tpm"] == {"content": tpm}
    assert _guestrender.guest_set([plan()])[0]["tpm"] is None and "swtpm" not in _guestrender.unit(plan())
    # a change of the TPM unit (another swtpm) changes what the guest unit records: the guest restarts with it
    other = _guest.normalise_all([{"name": "vm1", "user": "qemu", "tpm": True}], {"swtpm": "/opt/swtpm"},
                                 {"installs_firmware": True})[0]
    from ansible_collections.hostnet.qemu.plugins.module_utils import _systemd
    assert _systemd.recorded_hash(_guestrender.unit(other)) != _systemd.recorded_hash(_guestrender.unit(guest))


def test_tpm_without_swtpm():
    with pytest.raises(HostnetError) as err:
        _guest.normalise_all(
            [{"name": "vm1", "user": "qemu", "tpm": True}], {"swtpm": "/usr/bin/no-swtpm"}, {"files": {}})
    assert str(err.value) == ("guest 'vm1': tpm: a TPM needs swtpm, and '/usr/bin/no-swtpm' does not exist on this host;"
                              " install the swtpm package (hostnet_guest_install_packages: true does), or set"
                              " hostnet_guest_swtpm to where it is")


def test_boot_order_by_bootindex():
    def joined(**kw):
        return " ".join(_guestrender.argv(plan(**kw)))
    assert "vdisk0,bootindex=0" in joined()  # the first disk by default
    assert "bootindex" not in joined(disks=[])
    cd = joined(boot=["cdrom", "disk"], cdrom="/img/base.qcow2")
    assert "scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0,bootindex=0" in cd and "vdisk0,bootindex=1" in cd
    assert _guestrender.settings(plan(boot=["cdrom", "disk"], cdrom="/img/base.qcow2"))["boot"] == "cdrom, disk"
    with pytest.raises(HostnetError) as err:
        plan(boot=["disk"], disks=[{"path": "/d/x.img", "size": "1G", "interface": "ide"}])
    assert str(err.value) == ("guest 'vm1': boot: disk is listed, and the first disk's interface is ide; boot from a"
                              " virtio disk (the firmware is told its boot index), or drop disk from boot")


def test_block_device_disks_are_allowed_exactly():
    guest = plan(disks=[{"path": "/dev/vg0/vm1-root"}, {"path": "/dev/sdb", "readonly": True},
                        {"path": "/d/vm1.qcow2", "size": "1G"}])
    unit = _guestrender.unit(guest).splitlines()
    assert [line for line in unit if line.startswith("DeviceAllow=")] == [
        "DeviceAllow=/dev/vg0/vm1-root rw", "DeviceAllow=/dev/sdb r"]
