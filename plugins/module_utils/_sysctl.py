# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""net.ipv4.ping_group_range: read, plan and apply (live, per network namespace) and persist (sysctl.d).

Measured facts this relies on:
  * /proc/sys/net/* shows the network namespace of the task that opens it, so entering a
    namespace in-process with setns(2) (see _netns) and then opening /proc/sys/net works.
  * The kernel accepts gids 0..4294967294 (gid_t minus the invalid (gid_t)-1) since Linux 6.5;
    older kernels (e.g. Debian 12's 6.1) refuse anything above 2147483647 with EINVAL.
  * Writing "LO HI" with LO > HI is not refused: the kernel silently stores "1 0" (nobody),
    so LO > HI is rejected here before anything is written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import grp
import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _files
from ansible_collections.hostnet.qemu.plugins.module_utils import _netns
from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

KEY = "net.ipv4.ping_group_range"
PROC_PATH = "/proc/sys/net/ipv4/ping_group_range"
DEFAULT_FILE = "/etc/sysctl.d/60-hostnet-qemu-ping-group-range.conf"
GID_MAX = 4294967294  # (gid_t)-1 is the invalid gid; the kernel (>= 6.5) accepts everything below it
OLD_KERNEL_GID_MAX = 2147483647  # Linux < 6.5: GID_T_MAX was ((gid_t)~0U) >> 1
EMPTY = (1, 0)  # the kernel's "nobody" value
WHAT = "ping_group_range"


def is_empty(rng):
    return rng[0] > rng[1]


def contains(rng, gids):
    """True if every gid in gids lies inside the (inclusive) range."""
    return all(rng[0] <= g <= rng[1] for g in gids)


def parse(text, what=PROC_PATH):
    """'LO<ws>HI' -> (lo, hi) as ints."""
    fields = text.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields):
        raise HostnetError("%s: cannot parse %r as two gids 'LO HI'" % (what, text))
    return int(fields[0]), int(fields[1])


def check_gid(value, what=WHAT):
    """A gid for the range: an int 0..GID_MAX (ints and digit strings only)."""
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise HostnetError("%s: %r is not a gid; give a number between 0 and %d" % (what, value, GID_MAX))
    number = int(value)
    if not 0 <= number <= GID_MAX:
        raise HostnetError("%s: gid %d is out of range; the kernel accepts 0..%d (0..%d before Linux 6.5)"
                           % (what, number, GID_MAX, OLD_KERNEL_GID_MAX))
    return number


def resolve_groups(groups):
    """Group names or gids -> sorted list of unique int gids; names must exist."""
    if not groups:
        raise HostnetError("%s: 'groups' is empty; name at least one group or gid" % WHAT)
    gids = set()
    for item in groups:
        text = str(item).strip()
        if text.isdigit() or isinstance(item, int):
            gids.add(check_gid(item))
            continue
        gids.add(_validate.gid(text, WHAT))
    return sorted(gids)


def check_range(value):
    """A [lo, hi] pair from the user -> (lo, hi); lo <= hi."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise HostnetError("%s: range must be a list of two gids [lo, hi], got %r" % (WHAT, value))
    lo, hi = check_gid(value[0]), check_gid(value[1])
    if lo > hi:
        raise HostnetError("%s: range [%d, %d] is empty (lo > hi); the kernel would silently store '1 0' and admit nobody;"
                           " give [lo, hi] with lo <= hi" % (WHAT, lo, hi))
    return lo, hi


def target_range(current, wanted, policy):
    """The range to set.

    wanted is the (lo, hi) hull of what was asked for. 'exact' returns it; 'extend' returns the
    union hull of the current range and wanted (just wanted if the current range is empty).
    """
    if policy == "exact" or is_empty(current):
        return wanted
    if policy != "extend":
        raise HostnetError("%s: unknown policy '%s'; use 'extend' or 'exact'" % (WHAT, policy))
    return min(current[0], wanted[0]), max(current[1], wanted[1])


def newly_admitted_groups(before, after, wanted_gids, group_db=None):
    """Groups in the group database admitted by `after` but neither by `before` nor asked for.

    Returned as sorted [{'name': ..., 'gid': ...}] so a non-contiguous request can be warned about.
    """
    if group_db is None:
        group_db = [(g.gr_name, g.gr_gid) for g in grp.getgrall()]
    wanted = set(wanted_gids or ())
    extra = []
    for name, number in group_db:
        if number in wanted:
            continue
        if after[0] <= number <= after[1] and not (before[0] <= number <= before[1]):
            extra.append({"name": name, "gid": number})
    return sorted(extra, key=lambda g: (g["gid"], g["name"]))


def extra_groups_warning(result):
    """The warning when the new range admits groups nobody asked for: because the wanted gids are not contiguous,
    or because `extend` joined them to a live range they are not next to (a container's '0 0', say)."""
    extra = ", ".join("%s(%d)" % (g["name"], g["gid"]) for g in result["admitted_extra_groups"])
    wanted, before, after = result["wanted_gids"], result["before"], result["after"]
    if after != [wanted[0], wanted[-1]]:
        return ("%s: extending the live range %d-%d to the wanted gids %s gives %d-%d, which also admits the groups %s;"
                " set policy: exact to set the range to %d-%d"
                % (WHAT, before[0], before[1], wanted, after[0], after[1], extra, wanted[0], wanted[-1]))
    return "%s: the wanted gids %s are not contiguous; range %d-%d also admits the groups %s" % (
        WHAT, wanted, after[0], after[1], extra)


SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")


def shadowing_files(sysctl_file, dirs=SYSCTL_DIRS):
    """Other sysctl.d files that systemd-sysctl applies after sysctl_file and that also set the key.

    systemd-sysctl sorts all *.conf basenames across these directories (a name in /etc hides the same name
    elsewhere) and applies them in that order, so a later file wins.
    """
    ours = os.path.basename(sysctl_file)
    seen, found = set(), []
    for directory in dirs:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if not name.endswith(".conf") or name in seen:
                continue
            seen.add(name)
            path = os.path.join(directory, name)
            if name <= ours or os.path.abspath(path) == os.path.abspath(sysctl_file):
                continue
            try:
                with open(path) as handle:
                    lines = handle.read().splitlines()
            except (IOError, OSError):
                continue
            for line in lines:
                key = line.split("=", 1)[0].strip().lstrip("-").replace("/", ".")
                if "=" in line and not line.lstrip().startswith(("#", ";")) and key == KEY:
                    found.append(path)
                    break
    return sorted(found, key=os.path.basename)


def render_file(rng):
    return ("# Managed by Ansible (hostnet.qemu.ping_group_range); local changes will be overwritten.\n"
            "# Groups whose gid is in this range may open ICMP echo sockets (SOCK_DGRAM, IPPROTO_ICMP),\n"
            "# which QEMU user-mode networking needs for ping from guests.\n"
            "%s = %d %d\n" % (KEY, rng[0], rng[1]))


def read_live(netns=None):
    """The live (lo, hi) of the network namespace `netns` (None: ours)."""
    with _netns.entered(netns):
        try:
            with open(PROC_PATH) as handle:
                text = handle.read()
        except (IOError, OSError) as exc:
            raise HostnetError("%s: cannot read %s: %s; is IPv4 enabled in this kernel?" % (WHAT, PROC_PATH, exc.strerror))
    return parse(text)


def write_live(rng, netns=None):
    with _netns.entered(netns):
        try:
            fd = os.open(PROC_PATH, os.O_WRONLY)
            try:
                os.write(fd, ("%d %d\n" % rng).encode("ascii"))
            finally:
                os.close(fd)
        except (IOError, OSError) as exc:
            if exc.errno == errno.EINVAL and rng[1] > OLD_KERNEL_GID_MAX:
                raise HostnetError("%s: the kernel refused '%d %d' (EINVAL); kernels before Linux 6.5 accept gids only up to %d,"
                                   " use groups with smaller gids" % (WHAT, rng[0], rng[1], OLD_KERNEL_GID_MAX))
            raise HostnetError("%s: cannot write '%d %d' to %s: %s" % (WHAT, rng[0], rng[1], PROC_PATH, exc.strerror))


def plan(groups=None, rng=None, policy="extend", netns=None, persist=None, sysctl_file=DEFAULT_FILE):
    """Read the current state once and compute what to change. Pure apart from the reads."""
    if (groups is None) == (rng is None):
        raise HostnetError("%s: give exactly one of 'groups' or 'range'" % WHAT)
    if policy not in ("extend", "exact"):
        raise HostnetError("%s: unknown policy '%s'; use 'extend' or 'exact'" % (WHAT, policy))
    if persist is None:
        persist = not netns
    elif persist and netns:
        raise HostnetError("%s: persist=true cannot be combined with netns '%s': sysctl.d files apply to the host's initial"
                           " network namespace only; set persist=false (the namespace's creator must set it at boot)"
                           % (WHAT, netns))
    if groups is not None:
        wanted_gids = resolve_groups(groups)
        wanted = (wanted_gids[0], wanted_gids[-1])
    else:
        wanted = check_range(rng)
        wanted_gids = None

    before = read_live(netns)
    after = target_range(before, wanted, policy)
    extra = newly_admitted_groups(before, after, wanted_gids) if wanted_gids is not None else []

    result = {
        "before": list(before),
        "after": list(after),
        "wanted_gids": wanted_gids,
        "admitted_extra_groups": extra,
        "live_changed": after != before,
        "persist": persist,
        "sysctl_file": sysctl_file if persist else None,
    }
    diff = [{
        "before_header": "%s (live%s)" % (KEY, ", netns %s" % netns if netns else ""),
        "after_header": "%s (live%s)" % (KEY, ", netns %s" % netns if netns else ""),
        "before": "%d %d\n" % before,
        "after": "%d %d\n" % after,
    }]
    result["file_changed"] = False
    if persist:
        old = _files.read_text(sysctl_file, WHAT)
        new = render_file(after)
        result["file_changed"] = old != new
        result["file_text"] = new
        diff.append({"before_header": sysctl_file, "after_header": sysctl_file, "before": old or "", "after": new})
        result["shadowed_by"] = shadowing_files(sysctl_file)
    result["changed"] = result["live_changed"] or result["file_changed"]
    result["diff"] = diff
    return result


def apply(result, netns=None):
    """Carry out a plan from plan(): live value first (it validates against the kernel), then the file."""
    if result["live_changed"]:
        write_live(tuple(result["after"]), netns)
    if result["file_changed"]:
        _files.write_atomic(result["sysctl_file"], result["file_text"], WHAT)
