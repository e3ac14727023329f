# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest role's pure logic: validate and normalise guest definitions, detect conflicts between guests,
build the QEMU argv, the systemd unit text and the netdevs device list.

Nothing here touches the host. What the role learnt about the host (users, links, files, the bridge helper's
ACL, which users may open /dev/kvm and /dev/vhost-net) comes in as a plain dict, so every rule is unit-tested
(tests/unit/test_guest_*.py) without a kernel, QEMU or systemd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

from ansible_collections.hostnet.qemu.plugins.module_utils import _bridgeconf, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

NIC_KINDS = ("user", "socket", "bridge", "tap", "macvtap")
STATES = ("started", "stopped", "absent")
ACCELS = ("auto", "kvm", "tcg")
MEMORY_RANGE = (16, 16 * 1024 * 1024)  # MiB
CPUS_RANGE = (1, 288)
QUEUES_RANGE = (1, 64)
VIRTIO_MODELS = ("virtio-net-pci", "virtio-net-pci-non-transitional", "virtio-net-pci-transitional", "virtio-net")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SAFE_ARG = re.compile(r"^[A-Za-z0-9_@+=:,./-]+$")

DEFAULTS = {
    "user": "qemu",
    "memory": 512,
    "cpus": 1,
    "machine": "q35",
    "accel": "auto",
    "state": "started",
    "enabled": True,
    "stop_timeout": 60,
    "mac_prefix": "52:54:00",
    "qemu_binary": "/usr/bin/qemu-system-x86_64",
    "bridge_helper": "/usr/lib/qemu/qemu-bridge-helper",
    "launcher": "/usr/local/libexec/hostnet-qemu-guest",
    "python": "/usr/bin/python3",
    "run_dir": "/run/hostnet-qemu",
    "log_dir": "/var/log/hostnet-qemu",
    "socket_localaddr": "127.0.0.1",
}


def unit_name(name):
    return "hostnet-guest-%s.service" % name


def _fail(guest, field, problem, fix):
    raise HostnetError("guest '%s': %s: %s; %s" % (guest, field, problem, fix))


def _int_in(guest, field, value, bounds, unit=""):
    try:
        number = int(value)
        if isinstance(value, bool) or str(number) != str(value).strip():
            raise ValueError
    except (TypeError, ValueError):
        _fail(guest, field, "%r is not a whole number" % (value,), "give an integer%s" % unit)
    if not bounds[0] <= number <= bounds[1]:
        _fail(guest, field, "%d is out of range" % number, "give %d to %d%s" % (bounds[0], bounds[1], unit))
    return number


def _pick(raw, key, settings):
    return settings[key] if raw.get(key) is None else raw[key]


def _abs_path(guest, field, value):
    if not isinstance(value, str) or not value.startswith("/") or "\n" in value:
        _fail(guest, field, "%r is not an absolute path" % (value,), "give a path starting with '/'")
    return value


def _opt(value):
    """A QEMU option value: commas are doubled (QEMU's escape)."""
    return str(value).replace(",", ",,")


def socket_endpoint(network):
    """A deterministic multicast group:port for a socket network name (distinct names, distinct endpoints
    unless the 26-bit hash collides; guest_conflicts() reports a collision by name)."""
    digest = hashlib.sha256(network.encode("utf-8")).digest()
    return "239.255.%d.%d" % (digest[0], digest[1]), 20000 + ((digest[2] << 8 | digest[3]) % 10000)


def _host_users(host):
    return host.get("users") or {}


def _uid(entry):
    """uid from a getent_passwd entry ([password, uid, gid, ...]) or a {uid: N} dict; None when unknown."""
    try:
        if isinstance(entry, dict):
            return int(entry["uid"])
        return int(entry[1])
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def bridge_acl(text, includes=None, path="bridge.conf"):
    """The bridge helper's effective ACL from the file's text (None: missing) and {include path: text}."""
    if text is None:
        return {"allowed_bridges": [], "all_bridges_allowed": False, "deny": [], "deny_all": False,
                "missing": True, "problems": []}
    includes = includes or {}
    rules, problems = _bridgeconf.parse_rules(text.splitlines(), path)
    acl = _bridgeconf.effective_acl(rules, read_include=includes.get)
    acl["problems"] = problems
    return acl


