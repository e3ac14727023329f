# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest role's renderers: from a normalised guest (_guest.py) to the QEMU argv, the systemd unit text
and the netdevs device list.

Every composed QEMU option goes through _escape.qemu_opts (a value never ends early or adds a key) and every
word of an Exec line through _escape.exec_arg; plain unit settings through _escape.unit_value/unit_path.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _escape, _systemd
from ansible_collections.hostnet.qemu.plugins.module_utils._escape import qemu_opts, qemu_value


CDROM_DRIVE = "if=none,id=cdrom0,media=cdrom,readonly=on"  # the launcher looks for this -drive (its file= from the unit)


def _device_args(nic, bootindex=None):
    multi = nic["queues"] > 1
    return qemu_opts(nic["model"], ("netdev", nic["id"]), ("mac", nic["mac"]), ("id", "nic%d" % nic["index"]),
                     ("mq", "on" if multi else None), ("vectors", 2 * nic["queues"] + 2 if multi else None),
                     ("host_mtu", nic.get("mtu")), ("bootindex", bootindex))


def _nic_summary(nic):
    where = nic.get("bridge") or nic.get("link") or nic.get("network") or nic.get("listen") or nic.get("connect") or ""
    extra = ["mtu %d" % nic["mtu"]] if nic.get("mtu") else []
    extra += ["%d queues" % nic["queues"]] if nic.get("queues", 1) > 1 else []
    return " ".join([nic["kind"], where, nic["mac"], nic["model"]] + extra).replace("  ", " ")


def settings(guest):
    """What a user changes in a guest's definition and only a restart applies, by field: the unit records it
    (a comment) so a later run can say which fields changed ("memory 512 -> 1024")."""
    return {
        "user": guest["user"], "memory": guest["memory"], "cpus": guest["cpus"], "cpu": guest["cpu"],
        "accel": guest["accel"], "machine": guest["machine"], "kernel": guest["kernel"], "initrd": guest["initrd"],
        "append": guest["append"], "firmware": guest["firmware"] + (
            " (secure boot)" if guest["secure_boot"] else ""),
        "boot": ", ".join(sorted(guest["boot"], key=guest["boot"].get)) or None,
        "seed": guest["seed"]["path"] if guest["seed"] else None, "display": guest["vnc"] or "none",
        "tpm": bool(guest["tpm"]),
        "extra_args": " ".join(guest["extra_args"] or []),
        "disks": ", ".join("%s (%s%s)" % (d["path"], d["interface"], ", readonly" if d["readonly"] else "")
                           for d in guest["disks"]),
        "nics": ", ".join(_nic_summary(n) for n in guest["nics"]),
    }


def nic_args(nic, guest, bootindex=None):
    """-netdev and -device arguments for one normalised NIC."""
    kind = nic["kind"]
    if kind == "user":
        pairs = [("id", nic["id"]), ("restrict", "on" if nic["restrict"] else None)]
        pairs += [("hostfwd", "%s:%s:%d-:%d" % (rule["proto"], rule["host_address"], rule["host_port"],
                                                rule["guest_port"])) for rule in nic["hostfwd"]]
    elif kind == "socket" and nic["mode"] == "tcp":
        pairs = [("id", nic["id"]), ("listen", nic.get("listen")), ("connect", nic.get("connect"))]
    elif kind == "socket":
        pairs = [("id", nic["id"]), ("mcast", "%s:%d" % (nic["group"], nic["port"])), ("localaddr", nic["localaddr"])]
    elif kind == "bridge":
        pairs = [("id", nic["id"]), ("br", nic["bridge"]), ("helper", guest["bridge_helper"])]
    elif kind == "tap":
        pairs = [("id", nic["id"]), ("ifname", nic["ifname"]), ("script", "no"), ("downscript", "no"),
                 ("queues", nic["queues"] if nic["queues"] > 1 else None)]
    else:  # macvtap: the launcher opened /dev/tapN on this fd
        pairs = [("id", nic["id"]), ("fd", nic["fd"])]
    pairs.append(("vhost", "on" if nic.get("vhost") else None))
    return ["-netdev", qemu_opts("tap" if kind == "macvtap" else kind, *pairs), "-device", _device_args(nic, bootindex)]


