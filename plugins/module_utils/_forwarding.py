# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv4 forwarding only where the networks need it, and the sysctl reads and writes of the network role.

The kernel decides whether to route a packet by the interface it came in on (`conf/IF/forwarding`); the global
`net.ipv4.ip_forward` switches every interface at once. A nat network needs two: its bridge, where the guests'
traffic enters, and its uplink, where the replies and the port forwards enter. Those two are switched on, and
nothing else; an isolated network's bridge is switched off.

The uplink is the host's interface, not the collection's. If its forwarding was off before, switching it on would
let whatever comes in by it be routed to any other interface of the host. So the value found before is recorded in
the saved state (`forwarding_before`), the table drops what enters by such an uplink unless it goes to a bridge of
a nat network behind it (`guarded`), and when no nat network uses the uplink any more the recorded value is
written back (`restore`).

IPv6 has no per-interface `forwarding` switch (`conf/IF/forwarding` there only makes the interface a router);
Linux 6.17 added `conf/IF/force_forwarding`, which the networks with `ipv6` switch on in the same way. Its value
before is recorded as `ipv6/UPLINK` (a name no interface can have), restored the same way, and an uplink that did
not forward IPv6 before (nor the host globally) gets the guard for IPv6.

A routed network's proxy NDP entries (routes to single IPv6 addresses of the uplink's LAN with `proxy_arp`) are
answered by the kernel only on an uplink with `conf/UPLINK/proxy_ndp` 1 and `conf/UPLINK/forwarding` 1, and the
latter makes the uplink a router, which ignores router advertisements at `accept_ra` 1: the host would lose the
default route its LAN advertises. Such an uplink gets proxy_ndp and forwarding 1, and `accept_ra` 2 (router
advertisements taken even so) when it was 1. The three values found before are recorded as `ndp/UPLINK`,
`router6/UPLINK` and `ra/UPLINK` and written back like the others when no such route needs them any more.

Keys are written in sysctl's slash form (`net/ipv4/conf/eth0.100/forwarding`) so that an interface name with a dot
stays one path component; dotted keys (`net.ipv4.ip_forward`, from older saved states) still work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _files
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

WHAT = "networks"
KEY = "net/ipv4/conf/%s/forwarding"
KEY6 = "net/ipv6/conf/%s/force_forwarding"
KEY6_ALL = "net/ipv6/conf/all/forwarding"
KEY_RA = "net/ipv6/conf/%s/accept_ra"
KEY_NDP = "net/ipv6/conf/%s/proxy_ndp"
KEY_ROUTER6 = "net/ipv6/conf/%s/forwarding"
RECORD6 = "ipv6/"  # the prefix of an uplink's recorded IPv6 value
RECORD_NDP, RECORD_ROUTER6, RECORD_RA = "ndp/", "router6/", "ra/"  # the proxy NDP uplinks' three recorded values
LEGACY_KEY = "net.ipv4.ip_forward"
# where systemd-sysctl and procps read settings (besides the collection's own drop-in)
SYSCTL_FILES = ("/etc/sysctl.conf", "/etc/sysctl.d/*.conf", "/run/sysctl.d/*.conf", "/usr/local/lib/sysctl.d/*.conf",
                "/usr/lib/sysctl.d/*.conf", "/lib/sysctl.d/*.conf")


def proc_path(key):
    """/proc/sys path of a sysctl key, dotted (`net.ipv4.ip_forward`) or slashed (`net/ipv4/conf/br0/forwarding`)."""
    return "/proc/sys/" + canonical(key)


def read(key):
    """The live value of a sysctl, or None (no such key: e.g. an interface that does not exist)."""
    try:
        with open(proc_path(key)) as handle:
            return handle.read().strip()
    except (IOError, OSError):
        return None


def write(key, value, what=WHAT):
    try:
        with open(proc_path(key), "w") as handle:
            handle.write("%s\n" % value)
    except (IOError, OSError) as exc:
        raise HostnetError("%s: cannot set %s = %s: %s" % (what, key, value, exc.strerror))


def parse_conf(text):
    """A sysctl.conf text -> {key: value}, keys in dotted form as written."""
    values = {}
    for line in (text or "").splitlines():
        line = line.strip().lstrip("-")
        if line and not line.startswith(("#", ";")) and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def uplinks(normalised):
    """{uplink: [bridges of the present nat networks behind it]} (networks as _nftnet.normalise gives them)."""
    out = {}
    for net in normalised:
        if net["kind"] in ("nat", "routed") and net["state"] == "present":
            out.setdefault(net["uplink"], []).append(net["bridge"])
    return dict((up, sorted(bridges)) for up, bridges in out.items())


def uplinks6(normalised):
    """{uplink: [bridges]} of the present nat and routed networks with IPv6."""
    return uplinks([n for n in normalised if n.get("ipv6")])


def uplinks_ndp(normalised):
    """{uplink: [bridges]} of the present routed networks with proxy NDP entries (IPv6 proxy_arp routes)."""
    return uplinks([n for n in normalised if any(":" in e for e in n.get("proxy_arp") or [])])


# The recorded switches: (record prefix, sysctl key, the function giving the uplinks that need it on). IPv4's record
# is the uplink's name alone (prefix ""), so it comes last; an interface name has no '/'.
SWITCHES = ((RECORD6, KEY6, uplinks6), (RECORD_NDP, KEY_NDP, uplinks_ndp), (RECORD_ROUTER6, KEY_ROUTER6, uplinks_ndp),
            (RECORD_RA, KEY_RA, uplinks_ndp), ("", KEY, uplinks))