def _normalise_hostfwd(guest, where, rule):
    if not isinstance(rule, dict):
        _fail(guest, where, "%r is not a mapping" % (rule,), "write {proto: tcp, host_port: 2222, guest_port: 22}")
    proto = rule.get("proto") or "tcp"
    if proto not in ("tcp", "udp"):
        _fail(guest, where + ".proto", "'%s' is not tcp or udp" % proto, "use tcp or udp")
    host_address = rule.get("host_address") or "127.0.0.1"
    try:
        host_address = str(_validate.netaddr.IPAddress(host_address, 4))
    except Exception:  # pylint: disable=broad-except
        _fail(guest, where + ".host_address", "'%s' is not an IPv4 address" % host_address,
              "give an IPv4 address such as 127.0.0.1 (QEMU's user network forwards IPv4 only)")
    host_port = _int_in(guest, where + ".host_port", rule.get("host_port"), (1, 65535))
    guest_port = _int_in(guest, where + ".guest_port", rule.get("guest_port"), (1, 65535))
    return {"proto": proto, "host_address": host_address, "host_port": host_port, "guest_port": guest_port}


def _normalise_nic(raw, index, guest, settings, host, user, accel, strict):
    where = "nics[%d]" % index
    if not isinstance(raw, dict):
        _fail(guest, where, "%r is not a mapping" % (raw,), "give a mapping with at least 'kind'")
    kind = raw.get("kind")
    if kind not in NIC_KINDS:
        _fail(guest, where + ".kind", "unknown nic kind %r" % (kind,), "use one of %s" % ", ".join(NIC_KINDS))
    nic = {"kind": kind, "index": index, "id": "net%d" % index, "model": raw.get("model") or "virtio-net-pci"}
    if raw.get("mac"):
        nic["mac"] = _validate.mac(raw["mac"], what="guest '%s': %s.mac" % (guest, where))
    else:
        nic["mac"] = _validate.derive_mac("%s/%d" % (guest, index), settings["mac_prefix"])
    queues = _int_in(guest, where + ".queues", 1 if raw.get("queues") is None else raw["queues"], QUEUES_RANGE)
    if queues > 1 and kind != "tap":
        _fail(guest, where + ".queues", "multi-queue is only supported on kind tap", "drop queues or use kind tap")
    if queues > 1 and nic["model"] not in VIRTIO_MODELS:
        _fail(guest, where + ".queues", "model '%s' has no multi-queue" % nic["model"], "use model virtio-net-pci")
    nic["queues"] = queues
    if kind == "user":
        nic["restrict"] = bool(raw.get("restrict", False))
        nic["hostfwd"] = [_normalise_hostfwd(guest, "%s.hostfwd[%d]" % (where, i), r)
                          for i, r in enumerate(raw.get("hostfwd") or [])]
    elif kind == "socket":
        network = raw.get("network")
        if not network or not isinstance(network, str) or not _NAME_RE.match(network):
            _fail(guest, where + ".network", "%r is not a network name" % (network,),
                  "name the socket network (letters, digits, '_', '.', '-'); guests with the same name share it")
        nic["network"] = network
        nic["group"], nic["port"] = socket_endpoint(network)
        nic["localaddr"] = raw.get("localaddr") or settings["socket_localaddr"]
    elif kind == "bridge":
        bridge = raw.get("bridge")
        if not bridge:
            _fail(guest, where + ".bridge", "missing", "name the bridge qemu-bridge-helper attaches the guest to")
        nic["bridge"] = _validate.ifname(bridge, what="guest '%s': %s.bridge" % (guest, where))
        acl = host.get("bridge_acl")
        if strict and acl is not None:
            conf = host.get("bridge_conf", "bridge.conf")
            if acl.get("missing"):
                _fail(guest, where + ".bridge", "bridge '%s' is not allowed: %s does not exist, so qemu-bridge-helper "
                      "allows no bridge" % (nic["bridge"], conf),
                      "allow it with the hostnet.qemu.host role (or hostnet.qemu.bridge_helper allow: [%s]) or use "
                      "kind tap" % nic["bridge"])
            if acl.get("problems"):
                _fail(guest, where + ".bridge", "the bridge helper refuses %s: %s" % (
                    host.get("bridge_conf", "bridge.conf"), "; ".join(acl["problems"])), "fix that file")
            if not (acl.get("all_bridges_allowed") or nic["bridge"] in acl.get("allowed_bridges", [])):
                denied = " (it is denied there, and deny wins)" if nic["bridge"] in acl.get("deny", []) or acl.get(
                    "deny_all") else ""
                _fail(guest, where + ".bridge",
                      "bridge '%s' is not allowed by %s%s" % (nic["bridge"], host.get("bridge_conf", "bridge.conf"),
                                                              denied),
                      "allow it with the hostnet.qemu.host role (or hostnet.qemu.bridge_helper allow: [%s]) or use "
                      "kind tap" % nic["bridge"])
    elif kind in ("tap", "macvtap"):
        default = "%s-n%d" % (guest, index) if kind == "tap" else "%s-m%d" % (guest, index)
        name = raw.get("ifname") or default
        try:
            nic["ifname"] = _validate.ifname(name, what="guest '%s': %s.ifname" % (guest, where))
        except HostnetError as exc:
            if raw.get("ifname"):
                raise
            raise HostnetError("%s; the default name '%s' does not fit: set %s.ifname" % (exc, name, where))
        if kind == "tap":
            nic["bridge"] = _validate.ifname(raw["bridge"], what="guest '%s': %s.bridge" % (guest, where)) \
                if raw.get("bridge") else None
        else:
            link = raw.get("link")
            if not link:
                _fail(guest, where + ".link", "missing", "name the parent interface of the macvtap")
            nic["link"] = _validate.ifname(link, what="guest '%s': %s.link" % (guest, where))
            nic["mode"] = raw.get("mode") or "bridge"
            if nic["mode"] not in ("bridge", "vepa", "private", "passthru"):
                _fail(guest, where + ".mode", "'%s' is not a macvtap mode" % nic["mode"],
                      "use bridge, vepa, private or passthru")
            links = host.get("links")
            if strict and links is not None and nic["link"] not in links:
                _fail(guest, where + ".link", "parent interface '%s' does not exist on this host" % nic["link"],
                      "create it first or name an existing interface")
        vhost = raw.get("vhost")
        usable = user in (host.get("vhost_users") or [])
        if vhost is None:
            nic["vhost"] = usable and accel == "kvm"
        else:
            nic["vhost"] = bool(vhost)
    return nic


