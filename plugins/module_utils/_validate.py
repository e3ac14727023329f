# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation at the edge, one validator per kind of value: interface and object names,
paths, modes, strings without control characters, MACs, CIDRs, users, groups.

Everything here is pure Python (plus netaddr) so it can be shared by every module
and role plugin, and unit-tested without a kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import posixpath
import pwd
import re
import socket

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised on targets without netaddr
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = exc

IFNAMSIZ = 16  # kernel buffer, including the trailing NUL: 15 usable bytes
# Interface names reach bridge.conf, dnsmasq, nftables, QEMU options and unit files: only a safe set is accepted,
# so no output format ever needs to escape one (a ',' made dnsmasq serve another interface, a leading '.' or '-'
# reads as a path or an option).
_IFNAME_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_IFNAME_CHARS = _IFNAME_FIRST + ".-"
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OBJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def no_control(value, what):
    """Refuse a string with a control character (newline, carriage return, NUL, tab, ...): it would end or
    split a line of a unit, a config file, a ruleset or a command line. Returns the value."""
    found = CONTROL.search(value) if isinstance(value, str) else None
    if found:
        hint = " (a YAML block scalar '|' or '>' ends with a newline: use '>-' or a quoted string)" \
            if value.endswith("\n") else ""
        raise HostnetError("%s: %r contains the control character %r; write it on one line without control "
                           "characters%s" % (what, value, found.group(0), hint))
    return value


COMMAND_LINE_SIZE = 2048  # x86's kernel command line buffer, including the trailing NUL


def cmdline(value, what):
    """A kernel command line: one line, no control characters, and short enough for the kernel to keep whole."""
    no_control(value, what)
    if len(value.encode("utf-8")) >= COMMAND_LINE_SIZE:
        raise HostnetError("%s: the kernel command line is %d bytes long; the kernel keeps at most %d, shorten it"
                           % (what, len(value.encode("utf-8")), COMMAND_LINE_SIZE - 1))
    return value


def ifname(name, what="interface"):
    """Return name if it is a safe interface name the kernel accepts unchanged, else raise.

    Truncated or odd names were an ACL bypass in qemu-bridge-helper (CVE-2019-13164),
    so a name is refused rather than shortened.
    """
    if not isinstance(name, str) or name == "":
        raise HostnetError("%s name must be a non-empty string, got %r" % (what, name))
    raw = name.encode("utf-8")
    if len(raw) > IFNAMSIZ - 1:
        raise HostnetError(
            "%s '%s': name is %d bytes long; Linux allows at most %d, pick a shorter name"
            % (what, name, len(raw), IFNAMSIZ - 1))
    if name in (".", ".."):
        raise HostnetError("%s '%s': '.' and '..' are not valid interface names" % (what, name))
    for char in name:
        if char not in _IFNAME_CHARS:
            raise HostnetError(
                "%s %r: name contains %r; interface names may contain only letters, digits, '_', '.' and '-'"
                % (what, name, char))
    if name[0] not in _IFNAME_FIRST:
        raise HostnetError("%s '%s': name starts with %r; start it with a letter, a digit or '_'"
                           % (what, name, name[0]))
    return name


def object_name(value, what):
    """A name the collection derives files, units and tables from: 1 to 64 letters, digits, '_', '.', '-',
    starting with a letter or digit."""
    if not isinstance(value, str) or not _OBJECT_NAME.match(value):
        raise HostnetError("%s: %r is not a valid name; use 1 to 64 letters, digits, '_', '.' or '-', starting with "
                           "a letter or digit" % (what, value))
    return value


def abspath(value, what):
    """A normalised absolute path without control characters ('..', '//', a trailing '/' are refused)."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise HostnetError("%s: %r is not an absolute path; give a path starting with '/'" % (what, value))
    no_control(value, what)
    if posixpath.normpath(value) != value or value.startswith("//"):
        raise HostnetError("%s: '%s' is not a normalised path; write it as '%s'"
                           % (what, value, posixpath.normpath(value).replace("//", "/")))
    return value


def mode(value, what, maximum=0o7777):
    """A permission mode: an int is already the bits (YAML 0660 is 432, as ansible.builtin.file reads it), a
    string is octal ('0660', '660', '0o660'). Booleans, floats and other types are refused."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise HostnetError("%s: %r is not a permission mode; give an octal string such as '0660'" % (what, value))
    if isinstance(value, int):
        bits = value
    else:
        text = value[2:] if value[:2] in ("0o", "0O") else value
        if not re.match(r"[0-7]{1,5}\Z", text):
            raise HostnetError("%s: '%s' is not an octal mode; give an octal string such as '0660'" % (what, value))
        bits = int(text, 8)
    if not 0 <= bits <= maximum:
        raise HostnetError("%s: mode %s is out of range; give 0000 to %04o" % (what, oct(bits)[2:].zfill(4), maximum))
    return bits