def _record(record):
    """A record's (prefix, uplink, sysctl key)."""
    prefix, key = next((p, k) for p, k, _users in SWITCHES if record.startswith(p))  # "" matches any
    return prefix, record[len(prefix):], key


def sysctls(normalised, before=None):
    """The forwarding switches the networks need: on for each nat network's bridge and uplink, off for the bridges
    of isolated networks (so that they stay closed also on a host that routes by default); IPv6 on for the bridge
    and uplink of each gateway network with IPv6. The host takes no router advertisements on its guests' bridges
    (`accept_ra` 0): they are its own dnsmasq's, or a guest's that would make itself the host's router. An uplink
    with proxy NDP entries answers for them (proxy_ndp, forwarding) and keeps taking its LAN's router advertisements
    (accept_ra 2 where `before`, the values plan() recorded, says it took them)."""
    present = [n for n in normalised if n["state"] == "present" and n["kind"] in ("isolated", "nat", "routed")]
    keys = dict((KEY_RA % n["bridge"], "0") for n in present)
    keys.update((KEY % n["bridge"], "0") for n in present if n["kind"] == "isolated")
    for key, found in ((KEY, uplinks(normalised)), (KEY6, uplinks6(normalised))):
        for up, bridges in found.items():
            for name in [up] + bridges:
                keys[key % name] = "1"
    for up in uplinks_ndp(normalised):  # `before`: _forwarding.plan's, which has recorded accept_ra
        keys.update({KEY_NDP % up: "1", KEY_ROUTER6 % up: "1"})
        if (before or {}).get(RECORD_RA + up) == "1":
            keys[KEY_RA % up] = "2"
    return keys


def saved(state_path):
    """The values recorded before the collection switched uplinks on ({} when nothing is recorded)."""
    text = _files.read_text(state_path, WHAT)
    try:
        found = json.loads(text).get("forwarding_before") if text else None
    except (ValueError, AttributeError):
        return {}
    return dict((k, v) for k, v in (found or {}).items() if isinstance(k, str) and v in ("0", "1", "2"))


def legacy(sysctl_file):
    """Whether the drop-in still holds the global switch an older release wrote."""
    return bool(sysctl_file) and parse_conf(_files.read_text(sysctl_file, WHAT)).get(LEGACY_KEY) == "1"


def canonical(key):
    """A key in slash form: sysctl reads a key whose first separator is '.' with '.' and '/' swapped."""
    if "." in key and ("/" not in key or key.index(".") < key.index("/")):
        return key.translate({ord("."): "/", ord("/"): "."})
    return key


def _configured(iface, sysctl_file):
    """Whether the host's own sysctl configuration (not the collection's drop-in) switches forwarding on for iface."""
    keys = (canonical(LEGACY_KEY), KEY % "all", KEY % iface)
    mine = os.path.realpath(sysctl_file) if sysctl_file else None
    for pattern in SYSCTL_FILES:
        for path in sorted(glob.glob(pattern)):
            if os.path.realpath(path) == mine:
                continue
            try:
                values = dict((canonical(k), v) for k, v in parse_conf(_files.read_text(path, WHAT)).items())
            except HostnetError:
                continue  # unreadable: it sets nothing we can know of
            if any(values.get(k) == "1" for k in keys):
                return True
    return False


def plan(normalised, state_path, sysctl_file=None):
    """What forwarding the networks need, read from the host (changes nothing).

    Returns {before: {uplink: value found before the collection}, restore: {key: value} for uplinks no nat network
    uses any more, guarded: [uplinks that were off before], legacy: bool}. An uplink already recorded keeps its
    record; a new one records its live value (an interface still to be created: the default for new ones). After an
    older release's global switch, the live values are the collection's: the host's own sysctl configuration says
    what they were.
    """
    needed, old = dict((prefix, users(normalised)) for prefix, _key, users in SWITCHES), saved(state_path)
    was_legacy = legacy(sysctl_file)
    before = {}
    for up in needed[""]:
        if up in old:
            before[up] = old[up]
        elif was_legacy:
            before[up] = "1" if _configured(up, sysctl_file) else "0"
        else:
            before[up] = _live(KEY, up)
    for prefix, key, _users in SWITCHES[:-1]:  # IPv4's, above, has its own history (the legacy global switch)
        for up in needed[prefix]:
            before[prefix + up] = old[prefix + up] if prefix + up in old else _live(key, up)
    restore = {}
    for record, value in sorted(old.items()):
        prefix, up, key = _record(record)
        if up not in needed[prefix] and read(key % up) not in (None, value):
            restore[key % up] = value
    return {"before": before, "restore": restore, "legacy": was_legacy, "guarded": guarded(before)}


def _live(key, up):
    """An interface's live switch (`key` % up), or the default for new interfaces if it does not exist yet."""
    live = read(key % up)
    return live if live in ("0", "1", "2") else (read(key % "default") or "0")


def guarded6(guarded_uplinks):
    """The uplinks that guarded() lists for IPv6 (its `ipv6/UPLINK` entries)."""
    return [g[len(RECORD6):] for g in guarded_uplinks if g.startswith(RECORD6)]


def guarded(before):
    """The uplinks whose forwarding was off before the collection switched it on; `ipv6/UPLINK` for those that did
    not forward IPv6 (when the host does not forward IPv6 on every interface anyway)."""
    global6 = read(KEY6_ALL) == "1"
    return sorted(up for up, value in (before or {}).items() if _record(up)[0] in ("", RECORD6)
                  and value != "1" and not (up.startswith(RECORD6) and global6))


def restore_lines(result):
    return ["set %s = %s (the value found before a network switched it on)" % item
            for item in sorted(result["restore"].items())]


def apply_restore(result):
    for key, value in sorted(result["restore"].items()):
        write(key, value)