def _normalise_disk(raw, index, guest, host, strict):
    where = "disks[%d]" % index
    if not isinstance(raw, dict):
        _fail(guest, where, "%r is not a mapping" % (raw,), "give a mapping with at least 'path'")
    disk = {"path": _abs_path(guest, where + ".path", raw.get("path"))}
    disk["interface"] = raw.get("interface") or "virtio"
    disk["readonly"] = bool(raw.get("readonly", False))
    disk["cache"] = raw.get("cache")
    size, backing = raw.get("size"), raw.get("backing")
    if size and backing:
        _fail(guest, where, "both size and backing are set", "give size for a new image or backing for an overlay")
    files = host.get("files") or {}
    if backing:
        disk["create"] = "overlay"
        disk["backing"] = _abs_path(guest, where + ".backing", backing)
        disk["backing_format"] = raw.get("backing_format") or "qcow2"
        disk["format"] = "qcow2"
        if strict and not files.get(disk["backing"]) and not files.get(disk["path"]):
            _fail(guest, where + ".backing", "backing image '%s' does not exist" % disk["backing"],
                  "create or copy the base image first")
    elif size:
        if not re.match(r"^[0-9]+[KMGT]?$", str(size)):
            _fail(guest, where + ".size", "%r is not a size" % (size,), "write e.g. 10G, 512M or a byte count")
        disk["create"] = "new"
        disk["size"] = str(size)
        disk["format"] = "qcow2"
    else:
        disk["create"] = None
        disk["format"] = raw.get("format") or "qcow2"
        if strict and "files" in host and not files.get(disk["path"]):
            _fail(guest, where + ".path", "image '%s' does not exist" % disk["path"],
                  "create it, or give size (new qcow2) or backing (overlay)")
    if raw.get("format") and disk["create"] and raw["format"] != "qcow2":
        _fail(guest, where + ".format", "images the role creates are qcow2", "drop format or use qcow2")
    return disk


