# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest role's model: validate and normalise guest definitions (clashes between guests: _guestconflicts.py).

Types, choices, required fields, unknown keys and the value validators come from one nested spec
(module_utils/_guestspec.py, checked by module_utils/_argspec.py); only the rules between fields and the
rules against the host stay here. The renderers (QEMU argv, unit, device set) are in _guestrender.py.

Nothing here touches the host. What the role learnt about the host (users, links, files and who can read
them, the bridge helper's ACL, which users may open /dev/kvm and /dev/vhost-net) comes in as a plain dict,
so every rule is unit-tested (tests/unit/plugins/plugin_utils/test_guest_plan.py) without a kernel, QEMU or systemd.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.hostnet.qemu.plugins.module_utils import (_argspec, _bridgeconf, _guestspec, _nftnet, _validate,
                                                                   _vlannet)
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _cloudinit, _guestconflicts, _guestfw

VIRTIO_MODELS = ("virtio-net-pci", "virtio-net-pci-non-transitional", "virtio-net-pci-transitional", "virtio-net")


def unit_name(name):
    return "hostnet-guest-%s.service" % name


def _fail(guest, field, problem, fix):
    raise HostnetError("guest '%s': %s: %s; %s" % (guest, field, problem, fix))


def socket_endpoint(network):
    """A deterministic multicast group:port for a socket network name (distinct names, distinct endpoints
    unless the 26-bit hash collides; guest_conflicts() reports a collision by name)."""
    digest = hashlib.sha256(network.encode("utf-8")).digest()
    return "239.255.%d.%d" % (digest[0], digest[1]), 20000 + ((digest[2] << 8 | digest[3]) % 10000)


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


def settings_of(settings):
    """The role's defaults (hostnet_guest_* without the prefix), validated; missing keys take the spec's defaults."""
    return _argspec.validate(_guestspec.SETTINGS, dict(settings or {}), "guest role", prefix="hostnet_guest_")


def _check_readable(path, user, host):
    """A file the guest's QEMU opens must exist and be readable by the guest's user (not only by root)."""
    files = host.get("files")
    if files is not None and not files.get(path):
        return "'%s' does not exist" % path, "copy the file there first or fix the path"
    readable = host.get("readable")
    if readable is not None and user in readable and path not in readable[user]:
        return ("user '%s' cannot read '%s'" % (user, path),
                "make it readable for that user (chmod o+r, or a group the user is in), or run the guest as "
                "another user")
    return None


def _as_new_user(guest, user, group, host):
    """The host as a user that does not exist yet sees it: what the preflight's stand-in (no uid of its own,
    member of `group`) could open. The group must exist, unless check mode assumes an earlier role makes it."""
    groups = host.get("groups")
    if groups is not None and group not in groups and not host.get("check_mode"):
        _fail(guest, "user", "its own user '%s' would join group '%s', which does not exist on this host" % (user, group),
              "run the hostnet.qemu.host role first (it creates the group), or set hostnet_guest_group to an existing"
              " group, or give the guest an existing user")
    new = host.get("new_user")
    if new is None:
        return host
    return dict(host, readable=dict(host.get("readable") or {}, **{user: new.get("readable") or []}),
                kvm_users=list(host.get("kvm_users") or []) + ([user] if new.get("kvm") else []),
                vhost_users=list(host.get("vhost_users") or []) + ([user] if new.get("vhost") else []))


def _check_bridge_acl(guest, where, bridge, host):
    acl = host.get("bridge_acl")
    if acl is None:
        return
    conf = host.get("bridge_conf", "bridge.conf")
    fix = "allow it with the hostnet.qemu.host role (or hostnet.qemu.bridge_helper allow: [%s]) or use kind tap" % bridge
    if acl.get("missing"):
        _fail(guest, where, "bridge '%s' is not allowed: %s does not exist, so qemu-bridge-helper allows no bridge"
              % (bridge, conf), fix)
    if acl.get("problems"):
        _fail(guest, where, "the bridge helper refuses %s: %s" % (conf, "; ".join(acl["problems"])), "fix that file")
    if not (acl.get("all_bridges_allowed") or bridge in acl.get("allowed_bridges", [])):
        denied = " (it is denied there, and deny wins)" if bridge in acl.get("deny", []) or acl.get("deny_all") else ""
        _fail(guest, where, "bridge '%s' is not allowed by %s%s" % (bridge, conf, denied), fix)


def _nic(raw, given, index, guest, settings, host, user, accel, strict):
    """One validated NIC (from the spec; `given`: the fields the user wrote) -> the normalised NIC."""
    where = "nics[%d]" % index
    kind = raw["kind"]
    nic = {"kind": kind, "index": index, "id": "net%d" % index, "model": raw["model"]}
    if raw.get("mac"):
        nic["mac"] = _validate.mac(raw["mac"], what="guest '%s': %s.mac" % (guest, where))
    else:
        nic["mac"] = _validate.derive_mac("%s/%d" % (guest, index), settings["mac_prefix"])
    for field in sorted(given):
        allowed = _NIC_FIELDS.get(field, (kind,))
        if kind not in allowed:
            _fail(guest, "%s.%s" % (where, field), "a %s NIC has no %s" % (kind, field),
                  "drop it, or use kind %s" % " or ".join(allowed))
    nic["queues"] = raw["queues"]
    if nic["queues"] > 1 and nic["model"] not in VIRTIO_MODELS:
        _fail(guest, where + ".queues", "model '%s' has no multi-queue" % nic["model"], "use model virtio-net-pci")
    nic["mtu"] = raw.get("mtu")
    if nic["mtu"] is not None and nic["model"] not in VIRTIO_MODELS:
        _fail(guest, where + ".mtu", "model '%s' cannot tell the guest its MTU" % nic["model"],
              "use model virtio-net-pci (host_mtu), or drop mtu and set it inside the guest")
    if kind in ("bridge", "tap", "macvtap") and raw.get("address"):
        nic["static"] = dict(bridge=raw.get("bridge"))  # resolved below, once the NIC's bridge is known
    if kind == "user":
        nic["restrict"] = raw["restrict"]
        nic["hostfwd"] = raw.get("hostfwd") or []
    elif kind == "socket":
        _socket(nic, raw, given, guest, where, settings)
    elif kind == "bridge":
        if not raw.get("bridge"):
            _fail(guest, where + ".bridge", "missing", "name the bridge qemu-bridge-helper attaches the guest to")
        nic["bridge"], nic["trust"] = raw["bridge"], raw["trust"]
        if strict:
            _check_bridge_acl(guest, where + ".bridge", nic["bridge"], host)
    else:  # tap, macvtap
        default = "%s-%s%d" % (guest, "n" if kind == "tap" else "m", index)
        name = raw.get("ifname") or default
        try:
            nic["ifname"] = _validate.ifname(name, what="guest '%s': %s.ifname" % (guest, where))
        except HostnetError as exc:
            if raw.get("ifname"):
                raise
            raise HostnetError("%s; the default name '%s' does not fit: set %s.ifname" % (exc, name, where))
        links = host.get("links")
        if kind == "tap":
            nic["bridge"], nic["trust"] = raw.get("bridge"), raw["trust"]
            if strict and nic["bridge"] and links is not None and not host.get("check_mode") \
                    and nic["bridge"] not in links:
                _fail(guest, where + ".bridge", "bridge '%s' does not exist on this host" % nic["bridge"],
                      "create it first (e.g. with the hostnet.qemu.network role) or drop bridge")
            _vlannet.guest_nic(nic, raw, guest, where, host.get("network_vlans") or {})
        else:
            if not raw.get("link"):
                _fail(guest, where + ".link", "missing", "name the parent interface of the macvtap")
            nic["link"], nic["mode"] = raw["link"], raw["mode"]
            if strict and links is not None and nic["link"] not in links:
                _fail(guest, where + ".link", "parent interface '%s' does not exist on this host" % nic["link"],
                      "create it first or name an existing interface")
        if raw.get("vhost") is None:
            nic["vhost"] = user in (host.get("vhost_users") or []) and accel == "kvm"
        else:
            nic["vhost"] = raw["vhost"]
    if "static" in nic:
        nic["static"] = _cloudinit.static_address(raw["address"], nic, host.get("managed_networks") or {}, guest, where)
    return nic


def _socket(nic, raw, given, guest, where, settings):
    """A socket NIC: a multicast segment (a named network, or an explicit group:port), or one end of a TCP pair."""
    ways = [field for field in ("network", "address", "listen", "connect") if raw.get(field)]
    if not ways:
        _fail(guest, where + ".network", "missing",
              "name the socket network (letters, digits, '_', '.', '-'; guests with the same name share it), or give"
              " address (a multicast group:port), listen or connect (a TCP pair)")
    if len(ways) > 1:
        _fail(guest, "%s.%s" % (where, ways[1]), "a socket NIC is one of network, address, listen or connect, and"
              " this one also has %s" % ways[0], "keep one of them")
    nic["mode"] = "tcp" if ways[0] in ("listen", "connect") else "mcast"
    if nic["mode"] == "tcp":
        for field in ("localaddr",):
            if field in given:
                _fail(guest, "%s.%s" % (where, field), "a TCP socket NIC has no %s" % field,
                      "drop it (it is the multicast sender's address)")
        what = "guest '%s': %s.%s" % (guest, where, ways[0])
        host, port = _guestspec.endpoint(raw[ways[0]], what, multicast=False)
        if ways[0] == "listen" and not host.startswith("127.") and not raw["public"]:
            _fail(guest, where + ".listen", "%s is not a loopback address: anyone who reaches it can inject frames"
                  " into the guest's network" % host, "listen on 127.0.0.1, or set public: true to mean it")
        nic[ways[0]] = "%s:%d" % (host, port)
        return
    if "public" in given:
        _fail(guest, where + ".public", "a multicast socket NIC has no public", "drop it")
    if ways[0] == "network":
        nic["network"] = raw["network"]
        nic["group"], nic["port"] = socket_endpoint(nic["network"])
    else:
        nic["group"], nic["port"] = _guestspec.endpoint(raw["address"], "guest '%s': %s.address" % (guest, where),
                                                        multicast=True)
        nic["network"] = "%s:%d" % (nic["group"], nic["port"])
    nic["localaddr"] = raw.get("localaddr") or settings["socket_localaddr"]


# which NIC kinds each kind-specific field belongs to: a field on another kind is an error, never ignored
_NIC_FIELDS = {
    "hostfwd": ("user",), "restrict": ("user",), "network": ("socket",), "localaddr": ("socket",),
    "address": ("socket", "bridge", "tap", "macvtap"), "listen": ("socket",), "connect": ("socket",), "public": ("socket",),
    "bridge": ("bridge", "tap"), "ifname": ("tap", "macvtap"), "trust": ("tap", "bridge"), "queues": ("tap",),
    "vhost": ("tap", "macvtap"), "mtu": ("bridge", "tap", "macvtap"),
    "link": ("macvtap",), "mode": ("macvtap",), "vlan": ("tap",), "vlans": ("tap",), "native": ("tap",),
}


def _disk(raw, where, guest, user, host, strict, fetched=False):
    """One disk; `fetched`: its backing is an image the guests module fetches (it does not exist yet)."""
    disk = {"path": raw["path"], "interface": raw["interface"], "readonly": raw["readonly"], "cache": raw.get("cache")}
    size, backing = raw.get("size"), raw.get("backing")
    disk["size"] = size  # with backing: the overlay's size (larger than its base); on an existing image: grown to it
    files = host.get("files") or {}
    if backing:
        disk.update(create="overlay", backing=backing, backing_format=raw["backing_format"], format="qcow2")
        if strict and not fetched and not files.get(disk["path"]):
            problem = _check_readable(backing, user, host)
            if problem:
                _fail(guest, "image.path" if where == "image" else where + ".backing", "backing image " + problem[0],
                      problem[1])
    elif size:
        disk.update(create="new", format="qcow2")
    else:
        disk.update(create=None, format=raw.get("format") or "qcow2")
        if strict and "files" in host and not files.get(disk["path"]):
            _fail(guest, where + ".path", "image '%s' does not exist" % disk["path"],
                  "create it, or give size (new qcow2) or backing (overlay)")
    if raw.get("format") and disk["create"] and raw["format"] != "qcow2":
        _fail(guest, where + ".format", "images the role creates are qcow2", "drop format or use qcow2")
    return disk


def normalise_guest(raw, settings=None, host=None, index=0):
    """One guest definition -> a normalised dict; HostnetError names the guest, the field and the fix.

    `settings` must come from settings_of() (normalise_all does that once for the whole list).
    """
    settings = settings if settings is not None else settings_of(None)
    host = host or {}
    spec = _argspec.validate(_guestspec.GUEST, raw, _argspec.entry_label(raw, index, "guest", "hostnet_guest_guests"))
    name, state = spec["name"], spec["state"]
    strict = state != "absent"  # an absent guest only needs enough to find what to remove
    own = not (spec.get("user") or settings["user"])  # the guest's own user, made by the guests module
    user = spec.get("user") or settings["user"] or _guestspec.own_user(name)
    users = host.get("users") or {}
    if strict and "users" in host and user not in users and not own:
        _fail(name, "user", "user '%s' does not exist on this host" % user,
              "create it first (e.g. with ansible.builtin.user) or set user to an existing one")
    if own and strict and "users" in host and user not in users:
        host = _as_new_user(name, user, settings["group"], host)
    if _uid(users.get(user)) == 0:
        _fail(name, "user", "guests never run as root (user '%s' has uid 0)" % user, "give an unprivileged user")
    accel = spec.get("accel") or settings["accel"]
    if accel == "auto":
        accel = "kvm" if user in (host.get("kvm_users") or []) else "tcg"
    guest = {
        "name": name,
        "unit": unit_name(name),
        "state": state,
        "enabled": spec["enabled"],
        "user": user,
        "own_user": own,
        "group": settings["group"],
        "memory": settings["memory"] if spec.get("memory") is None else spec["memory"],
        "cpus": settings["cpus"] if spec.get("cpus") is None else spec["cpus"],
        "machine": spec.get("machine") or settings["machine"],
        "cpu": spec.get("cpu") or ("host" if accel == "kvm" else "max"),
        "accel": accel,
        "stop_timeout": settings["stop_timeout"] if spec.get("stop_timeout") is None else spec["stop_timeout"],
        "remove_disks": spec["remove_disks"],
        "extra_args": list(spec.get("extra_args") or []),
        "qemu_binary": settings["qemu_binary"],
        "bridge_helper": settings["bridge_helper"],
        "launcher": settings["launcher"],
        "python": settings["python"],
        "qmp": "%s/%s/qmp.sock" % (settings["run_dir"], name),
        "serial_log": "%s/%s/serial.log" % (settings["log_dir"], name),
        "console": "%s/%s/console.sock" % (settings["run_dir"], name),
        "guest_agent": "%s/%s/qga.sock" % (settings["run_dir"], name) if spec["guest_agent"] else None,
    }
    for field in ("kernel", "initrd", "cdrom"):
        guest[field] = spec.get(field)
        problem = _check_readable(guest[field], user, host) if guest[field] and strict else None
        if problem:
            _fail(name, field, problem[0], problem[1])
    if spec.get("append") and not guest["kernel"]:
        _fail(name, "append", "a kernel command line needs direct kernel boot", "set kernel too, or drop append")
    if spec.get("initrd") and not guest["kernel"]:
        _fail(name, "initrd", "an initrd needs direct kernel boot", "set kernel too, or drop initrd")
    guest["append"] = spec.get("append")
    guest.update(_guestfw.firmware(spec, settings, host, strict))
    guest.update(_guestfw.display(spec, settings["run_dir"]))
    guest.update(_guestfw.tpm(spec, settings, host, strict))
    root, guest["fetch"] = _guestfw.image_disk(spec, settings)
    guest["disks"] = ([_disk(root, "image", name, user, host, strict, fetched=bool(guest["fetch"]))] if root else []) \
        + [_disk(d, "disks[%d]" % i, name, user, host, strict) for i, d in enumerate(spec.get("disks") or [])]
    guest["nics"] = [_nic(n, set(k for k, v in raw["nics"][i].items() if v is not None), i, name, settings, host,
                          user, accel, strict) for i, n in enumerate(spec.get("nics") or [])]
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
    guest["boot"] = _guestfw.boot_order(spec, guest)
    guest["seed"] = _cloudinit.seed(guest, spec.get("cloud_init"), settings["state_dir"])
    return guest


def from_info(info, assumed_users=None):
    """hostnet.qemu.host_info's answer -> host keys: users (passwd, plus the check-mode assumed users), groups,
    links, files (existing paths), readable {user: [paths]}, kvm_users, vhost_users, new_user (what a new own user
    could open: the stand-in's answer) and the bridge helper ACL's text and includes."""
    access = info.get("access") or {}
    stand_in = info.get("stand_in")
    acl = info.get("acl") or {}
    return {
        "users": dict(info.get("passwd") or {}, **(assumed_users or {})),
        "groups": info.get("group") or {},
        "links": info.get("links"),
        "files": dict((path, True) for path in info.get("exists") or []),
        "readable": dict((user, list(a.get("readable") or [])) for user, a in access.items()),
        "kvm_users": [user for user, a in access.items() if "/dev/kvm" in (a.get("devices") or [])],
        "vhost_users": [user for user, a in access.items() if "/dev/vhost-net" in (a.get("devices") or [])],
        "new_user": None if stand_in is None else {
            "readable": list(stand_in.get("readable") or []),
            "kvm": "/dev/kvm" in (stand_in.get("devices") or []),
            "vhost": "/dev/vhost-net" in (stand_in.get("devices") or [])},
        "bridge_conf_text": acl.get("text"),
        "bridge_includes": acl.get("includes") or {},
    }


def normalise_all(guests, settings=None, host=None):
    """The whole list for one host; also refuses duplicate names and per-host clashes."""
    host = dict(host or {})
    if host.get("networks"):
        networks = _nftnet.normalise(_nftnet.validate(host.pop("networks")))
        host["managed_networks"] = _cloudinit.managed(networks)
        host["network_vlans"] = dict((n["bridge"], (n["name"], n["vlans"])) for n in networks
                                     if n["state"] == "present" and n["bridge"])
    if "info" in host:
        host.update(from_info(host.pop("info"), host.pop("assumed_users", None)))
    if host.get("bridge_checked") and "bridge_acl" not in host:
        host["bridge_acl"] = bridge_acl(host.get("bridge_conf_text"), host.get("bridge_includes"),
                                        host.get("bridge_conf", "bridge.conf"))
    if not isinstance(guests, list):
        raise HostnetError("hostnet_guest_guests: %r is not a list; give a YAML list of guests (each a mapping "
                           "with at least name)" % (guests,))
    settings = settings_of(settings)
    out = [normalise_guest(g, settings, host, i) for i, g in enumerate(guests)]
    problems = _guestconflicts.conflicts({"this host": out})
    if problems:
        raise HostnetError("; ".join(problems))
    return out


def normalise_lenient(guests, settings, networks):
    """normalise_all for what the network role derives from the guests (reservations, ports), against the network
    role's networks; None when the guests do not validate, as the guest role's preflight reports them."""
    try:
        return normalise_all(guests or [], settings, {"networks": networks or []})
    except HostnetError:
        return None
