# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest schema: one nested argument spec for a guest and one for the role's defaults (settings).

Validated by _argspec (Ansible's ArgumentSpecValidator plus strict types and the value validators of
_validate). roles/guest/meta/argument_specs.yml documents the same fields;
tests/unit/plugins/module_utils/test_guestspec.py fails when the two disagree on a name, type, default, choice or
required flag.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

NIC_KINDS = ["user", "socket", "bridge", "tap", "macvtap"]
STATES = ["started", "stopped", "absent"]
ACCELS = ["auto", "kvm", "tcg"]
IMAGE_FORMATS = ["qcow2", "raw", "vmdk", "vdi", "vhdx", "qed"]
DISK_INTERFACES = ["virtio", "ide", "scsi", "sd", "none"]
DISK_CACHES = ["none", "writeback", "writethrough", "directsync", "unsafe"]
MACVTAP_MODES = ["bridge", "vepa", "private", "passthru"]
FIRMWARES = ["bios", "uefi"]
BOOT_DEVICES = ["disk", "cdrom", "network"]
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
POSIX_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}\$?\Z")
_SIZE = re.compile(r"[0-9]+[KMGT]?\Z")
_CPU = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(,[+-]?[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(=[A-Za-z0-9_.-]{1,64})?)*\Z")


def _token(value, what):
    """A QEMU device model or similar identifier."""
    if not _TOKEN.match(value):
        raise HostnetError("%s: %r is not a valid name; use letters, digits, '_', '.' and '-'" % (what, value))
    return value


def cpu_model(value, what):
    """QEMU's -cpu value: a model, then optional features (-hle, +pdpe1gb, pmu=off), comma-separated. Only CPU
    properties can follow the commas, so the value is passed to QEMU as it is, not escaped."""
    if not _CPU.match(value):
        raise HostnetError("%s: %r is not a CPU model; write a model and optional comma-separated features, e.g. "
                           "host, max or Haswell,-hle,pmu=off" % (what, value))
    return value


def own_user(guest_name):
    """The user a guest runs as by default: its own, `hq-NAME` (a guest name that is no valid user name as it
    is, or too long, is lower-cased, has other characters replaced and gets a short hash, so names never clash)."""
    plain = "hq-" + guest_name
    if POSIX_NAME.match(plain) and len(plain) <= 32:
        return plain
    safe = re.sub(r"[^a-z0-9_-]", "-", guest_name.lower())[:19]
    return "hq-%s-%s" % (safe, hashlib.sha256(guest_name.encode("utf-8")).hexdigest()[:8])


def user_name(value, what):
    """An unprivileged POSIX user name (what useradd accepts); root is never a guest's user."""
    if not POSIX_NAME.match(value):
        raise HostnetError("%s: %r is not a valid user name; use lower-case letters, digits, '_', '.' and '-', "
                           "starting with a letter or '_', at most 32 characters" % (what, value))
    if value == "root":
        raise HostnetError("%s: QEMU guests never run as root; give an unprivileged user" % what)
    return value


def _size(value, what):
    if not _SIZE.match(value):
        raise HostnetError("%s: %r is not a size; write e.g. 10G, 512M or a byte count" % (what, value))
    return value


def _ipv4(value, what):
    try:
        if not _validate.literal(value):
            raise ValueError(value)
        return str(_validate.netaddr.IPAddress(value, 4))
    except Exception:  # pylint: disable=broad-except
        raise HostnetError("%s: '%s' is not an IPv4 address; give an IPv4 address such as 127.0.0.1 (QEMU's "
                           "user and socket networks are IPv4 only)" % (what, value))


def _vnc_listen(value, what):
    """`unix` (the guest's own socket) or an IPv4 address to listen on."""
    return value if value == "unix" else _ipv4(value, what)


def endpoint(value, what, multicast=None):
    """'IPv4:port' of a socket NIC -> (address, port). multicast True: the address must be a multicast group;
    False: a unicast host address (a TCP socket's)."""
    host, sep, port = str(value).rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        example = "239.1.2.3:12345" if multicast else "127.0.0.1:8081"
        raise HostnetError("%s: '%s' is not ADDRESS:PORT; give e.g. %s" % (what, value, example))
    address = _ipv4(host, what)
    is_multicast = _validate.netaddr.IPAddress(address).is_multicast()
    if multicast and not is_multicast:
        raise HostnetError("%s: %s is not a multicast address (224.0.0.0/4); give a group such as 239.1.2.3 (an"
                           " administratively scoped one stays on this site)" % (what, address))
    if multicast is False and (is_multicast or address in ("0.0.0.0", "255.255.255.255")):
        raise HostnetError("%s: %s is not a host address; give the address to %s, e.g. 127.0.0.1"
                           % (what, address, "listen on" if "listen" in what else "connect to"))
    return address, int(port)


def _range(low, high, unit=""):
    def check(value, what):
        if not low <= value <= high:
            raise HostnetError("%s: %d is out of range; give %d to %d%s" % (what, value, low, high, unit))
        return value
    return check


MEMORY = _range(16, 16 * 1024 * 1024, " MiB")
CPUS = _range(1, 288)
STOP_TIMEOUT = _range(1, 3600, " seconds")
LOG_MAX = _range(4096, 1 << 40, " bytes")

HOSTFWD = dict(
    proto=dict(type="str", default="tcp", choices=["tcp", "udp"]),
    host_address=dict(type="str", default="127.0.0.1", check=_ipv4),
    host_port=dict(type="int", required=True, check=_range(1, 65535)),
    guest_port=dict(type="int", required=True, check=_range(1, 65535)),
)

NIC = dict(
    kind=dict(type="str", required=True, choices=NIC_KINDS),
    mac=dict(type="str"),
    model=dict(type="str", default="virtio-net-pci", check=_token),
    hostfwd=dict(type="list", elements="dict", options=HOSTFWD),
    restrict=dict(type="bool", default=False),
    network=dict(type="str", check=_validate.object_name),
    address=dict(type="str"),
    listen=dict(type="str"),
    connect=dict(type="str"),
    public=dict(type="bool", default=False),
    localaddr=dict(type="str", check=_ipv4),
    bridge=dict(type="str", check=_validate.ifname),
    ifname=dict(type="str", check=_validate.ifname),
    queues=dict(type="int", default=1, check=_range(1, 64)),
    mtu=dict(type="int", check=_range(68, 65535, " bytes")),
    vhost=dict(type="bool"),
    link=dict(type="str", check=_validate.ifname),
    mode=dict(type="str", default="bridge", choices=MACVTAP_MODES),
    trust=dict(type="bool", default=False),
    vlan=dict(type="int"),
    vlans=dict(type="list", elements="int"),
    native=dict(type="int"),
)

_CHECKSUM = re.compile(r"(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\Z")
_URL = re.compile(r"(https?|ftp)://[^\s/]+/\S*[^/\s]\Z")


def checksum(value, what):
    if not _CHECKSUM.match(value):
        raise HostnetError("%s: %r is not a checksum; write sha256:<64 hex digits> (or sha512:<128>), lower case, as"
                           " sha256sum prints it" % (what, value))
    return value


def url(value, what):
    if not _URL.match(value):
        raise HostnetError("%s: %r is not an http, https or ftp URL of a file; give e.g. "
                           "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2"
                           % (what, value))
    return value


IMAGE = dict(
    path=dict(type="str", check=_validate.abspath),
    url=dict(type="str", check=url),
    checksum=dict(type="str", check=checksum),
    format=dict(type="str", default="qcow2", choices=IMAGE_FORMATS),
    size=dict(type="str", check=_size),
    disk=dict(type="str", check=_validate.abspath),
    interface=dict(type="str", default="virtio", choices=DISK_INTERFACES),
)

VNC = dict(
    listen=dict(type="str", default="unix", check=_vnc_listen),
    port=dict(type="int", default=5900, check=_range(5900, 65535)),
    public=dict(type="bool", default=False),
)

CLOUD_INIT = dict(
    user_data=dict(type="raw", multiline=True),  # a mapping, or text (checked by plugin_utils/_cloudinit.py)
    meta_data=dict(type="dict"),
    network_config=dict(type="raw", default="auto"),
    instance_id=dict(type="str", check=_token),
    hostname=dict(type="str", check=_validate.object_name),
)

DISK = dict(
    path=dict(type="str", required=True, check=_validate.abspath),
    size=dict(type="str", check=_size),
    backing=dict(type="str", check=_validate.abspath),
    backing_format=dict(type="str", default="qcow2", choices=IMAGE_FORMATS),
    format=dict(type="str", choices=IMAGE_FORMATS),
    interface=dict(type="str", default="virtio", choices=DISK_INTERFACES),
    readonly=dict(type="bool", default=False),
    cache=dict(type="str", choices=DISK_CACHES),
)

GUEST = dict(
    name=dict(type="str", required=True, check=_validate.object_name),
    state=dict(type="str", default="started", choices=STATES),
    enabled=dict(type="bool", default=True),
    user=dict(type="str", check=user_name),
    memory=dict(type="int", check=MEMORY),
    cpus=dict(type="int", check=CPUS),
    machine=dict(type="str"),
    cpu=dict(type="str", check=cpu_model),
    accel=dict(type="str", choices=ACCELS),
    kernel=dict(type="str", check=_validate.abspath),
    initrd=dict(type="str", check=_validate.abspath),
    append=dict(type="str", check=_validate.cmdline),
    cdrom=dict(type="str", check=_validate.abspath),
    firmware=dict(type="str", default="bios", choices=FIRMWARES),
    secure_boot=dict(type="bool", default=False),
    boot=dict(type="list", elements="str", choices=BOOT_DEVICES),
    cloud_init=dict(type="dict", options=CLOUD_INIT),
    guest_agent=dict(type="bool", default=True),
    tpm=dict(type="bool", default=False),
    display=dict(type="str", default="none", choices=["none", "vnc"]),
    vnc=dict(type="dict", options=VNC),
    video=dict(type="str", default="vga", choices=["vga", "virtio"]),
    stop_timeout=dict(type="int", check=STOP_TIMEOUT),
    remove_disks=dict(type="bool", default=False),
    extra_args=dict(type="list", elements="str"),
    image=dict(type="dict", options=IMAGE),
    disks=dict(type="list", elements="dict", options=DISK),
    nics=dict(type="list", elements="dict", options=NIC),
)

# The role's defaults for every guest (hostnet_guest_* without the prefix), and the paths the role owns.
SETTINGS = dict(
    user=dict(type="str", check=user_name),  # unset: each guest its own user (own_user)
    group=dict(type="str", default="qemusers", check=user_name),
    accel=dict(type="str", default="auto", choices=ACCELS),
    machine=dict(type="str", default="q35"),
    memory=dict(type="int", default=512, check=MEMORY),
    cpus=dict(type="int", default=1, check=CPUS),
    stop_timeout=dict(type="int", default=60, check=STOP_TIMEOUT),
    serial_log_max=dict(type="int", default=1048576, check=LOG_MAX),
    mac_prefix=dict(type="str", default="52:54:00"),
    qemu_binary=dict(type="str", default="/usr/bin/qemu-system-x86_64", check=_validate.abspath),
    bridge_helper=dict(type="str", default="/usr/lib/qemu/qemu-bridge-helper", check=_validate.abspath),
    launcher=dict(type="str", default="/usr/local/libexec/hostnet-qemu-guest", check=_validate.abspath),
    python=dict(type="str", default="/usr/bin/python3", check=_validate.abspath),
    run_dir=dict(type="str", default="/run/hostnet-qemu", check=_validate.abspath),
    log_dir=dict(type="str", default="/var/log/hostnet-qemu", check=_validate.abspath),
    socket_localaddr=dict(type="str", default="127.0.0.1", check=_ipv4),
    state_dir=dict(type="str", default="/var/lib/hostnet-qemu/guests", check=_validate.abspath),
    image_dir=dict(type="str", default="/var/lib/hostnet-qemu/images", check=_validate.abspath),
    disk_dir=dict(type="str", default="/var/lib/hostnet-qemu/disks", check=_validate.abspath),
    swtpm=dict(type="str", default="/usr/bin/swtpm", check=_validate.abspath),
    ovmf_code=dict(type="str", default="/usr/share/OVMF/OVMF_CODE_4M.fd", check=_validate.abspath),
    ovmf_vars=dict(type="str", default="/usr/share/OVMF/OVMF_VARS_4M.fd", check=_validate.abspath),
    ovmf_secure_code=dict(type="str", default="/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", check=_validate.abspath),
    ovmf_secure_vars=dict(type="str", default="/usr/share/OVMF/OVMF_VARS_4M.ms.fd", check=_validate.abspath),
)