def normalise_guest(raw, settings=None, host=None):
    """One guest definition -> a normalised dict; HostnetError names the guest, the field and the fix."""
    settings = dict(DEFAULTS, **(settings or {}))
    host = host or {}
    if not isinstance(raw, dict):
        raise HostnetError("guest %r is not a mapping; each entry of hostnet_guest_guests needs at least name" % (raw,))
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise HostnetError("guest name %r: use 1 to 64 letters, digits, '_', '.' or '-' (it names the systemd unit)"
                           % (name,))
    state = raw.get("state") or settings["state"]
    if state not in STATES:
        _fail(name, "state", "'%s' is not a state" % state, "use started, stopped or absent")
    strict = state != "absent"  # an absent guest only needs enough to find what to remove
    user = raw.get("user") or settings["user"]
    users = _host_users(host)
    if strict and "users" in host and user not in users:
        _fail(name, "user", "user '%s' does not exist on this host" % user,
              "create it first (e.g. with ansible.builtin.user) or set user to an existing one")
    if user in ("root", "0") or _uid(users.get(user)) == 0:
        _fail(name, "user", "guests never run as root", "give an unprivileged user")
    accel = raw.get("accel") or settings["accel"]
    if accel not in ACCELS:
        _fail(name, "accel", "'%s' is not an accelerator" % accel, "use auto, kvm or tcg")
    if accel == "auto":
        accel = "kvm" if user in (host.get("kvm_users") or []) else "tcg"
    guest = {
        "name": name,
        "unit": unit_name(name),
        "state": state,
        "enabled": bool(raw.get("enabled", settings["enabled"])),
        "user": user,
        "memory": _int_in(name, "memory", _pick(raw, "memory", settings), MEMORY_RANGE, " MiB"),
        "cpus": _int_in(name, "cpus", _pick(raw, "cpus", settings), CPUS_RANGE),
        "machine": raw.get("machine") or settings["machine"],
        "cpu": raw.get("cpu"),
        "accel": accel,
        "stop_timeout": _int_in(name, "stop_timeout", _pick(raw, "stop_timeout", settings),
                                (1, 3600), " seconds"),
        "remove_disks": bool(raw.get("remove_disks", False)),
        "extra_args": [str(a) for a in raw.get("extra_args") or []],
        "qemu_binary": settings["qemu_binary"],
        "bridge_helper": settings["bridge_helper"],
        "launcher": settings["launcher"],
        "python": settings["python"],
        "qmp": "%s/%s/qmp.sock" % (settings["run_dir"], name),
        "serial_log": "%s/%s/serial.log" % (settings["log_dir"], name),
    }
    files = host.get("files") or {}
    for field in ("kernel", "initrd", "cdrom"):
        value = raw.get(field)
        guest[field] = _abs_path(name, field, value) if value else None
        if value and strict and "files" in host and not files.get(value):
            _fail(name, field, "'%s' does not exist" % value, "copy the file there first or fix the path")
    if raw.get("append") and not guest["kernel"]:
        _fail(name, "append", "a kernel command line needs direct kernel boot", "set kernel too, or drop append")
    if raw.get("initrd") and not guest["kernel"]:
        _fail(name, "initrd", "an initrd needs direct kernel boot", "set kernel too, or drop initrd")
    guest["append"] = raw.get("append")
    guest["disks"] = [_normalise_disk(d, i, name, host, strict) for i, d in enumerate(raw.get("disks") or [])]
    guest["nics"] = [_normalise_nic(n, i, name, settings, host, user, accel, strict)
                     for i, n in enumerate(raw.get("nics") or [])]
    macs = {}
    for nic in guest["nics"]:
        if nic["mac"] in macs:
            _fail(name, "nics[%d].mac" % nic["index"], "MAC %s is also nics[%d]'s" % (nic["mac"], macs[nic["mac"]]),
                  "give each NIC its own MAC")
        macs[nic["mac"]] = nic["index"]
    fds = 3
    for nic in guest["nics"]:
        if nic["kind"] == "macvtap":
            nic["fd"] = fds
            fds += 1
    guest["uses_bridge_helper"] = any(n["kind"] == "bridge" for n in guest["nics"])
    return guest


def normalise_all(guests, settings=None, host=None):
    """The whole list for one host; also refuses duplicate names and per-host clashes."""
    host = dict(host or {})
    if host.get("bridge_checked") and "bridge_acl" not in host:
        host["bridge_acl"] = bridge_acl(host.get("bridge_conf_text"), host.get("bridge_includes"),
                                        host.get("bridge_conf", "bridge.conf"))
    if not isinstance(guests, list):
        raise HostnetError("hostnet_guest_guests must be a list of guests, got %s" % type(guests).__name__)
    out = [normalise_guest(g, settings, host) for g in guests]
    problems = conflicts({"this host": out})
    if problems:
        raise HostnetError("; ".join(problems))
    return out