DNS_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


def dns_label(value, what):
    """A host name of one DNS label (letters, digits, inner '-', at most 63), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not DNS_LABEL.match(value):
        raise HostnetError("%s: %r is not a host name; use one DNS label (letters, digits and inner '-', at most 63)"
                           % (what, value))
    return value


def _need_netaddr():
    if not HAS_NETADDR:
        raise HostnetError("the netaddr Python library is required on the target: pip install netaddr")


def mac(value, what="device"):
    """Normalise a MAC to lower-case colon form; refuse invalid, multicast and all-zero ones."""
    _need_netaddr()
    try:
        parsed = netaddr.EUI(str(value), version=48)
    except (netaddr.AddrFormatError, TypeError, ValueError):
        raise HostnetError("%s: '%s' is not a valid MAC address; use the form 52:54:00:12:34:56" % (what, value))
    octets = parsed.words
    if all(o == 0 for o in octets):
        raise HostnetError("%s: MAC '%s' is all zeros; give a unicast address" % (what, value))
    if octets[0] & 1:
        raise HostnetError(
            "%s: MAC '%s' is a multicast address (lowest bit of the first octet set); give a unicast address"
            % (what, value))
    return ":".join("%02x" % o for o in octets)


def derive_mac(seed, prefix="52:54:00"):
    """A deterministic unicast MAC from a seed string (e.g. 'vm1/0') under a 3-octet prefix."""
    first = int(prefix.split(":")[0], 16)
    if first & 1:
        raise HostnetError("MAC prefix '%s' is multicast; use a unicast prefix such as 52:54:00" % prefix)
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return mac("%s:%02x:%02x:%02x" % (prefix, digest[0], digest[1], digest[2]), what="derived MAC for '%s'" % seed)


def eui64(mac, prefix="fe80::/64"):
    """The address the kernel forms from a MAC in a /64 `prefix` (EUI-64: the MAC with ff:fe in its middle and the
    universal/local bit flipped): its link-local address with addr_gen_mode eui64 (the kernel's default), or its
    SLAAC address in a network's prefix."""
    octets = [int(x, 16) for x in mac.split(":")]
    iid = [octets[0] ^ 2] + octets[1:3] + [0xff, 0xfe] + octets[3:]
    upper = bytearray(socket.inet_pton(socket.AF_INET6, prefix.split("/")[0]))[:8]
    return socket.inet_ntop(socket.AF_INET6, bytes(upper + bytearray(iid)))


def eui64_in(start, end):
    """The first address from `start` to `end` (netaddr IPAddress, one /64) whose interface identifier has ff:fe in
    its middle (bits 24-39 of it), the shape of an address formed from a MAC, as text, or None."""
    first = int(start)
    found = (first >> 40 << 40) | (0xfffe << 24)
    if found < first:
        found = (((first >> 40) + 1) << 40) | (0xfffe << 24) if (first >> 24) & 0xffff != 0xfffe else first
    return socket.inet_ntop(socket.AF_INET6, found.to_bytes(16, "big")) if found <= int(end) else None


def eui64_shaped(address):
    """Whether an IPv6 address ('IP' or 'IP/LEN') is a link-local address formed from some MAC: fe80::/64 with ff:fe
    in the middle of its interface identifier."""
    raw = bytearray(socket.inet_pton(socket.AF_INET6, address.split("/")[0]))
    return raw[:8] == bytearray([0xfe, 0x80] + [0] * 6) and raw[11:13] == bytearray([0xff, 0xfe])


def literal(value):
    """Whether `value` (an address, optionally with /PREFIX) is written the one way inet_pton(3) reads it: a dotted
    quad or IPv6. netaddr before 1.0 (Debian 12's 0.8) also takes inet_aton's shorthand, so '10.1' would become
    10.0.0.1, '10.1/24' 10.1.0.0/24 and '012.0.0.1' an octal 10.0.0.1: every address from a user passes here
    before netaddr reads it."""
    if not isinstance(value, str):
        return False
    address, sep, prefix = value.strip().partition("/")
    if sep and not (prefix.isdigit() and len(prefix) <= 3):
        return False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, address)
        except (OSError, ValueError):
            continue
        return True
    return False