def argv(guest):
    """The full QEMU command line (a list) for a normalised guest."""
    machine = qemu_opts(guest["machine"], ("smm", "on")) if guest["secure_boot"] else qemu_value(guest["machine"])
    args = [guest["qemu_binary"], "-name", qemu_opts(None, ("guest", guest["name"]), ("debug-threads", "on")),
            "-machine", machine, "-accel", guest["accel"]]
    args += ["-cpu", guest["cpu"]]  # checked by _guestspec.cpu_model: a model and CPU properties only
    args += ["-m", str(guest["memory"]), "-smp", str(guest["cpus"]),
             "-nodefaults", "-no-user-config", "-display", "none",
             # the interactive console (hostnet-qemu console NAME), recorded whether or not someone is attached
             "-chardev", qemu_opts("socket", ("id", "serial0"), ("path", guest["console"]), ("server", "on"),
                                   ("wait", "off"), ("logfile", guest["serial_log"]), ("logappend", "on")),
             "-serial", "chardev:serial0",
             "-qmp", qemu_opts("unix:" + guest["qmp"], ("server", "on"), ("wait", "off"))]
    # No -sandbox with the bridge helper: QEMU's seccomp filter sets no_new_privs (libseccomp's default), so the
    # helper it spawns gains no cap_net_admin from its file capabilities ("failed to create tun device:
    # Operation not permitted", measured with QEMU 7.2). The unit's hardening still applies.
    if not guest["uses_bridge_helper"]:
        args += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    if guest["ovmf"]:
        args += ["-drive", qemu_opts(None, ("if", "pflash"), ("format", "raw"), ("unit", 0),
                                     ("file", guest["ovmf"]["code"]), ("readonly", "on")),
                 "-drive", qemu_opts(None, ("if", "pflash"), ("format", "raw"), ("unit", 1),
                                     ("file", guest["ovmf"]["vars"]))]
        if guest["secure_boot"]:
            args += ["-global", "driver=cfi.pflash01,property=secure,value=on"]
    if guest.get("kernel"):
        args += ["-kernel", guest["kernel"]]
    if guest.get("initrd"):
        args += ["-initrd", guest["initrd"]]
    if guest.get("append"):
        args += ["-append", guest["append"]]
    boot = guest["boot"]
    for i, disk in enumerate(guest["disks"]):
        virtio = disk["interface"] == "virtio"  # its own -device: the firmware is told its boot index
        args += ["-drive", qemu_opts(None, ("file", disk["path"]), ("format", disk["format"]),
                                     ("if", "none" if virtio else disk["interface"]), ("id", "disk%d" % i),
                                     ("readonly", "on" if disk["readonly"] else None), ("cache", disk.get("cache")))]
        if virtio:
            args += ["-device", qemu_opts("virtio-blk-pci", ("drive", "disk%d" % i), ("id", "vdisk%d" % i),
                                          ("bootindex", boot.get("disk") if i == 0 else None))]
    # every guest has a CD-ROM drive, so media can come and go live; the launcher inserts the unit's media at start.
    # On virtio-scsi: every current guest kernel drives it (Debian's cloud kernels have no AHCI for an IDE CD-ROM)
    args += ["-drive", CDROM_DRIVE, "-device", "virtio-scsi-pci,id=scsi0",
             "-device", qemu_opts("scsi-cd", ("drive", "cdrom0"), ("id", "cd0"), ("bus", "scsi0.0"),
                                  ("bootindex", boot.get("cdrom")))]
    if guest["seed"]:  # cloud-init finds it by its label (cidata); it takes no CD-ROM slot
        args += ["-drive", qemu_opts(None, ("file", guest["seed"]["path"]), ("format", "raw"), ("if", "virtio"),
                                     ("readonly", "on"), ("id", "seed0"))]
    if guest["vnc"]:
        args += ["-device", guest["video"], "-vnc", guest["vnc"]]
    if guest["tpm"]:
        args += ["-chardev", qemu_opts("socket", ("id", "chrtpm"), ("path", guest["tpm"]["socket"])),
                 "-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-crb,tpmdev=tpm0"]
    if guest["guest_agent"]:  # qemu-guest-agent's channel (guest_info asks it for the guest's addresses)
        args += ["-device", "virtio-serial-pci,id=vser0",
                 "-chardev", qemu_opts("socket", ("id", "qga0"), ("path", guest["guest_agent"]), ("server", "on"),
                                       ("wait", "off")),
                 "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0"]
    for nic in guest["nics"]:
        args += nic_args(nic, guest, boot.get("network") if nic["index"] == 0 else None)
    return args + guest["extra_args"]