def conflicts(plans_by_host):
    """Clashes between guests: {host: [normalised guest]} -> list of messages naming both guests.

    MACs must be unique across every host (guests may share a network); guest names, taps, macvtaps and
    hostfwd host ports per host.
    """
    problems = []
    macs = {}
    endpoints = {}
    for host in sorted(plans_by_host):
        names, ifnames, ports = {}, {}, {}
        for guest in plans_by_host[host] or []:
            who = "guest '%s' on %s" % (guest["name"], host)
            if guest["name"] in names:
                problems.append("%s is defined twice on that host; guest names must be unique per host" % who)
            names[guest["name"]] = who
            if guest["state"] == "absent":
                continue
            for nic in guest["nics"]:
                field = "nics[%d]" % nic["index"]
                other = macs.get(nic["mac"])
                if other:
                    problems.append("duplicate MAC %s: %s %s and %s; set a distinct nics[].mac on one of them"
                                    % (nic["mac"], who, field, other))
                else:
                    macs[nic["mac"]] = "%s %s" % (who, field)
                if nic.get("ifname"):
                    other = ifnames.get(nic["ifname"])
                    if other:
                        problems.append("%s %s and %s both claim interface '%s'; give one of them another ifname"
                                        % (who, field, other, nic["ifname"]))
                    else:
                        ifnames[nic["ifname"]] = "%s %s" % (who, field)
                if nic["kind"] == "socket":
                    key = (nic["group"], nic["port"])
                    if key in endpoints and endpoints[key] != nic["network"]:
                        problems.append("socket networks '%s' and '%s' hash to the same %s:%d; rename one"
                                        % (nic["network"], endpoints[key], key[0], key[1]))
                    endpoints[key] = nic["network"]
                for i, rule in enumerate(nic.get("hostfwd", [])):
                    key = (rule["proto"], rule["host_address"], rule["host_port"])
                    wild = [k for k in ports if k[0] == key[0] and k[2] == key[2]
                            and "0.0.0.0" in (k[1], key[1])]
                    clash = ports.get(key) or (ports[wild[0]] if wild else None)
                    here = "%s %s.hostfwd[%d]" % (who, field, i)
                    if clash:
                        problems.append("%s and %s both forward %s port %s:%d; give one another host_port"
                                        % (here, clash, key[0], key[1], key[2]))
                    else:
                        ports[key] = here
    return problems


def _device_args(nic):
    parts = [nic["model"], "netdev=%s" % nic["id"], "mac=%s" % nic["mac"], "id=nic%d" % nic["index"]]
    if nic["queues"] > 1:
        parts += ["mq=on", "vectors=%d" % (2 * nic["queues"] + 2)]
    return ",".join(parts)


def nic_args(nic, guest):
    """-netdev and -device arguments for one normalised NIC."""
    kind = nic["kind"]
    if kind == "user":
        parts = ["user", "id=%s" % nic["id"]]
        if nic["restrict"]:
            parts.append("restrict=on")
        for rule in nic["hostfwd"]:
            parts.append("hostfwd=%s:%s:%d-:%d" % (rule["proto"], rule["host_address"], rule["host_port"],
                                                   rule["guest_port"]))
    elif kind == "socket":
        parts = ["socket", "id=%s" % nic["id"], "mcast=%s:%d" % (nic["group"], nic["port"]),
                 "localaddr=%s" % nic["localaddr"]]
    elif kind == "bridge":
        parts = ["bridge", "id=%s" % nic["id"], "br=%s" % nic["bridge"], "helper=%s" % _opt(guest["bridge_helper"])]
    elif kind == "tap":
        parts = ["tap", "id=%s" % nic["id"], "ifname=%s" % nic["ifname"], "script=no", "downscript=no"]
        if nic["queues"] > 1:
            parts.append("queues=%d" % nic["queues"])
    else:  # macvtap: the launcher opened /dev/tapN on this fd
        parts = ["tap", "id=%s" % nic["id"], "fd=%d" % nic["fd"]]
    if nic.get("vhost"):
        parts.append("vhost=on")
    return ["-netdev", ",".join(parts), "-device", _device_args(nic)]


