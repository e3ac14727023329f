# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation at the edge: interface names, MACs, CIDRs, users, groups.

Everything here is pure Python (plus netaddr) so it can be shared by every module
and role plugin, and unit-tested without a kernel.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import pwd

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised on targets without netaddr
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = exc

IFNAMSIZ = 16  # kernel buffer, including the trailing NUL: 15 usable bytes
_FORBIDDEN_IFNAME_CHARS = "/:"


def ifname(name, what="interface"):
    """Return name if the kernel would accept it unchanged, else raise.

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
        if char in _FORBIDDEN_IFNAME_CHARS or char.isspace() or ord(char) < 32:
            raise HostnetError(
                "%s '%s': name contains %r; interface names may not contain '/', ':' or whitespace"
                % (what, name, char))
    return name


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


def cidr(value, what="address"):
    """Normalise an interface address 'ip/prefix' (IPv4 or IPv6) to netaddr's canonical text."""
    _need_netaddr()
    text = str(value)
    if "/" not in text:
        raise HostnetError("%s '%s' has no prefix length; write it as e.g. 192.0.2.1/24" % (what, value))
    try:
        net = netaddr.IPNetwork(text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise HostnetError("%s '%s' is not a valid CIDR address (IPv4 a.b.c.d/n or IPv6 x::y/n)" % (what, value))
    return "%s/%d" % (net.ip, net.prefixlen)


_LOOKUPS = {}


def _lookup(getter, name):
    """getpwnam/getgrnam once per name and process: a set of 1000 taps usually names one owner."""
    key = (getter, name)
    if key not in _LOOKUPS:
        _LOOKUPS[key] = getter(name)  # KeyError (unknown name) is not cached and propagates
    return _LOOKUPS[key]


def uid(value, what):
    """Resolve a user name or numeric uid to an int uid; a name must exist."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if not 0 <= number < 4294967295:
            raise HostnetError("%s: uid %s is out of range (0..4294967294)" % (what, value))
        return number
    try:
        return _lookup(pwd.getpwnam, value).pw_uid
    except KeyError:
        raise HostnetError("%s: owner '%s' does not exist; create the user first or give a numeric uid" % (what, value))


def gid(value, what):
    """Resolve a group name or numeric gid to an int gid; a name must exist."""
    if value is None or value == "":
        return None
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        number = int(value)
        if not 0 <= number < 4294967295:
            raise HostnetError("%s: gid %s is out of range (0..4294967294)" % (what, value))
        return number
    try:
        return _lookup(grp.getgrnam, value).gr_gid
    except KeyError:
        raise HostnetError("%s: group '%s' does not exist; create the group first or give a numeric gid" % (what, value))