def _exec_line(key, args):
    """An Exec*= line; the QEMU part (after '--') folded one option per line, so `systemctl cat` shows the
    whole command readably."""
    cut = args.index("--") + 2 if "--" in args else len(args)
    lines, current = [], [_escape.exec_arg(a) for a in args[:cut]]
    for arg in args[cut:]:
        if arg.startswith("-"):
            lines.append(" ".join(current))
            current = []
        current.append(_escape.exec_arg(arg))
    lines.append(" ".join(current))
    return "%s=%s" % (key, " \\\n    ".join(lines))


# systemd options that imply NoNewPrivileges=yes in a unit with User= (measured with systemd 252 through
# /proc/self/status NoNewPrivs; the last three as systemd.exec(5) says); a bridge-helper guest cannot have them
_IMPLY_NO_NEW_PRIVS = frozenset((
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock", "ProtectHostname",
    "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "SystemCallArchitectures",
    "RestrictAddressFamilies", "SystemCallFilter", "MemoryDenyWriteExecute", "PrivateDevices"))


def devices_allowed(guest):
    # disks that are block devices (an LVM volume, a raw disk): exactly those, read-only when the disk is
    allow = ["%s %s" % (_escape.unit_path(d["path"], "guest '%s': disk" % guest["name"]), "r" if d["readonly"] else "rw")
             for d in guest["disks"] if d["path"].startswith("/dev/")]
    if guest["accel"] == "kvm":
        allow.append("/dev/kvm rw")
    kinds = set(n["kind"] for n in guest["nics"])
    if kinds & {"tap", "bridge"}:
        allow.append("/dev/net/tun rw")
    if any(n.get("vhost") for n in guest["nics"]):
        allow.append("/dev/vhost-net rw")
    if "macvtap" in kinds:
        allow.append("char-macvtap rw")
    return allow