def argv(guest):
    """The full QEMU command line (a list) for a normalised guest."""
    args = [guest["qemu_binary"], "-name", "guest=%s,debug-threads=on" % guest["name"],
            "-machine", _opt(guest["machine"]), "-accel", guest["accel"]]
    if guest.get("cpu"):
        args += ["-cpu", _opt(guest["cpu"])]
    args += ["-m", str(guest["memory"]), "-smp", str(guest["cpus"]),
             "-nodefaults", "-no-user-config", "-display", "none",
             "-chardev", "file,id=serial0,path=%s,append=on" % _opt(guest["serial_log"]), "-serial", "chardev:serial0",
             "-qmp", "unix:%s,server=on,wait=off" % _opt(guest["qmp"])]
    # No -sandbox with the bridge helper: QEMU's seccomp filter sets no_new_privs (libseccomp's default), so the
    # helper it spawns gains no cap_net_admin from its file capabilities ("failed to create tun device:
    # Operation not permitted", measured with QEMU 7.2). The unit's hardening still applies.
    if not guest["uses_bridge_helper"]:
        args += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
    if guest.get("kernel"):
        args += ["-kernel", guest["kernel"]]
    if guest.get("initrd"):
        args += ["-initrd", guest["initrd"]]
    if guest.get("append"):
        args += ["-append", guest["append"]]
    for i, disk in enumerate(guest["disks"]):
        parts = ["file=%s" % _opt(disk["path"]), "format=%s" % disk["format"], "if=%s" % disk["interface"],
                 "id=disk%d" % i]
        if disk["readonly"]:
            parts.append("readonly=on")
        if disk.get("cache"):
            parts.append("cache=%s" % disk["cache"])
        args += ["-drive", ",".join(parts)]
    if guest.get("cdrom"):
        args += ["-drive", "file=%s,media=cdrom,readonly=on,id=cdrom0" % _opt(guest["cdrom"])]
    for nic in guest["nics"]:
        args += nic_args(nic, guest)
    return args + guest["extra_args"]


def systemd_quote(arg):
    """One argument for an Exec*= line: specifiers (%) and variables ($) neutralised, quoted when needed."""
    text = str(arg).replace("%", "%%").replace("$", "$$")
    if _SAFE_ARG.match(text):
        return text
    return '"%s"' % text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _exec_line(key, args):
    """An Exec*= line; the QEMU part (after '--') folded one option per line, so `systemctl cat` shows the
    whole command readably."""
    cut = args.index("--") + 2 if "--" in args else len(args)
    lines, current = [], [systemd_quote(a) for a in args[:cut]]
    for arg in args[cut:]:
        if arg.startswith("-"):
            lines.append(" ".join(current))
            current = []
        current.append(systemd_quote(arg))
    lines.append(" ".join(current))
    return "%s=%s" % (key, " \\\n    ".join(lines))


# systemd options that imply NoNewPrivileges=yes in a unit with User= (measured with systemd 252 through
# /proc/self/status NoNewPrivs; the last three as systemd.exec(5) says); a bridge-helper guest cannot have them
_IMPLY_NO_NEW_PRIVS = frozenset((
    "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectClock", "ProtectHostname",
    "RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "SystemCallArchitectures",
    "RestrictAddressFamilies", "SystemCallFilter", "MemoryDenyWriteExecute", "PrivateDevices"))


def devices_allowed(guest):
    allow = []
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
    launch += ["--"] + argv(guest)
    stop = [guest["python"], guest["launcher"], "stop", "--timeout", str(guest["stop_timeout"]), guest["qmp"]]
    rw = [d["path"] for d in guest["disks"] if not d["readonly"]]
    helper = guest["uses_bridge_helper"]
    lines = [
        "# Managed by the hostnet.qemu.guest role; changes here are overwritten.",
        "[Unit]",
        "Description=QEMU guest %s (hostnet.qemu)" % guest["name"],
        "# the collection's networks (bridges, NAT, filters) are re-applied at boot before any guest starts;",
        "# Wants= of a unit that is not installed (no network role) is ignored by systemd",
        "Wants=hostnet-qemu-network.service",
        "After=network.target hostnet-qemu-network.service",
        "",
        "[Service]",
        "Type=simple",
        "User=%s" % guest["user"],
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
        "# hardening (no MemoryDenyWriteExecute: TCG generates code at run time)",
        "NoNewPrivileges=%s" % ("no" if helper else "yes"),
        "CapabilityBoundingSet=%s" % ("CAP_NET_ADMIN" if helper else ""),
        "AmbientCapabilities=",
        "ProtectSystem=strict",
    ]
    lines += ["ReadWritePaths=%s" % systemd_quote(path) for path in rw]
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
    return "\n".join(lines)


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
                devices.append(dev)
            elif nic["kind"] == "macvtap":
                if guest["state"] == "absent":
                    devices.append({"kind": "macvtap", "name": nic["ifname"], "state": "absent"})
                    continue
                devices.append({"kind": "macvtap", "name": nic["ifname"], "link": nic["link"], "mode": nic["mode"],
                                "mac": nic["mac"], "device_owner": guest["user"], "device_mode": "0600"})
    return devices