def network(value):
    """A literal address or CIDR (see literal) -> netaddr.IPNetwork (a bare address is /32 or /128), or None: the
    lenient reader for checks that collect every problem rather than raise at the first."""
    _need_netaddr()
    if not literal(value):
        return None
    try:
        return netaddr.IPNetwork(value.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return None


def cidr(value, what="address"):
    """Normalise an interface address 'ip/prefix' (IPv4 or IPv6) to netaddr's canonical text."""
    _need_netaddr()
    text = str(value)
    if "/" not in text:
        raise HostnetError("%s '%s' has no prefix length; write it as e.g. 192.0.2.1/24" % (what, value))
    try:
        if not literal(text):
            raise ValueError(text)
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise HostnetError("%s '%s' is not a valid CIDR address (IPv4 a.b.c.d/n or IPv6 x::y/n)" % (what, value))
    return "%s/%d" % (net.ip, net.prefixlen)


def route(value, what="route"):
    """'DST' or 'DST via GATEWAY' (DST a network with its prefix length, no host bits) -> canonical text."""
    _need_netaddr()
    dst, sep, gateway = str(value).strip().partition(" via ")
    try:
        net = netaddr.IPNetwork(dst.strip()) if "/" in dst and literal(dst) else None
    except (netaddr.AddrFormatError, ValueError, TypeError):
        net = None
    if net is None:
        raise HostnetError("%s '%s': the destination is not a network with its prefix length; write e.g."
                           " '10.67.0.0/24 via 10.66.0.254'" % (what, value))
    if net.ip != net.network:
        raise HostnetError("%s '%s': %s has host bits set; give the network, %s" % (what, value, dst.strip(), net.cidr))
    if not sep:
        return str(net.cidr)
    via = ip(gateway.strip(), what="%s '%s': gateway" % (what, value))
    if (":" in via) != (net.version == 6):
        raise HostnetError("%s '%s': the gateway is not of the destination's family" % (what, value))
    return "%s via %s" % (net.cidr, via)


def overlaps(one, other):
    """Whether two netaddr networks or ranges of one family share an address."""
    return one.version == other.version and one.first <= other.last and other.first <= one.last


def within(address, cidr):
    """Whether the address text lies in the network text `cidr` (False across families); both already valid."""
    net, _sep, length = cidr.partition("/")
    if (":" in address) != (":" in net):
        return False
    family = socket.AF_INET6 if ":" in net else socket.AF_INET
    raw = socket.inet_pton(family, net)
    shift = len(raw) * 8 - int(length or len(raw) * 8)
    return int.from_bytes(socket.inet_pton(family, address), "big") >> shift == int.from_bytes(raw, "big") >> shift


def ip(value, what="address"):
    """Normalise a unicast host address without prefix length (IPv4 or IPv6), as a tunnel endpoint is given."""
    _need_netaddr()
    text = str(value)
    try:
        if "/" in text or not literal(text):
            raise ValueError(text)
        addr = netaddr.IPAddress(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise HostnetError("%s '%s' is not an IP address (IPv4 a.b.c.d or IPv6 x::y, without a prefix length)"
                           % (what, value))
    if addr.is_multicast() or addr.is_loopback() or int(addr) == 0 or (addr.version == 4 and int(addr) == 0xFFFFFFFF):
        raise HostnetError("%s '%s' is not a unicast address; give the address of a host" % (what, value))
    return str(addr)


_LOOKUPS = {}


def _lookup(getter, name):
    """getpwnam/getgrnam once per name and process: a set of 1000 taps usually names one owner."""
    key = (getter, name)
    if key not in _LOOKUPS:
        _LOOKUPS[key] = getter(name)  # KeyError (unknown name) is not cached and propagates
    return _LOOKUPS[key]


def _ident(value, what, getter, role, kind):
    """Resolve a user or group name, or a numeric id, to an int; a name must exist."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise HostnetError("%s: %s %r is not a name or a number; give one %s name or numeric id" % (what, role, value, kind))
    if isinstance(value, int) or re.match(r"[0-9]+\Z", value):
        number = int(value)
        if not 0 <= number < 4294967295:
            raise HostnetError("%s: %sid %s is out of range (0..4294967294)" % (what, kind[0], value))
        return number
    no_control(value, what)
    try:
        return _lookup(getter, value)[2]
    except KeyError:
        raise HostnetError("%s: %s '%s' does not exist; create the %s first or give a numeric %sid"
                           % (what, role, value, kind, kind[0]))


def uid(value, what):
    """Resolve a user name or numeric uid to an int uid; a name must exist."""
    return _ident(value, what, pwd.getpwnam, "owner", "user")


def gid(value, what):
    """Resolve a group name or numeric gid to an int gid; a name must exist."""
    return _ident(value, what, grp.getgrnam, "group", "group")