def unit(guest):
    """The systemd unit text for a normalised guest (started/stopped)."""
    launch = [guest["python"], guest["launcher"], "launch"]
    for nic in guest["nics"]:
        if nic["kind"] == "macvtap":
            launch += ["--fd", "%d=%s" % (nic["fd"], nic["ifname"])]
        elif nic.get("connect"):
            launch += ["--wait-for", nic["connect"]]
    if guest["tpm"]:
        launch += ["--wait-for", guest["tpm"]["socket"]]
    launch += ["--"] + argv(guest)
    stop = [guest["python"], guest["launcher"], "stop", "--timeout", str(guest["stop_timeout"]), guest["qmp"]]
    rw = [d["path"] for d in guest["disks"] if not d["readonly"]] + ([guest["ovmf"]["vars"]] if guest["ovmf"] else [])
    run, logs = os.path.dirname(guest["qmp"]), os.path.dirname(guest["serial_log"])
    what = "guest '%s'" % guest["name"]
    helper = guest["uses_bridge_helper"]
    tpm_dirs = [os.path.dirname(guest["tpm"]["socket"])] if guest["tpm"] else []
    lines = [
        "# Managed by the hostnet.qemu.guest role; changes here are overwritten.",
        "[Unit]",
        "Description=QEMU guest %s (hostnet.qemu)" % _escape.unit_value(guest["name"]),
        "# the collection's networks (bridges, NAT, filters) are re-applied at boot before any guest starts;",
        "# Wants= of a unit that is not installed (no network role) is ignored by systemd",
        "Wants=hostnet-qemu-network.service",
        "After=network.target hostnet-qemu-network.service",
    ]
    if guest["tpm"]:
        lines += ["# its TPM (swtpm), which stops and restarts with it", "Requires=%s" % guest["tpm"]["unit"],
                  "After=%s" % guest["tpm"]["unit"]]
    if any(nic.get("connect") for nic in guest["nics"]):
        lines += ["# a TCP socket NIC connects to a QEMU that may start later: the launcher waits for it to listen,",
                  "# gives up after a minute, and systemd starts it again for as long as that takes (no start limit)",
                  "StartLimitIntervalSec=0"]
    lines += [
        "",
        "[Service]",
        "Type=simple",
        "# the guest's settings by field (what a restart would be for is named from them)",
        _systemd.settings_line(settings(guest)),
    ]
    if guest["tpm"]:  # a changed TPM unit restarts the guest (and with it, PartOf=, the TPM)
        lines.append("Environment=HOSTNET_QEMU_TPM=%s" % _systemd.config_hash(tpm_unit(guest)))
    if guest.get("cdrom"):
        lines += ["# the CD-ROM's media (base64): a change is applied live, without a restart",
                  _systemd.cdrom_line(guest["cdrom"])]
    lines += [
        "User=%s" % _escape.unit_value(guest["user"]),
        _exec_line("ExecStart", launch),
        "# graceful stop: ACPI power button through QMP, then wait for QEMU to exit by itself;",
        "# systemd sends SIGTERM only when it has not within the stop timeout",
        _exec_line("ExecStop", stop),
        "TimeoutStopSec=%d" % (guest["stop_timeout"] + 15),
        "Restart=on-failure",
        "RestartSec=2",
        "RuntimeDirectory=hostnet-qemu/%s" % guest["name"],
        "RuntimeDirectoryMode=0750",
        "LogsDirectory=hostnet-qemu/%s" % guest["name"],
        "LogsDirectoryMode=0750",
        "UMask=0077",
        "# other guests' QMP sockets and serial logs are not even visible: only this guest's own directories",
        "TemporaryFileSystem=%s" % " ".join("%s:ro" % _escape.unit_path(os.path.dirname(path), what) for path in
                                            [run, logs] + tpm_dirs),
        "BindPaths=%s" % " ".join(_escape.unit_path(path, what) for path in [run, logs] + tpm_dirs),
        "# hardening (no MemoryDenyWriteExecute: TCG generates code at run time)",
        "NoNewPrivileges=%s" % ("no" if helper else "yes"),
        "CapabilityBoundingSet=%s" % ("CAP_NET_ADMIN" if helper else ""),
        "AmbientCapabilities=",
        "ProtectSystem=strict",
    ]
    lines += ["ReadWritePaths=%s" % _escape.unit_path(path, "guest '%s': disk" % guest["name"]) for path in rw]
    lines += [
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "DevicePolicy=closed",
    ]
    lines += ["DeviceAllow=%s" % entry for entry in devices_allowed(guest)]
    hardening = [
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "KeyringMode=private",
        "SystemCallArchitectures=native",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    ]
    if helper:
        lines.append("# no ProtectKernel*, ProtectClock, ProtectHostname, Restrict*, LockPersonality or SystemCallArchitectures:")
        lines.append("# each makes systemd set no_new_privs for a User= unit, which voids the bridge helper's file capability")
        hardening = [line for line in hardening if line.partition("=")[0] not in _IMPLY_NO_NEW_PRIVS]
    lines += hardening + [
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    # the hash of this text, inherited by the running QEMU: the guests module restarts an instance that runs
    # another configuration (a run that stopped between writing the unit and restarting the guest)
    return _systemd.with_config_hash("\n".join(lines))


def tpm_unit(guest):
    """The companion unit that runs the guest's TPM (swtpm) as the guest's user."""
    tpm, what = guest["tpm"], "guest '%s': tpm" % guest["name"]
    run = os.path.dirname(tpm["socket"])
    start = [tpm["swtpm"], "socket", "--tpm2", "--tpmstate", "dir=%s,mode=0600" % tpm["state"],
             "--ctrl", "type=unixio,path=%s,mode=0600" % tpm["socket"], "--log", "level=1"]
    lines = [
        "# Managed by the hostnet.qemu.guest role; changes here are overwritten.",
        "[Unit]",
        "Description=TPM 2.0 of QEMU guest %s (swtpm, hostnet.qemu)" % _escape.unit_value(guest["name"]),
        "PartOf=%s" % guest["unit"],
        "",
        "[Service]",
        "Type=simple",
        "User=%s" % _escape.unit_value(guest["user"]),
        _exec_line("ExecStart", start),
        "RuntimeDirectory=%s" % os.path.relpath(run, "/run"),
        "RuntimeDirectoryMode=0750",
        "UMask=0077",
        "ProtectSystem=strict",
        "ReadWritePaths=%s" % _escape.unit_path(tpm["state"], what),
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateNetwork=yes",
        "PrivateDevices=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_UNIX",
        "",
    ]
    return "\n".join(lines)


def guest_set(guests):
    """The guests module's `guests`: per guest its unit text (present ones), state and disks."""
    out = []
    for guest in guests:
        entry = {"name": guest["name"], "unit": guest["unit"], "state": guest["state"], "enabled": guest["enabled"],
                 "user": guest["user"], "remove_disks": guest["remove_disks"],
                 "create_user": guest["own_user"], "group": guest["group"], "cdrom": guest.get("cdrom"),
                 "qmp": guest["qmp"], "fetch": guest["fetch"],
                 "tpm": None,
                 "seed": guest["seed"] and {"files": guest["seed"]["files"], "hash": guest["seed"]["hash"]},
                 "firmware_vars": guest["ovmf"] and {"template": guest["ovmf"]["template"]},
                 "disks": [dict((k, d[k]) for k in ("path", "create", "size", "backing", "backing_format") if d.get(k))
                           for d in guest["disks"]]}
        if guest["state"] != "absent":
            entry["content"] = unit(guest)
            if guest["tpm"]:
                entry["tpm"] = {"content": tpm_unit(guest)}
        out.append(entry)
    return out


def netdevs(guests):
    """The devices for ONE hostnet.qemu.netdevs call covering every guest of the host."""
    devices = []
    for guest in guests:
        for nic in guest["nics"]:
            if nic["kind"] == "tap":
                if guest["state"] == "absent":
                    devices.append({"kind": "tap", "name": nic["ifname"], "state": "absent"})
                    continue
                dev = {"kind": "tap", "name": nic["ifname"], "owner": guest["user"],
                       "multi_queue": nic["queues"] > 1}
                if nic["bridge"]:
                    dev["master"] = nic["bridge"]
                if nic.get("mtu"):
                    dev["mtu"] = nic["mtu"]
                dev.update(nic.get("vlan_options") or {})
                devices.append(dev)
            elif nic["kind"] == "macvtap":
                if guest["state"] == "absent":
                    devices.append({"kind": "macvtap", "name": nic["ifname"], "state": "absent"})
                    continue
                devices.append(dict({"kind": "macvtap", "name": nic["ifname"], "link": nic["link"], "mode": nic["mode"],
                                     "mac": nic["mac"], "device_owner": guest["user"], "device_mode": "0600"},
                                    **({"mtu": nic["mtu"]} if nic.get("mtu") else {})))
    return devices
