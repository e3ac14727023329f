# -*- coding: utf-8 -*-
"""hostnet.qemu.ping_group_range against the real kernel, each test in a throwaway network namespace.

Results are read back independently: `ip netns exec NS cat /proc/sys/net/ipv4/ping_group_range`, the drop-in
file, and a real client (an unprivileged process opening an ICMP echo socket).
The host's own value and /etc/sysctl.d are never touched: the module either gets `netns`, or the whole
ansible-playbook runs inside the namespace (`ip netns exec`) with `sysctl_file` under tmp_path.
"""

import os
import uuid

import pytest

from conftest import run_tasks, sh

NOBODY = 65534
PROC = "/proc/sys/net/ipv4/ping_group_range"
ICMP_PROBE = (
    "import socket, errno\n"
    "try:\n"
    "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close(); print('ok')\n"
    "except OSError as e:\n"
    "    print(errno.errorcode[e.errno])\n"
)


def live(netns):
    lo, hi = sh("cat", PROC, netns=netns).stdout.split()
    return [int(lo), int(hi)]


def set_live(netns, lo, hi):
    sh("sh", "-c", "echo '%d %d' > %s" % (lo, hi, PROC), netns=netns)


def icmp_socket(netns, gid, supplementary=None):
    """Open an ICMP echo socket as uid nobody with primary group gid; 'ok' or the errno name."""
    groups = ["--groups", ",".join(str(g) for g in supplementary)] if supplementary else ["--clear-groups"]
    out = sh("setpriv", "--reuid", str(NOBODY), "--regid", str(gid), *groups, "/usr/bin/python3", "-c", ICMP_PROBE,
             netns=netns)
    return out.stdout.strip()


def run_pb(tmp_path, tasks, check=False, in_netns=None):
    return run_tasks(tmp_path, "hostnet.qemu.ping_group_range", tasks, check, in_netns)


def test_real_client_admitted_only_after_module(netns, group, tmp_path):
    name, gid = group
    host_before = sh("cat", PROC).stdout
    assert live(netns) == [1, 0]  # the kernel default in a fresh namespace admits nobody
    assert icmp_socket(netns, gid) == "EACCES"
    rc, res = run_pb(tmp_path, [("pgr", {"groups": [name], "netns": netns})])
    assert rc == 0, res
    assert res["pgr"]["changed"] is True
    assert res["pgr"]["before"] == [1, 0] and res["pgr"]["after"] == [gid, gid]
    assert res["pgr"]["persist"] is False and res["pgr"]["sysctl_file"] is None  # netns: not persisted
    assert live(netns) == [gid, gid]
    assert icmp_socket(netns, gid) == "ok"                                   # member (primary group)
    assert icmp_socket(netns, NOBODY, supplementary=[gid]) == "ok"           # member (supplementary group)
    assert icmp_socket(netns, NOBODY) == "EACCES"                            # non-member still refused
    assert sh("cat", PROC).stdout == host_before  # the host's own value is untouched


def test_four_steps_with_persist_inside_netns(netns, group, tmp_path):
    """check (changed, nothing written) / apply (changed) / apply (unchanged) / check (unchanged); live and file."""
    name, gid = group
    conf = tmp_path / "sysctl.d" / "60-hostnet-qemu-ping-group-range.conf"
    tasks = [("pgr", {"groups": [name], "sysctl_file": str(conf)})]
    rc, res = run_pb(tmp_path, tasks, check=True, in_netns=netns)
    assert rc == 0 and res["pgr"]["changed"] is True, res
    assert res["pgr"]["after"] == [gid, gid] and res["pgr"]["persist"] is True
    assert live(netns) == [1, 0] and not conf.exists()

    rc, res = run_pb(tmp_path, tasks, in_netns=netns)
    assert rc == 0 and res["pgr"]["changed"] is True and res["pgr"]["file_changed"] is True, res
    assert live(netns) == [gid, gid]
    content = conf.read_text()
    assert content.splitlines()[-1] == "net.ipv4.ping_group_range = %d %d" % (gid, gid)
    assert oct(conf.stat().st_mode & 0o777) == oct(0o644)
    assert [p.name for p in conf.parent.iterdir()] == [conf.name]  # no temporary files left behind

    for check in (False, True):
        rc, res = run_pb(tmp_path, tasks, check=check, in_netns=netns)
        assert rc == 0 and res["pgr"]["changed"] is False, res
    assert conf.read_text() == content and live(netns) == [gid, gid]


def test_four_steps_with_netns_option(netns, group, tmp_path):
    name, gid = group
    tasks = [("pgr", {"groups": [name], "netns": netns})]
    expected = [True, True, False, False]
    for check, want in zip((True, False, False, True), expected):
        rc, res = run_pb(tmp_path, tasks, check=check)
        assert rc == 0 and res["pgr"]["changed"] is want, (check, res)
        assert live(netns) == ([1, 0] if want and check else [gid, gid])


def test_extend_keeps_a_wider_range_and_exact_narrows(netns, tmp_path):
    set_live(netns, 100, 200)
    rc, res = run_pb(tmp_path, [("pgr", {"range": [150, 160], "netns": netns})])
    assert rc == 0 and res["pgr"]["changed"] is False and live(netns) == [100, 200]
    rc, res = run_pb(tmp_path, [("pgr", {"range": [150, 250], "netns": netns})])
    assert res["pgr"]["changed"] is True and live(netns) == [100, 250]
    rc, res = run_pb(tmp_path, [("pgr", {"range": [150, 160], "policy": "exact", "netns": netns})])
    assert res["pgr"]["changed"] is True and res["pgr"]["before"] == [100, 250] and live(netns) == [150, 160]


def test_non_contiguous_groups_warn_and_report_extra(netns, tmp_path):
    # gids 0 (root) and 2 (bin): the range 0-2 also admits gid 1 (daemon on Debian).
    rc, res = run_pb(tmp_path, [("pgr", {"groups": ["root", "2"], "netns": netns})])
    assert rc == 0 and live(netns) == [0, 2]
    extra = res["pgr"]["admitted_extra_groups"]
    assert {"name": sh("getent", "group", "1").stdout.split(":")[0], "gid": 1} in extra
    daemon = sh("getent", "group", "1").stdout.split(":")[0]
    assert ("ping_group_range: the wanted gids [0, 2] are not contiguous; range 0-2 also admits the groups %s(1)"
            % daemon) in res["pgr"].get("warnings", []), res["pgr"]


def test_extending_a_live_range_that_is_not_next_to_the_wanted_gids_warns_with_the_cause_and_the_fix(netns, tmp_path):
    """A container's default '0 0' extended to gid 2 gives 0-2, which admits gid 1 although only 2 was asked for."""
    set_live(netns, 0, 0)
    rc, res = run_pb(tmp_path, [("pgr", {"groups": ["2"], "netns": netns})])
    assert rc == 0 and live(netns) == [0, 2]
    daemon = sh("getent", "group", "1").stdout.split(":")[0]
    assert res["pgr"]["admitted_extra_groups"] == [{"name": daemon, "gid": 1}]
    assert res["pgr"]["warnings"] == [
        "ping_group_range: extending the live range 0-0 to the wanted gids [2] gives 0-2, which also admits the groups"
        " %s(1); set policy: exact to set the range to 2-2" % daemon]
    rc, res = run_pb(tmp_path, [("pgr", {"groups": ["2"], "policy": "exact", "netns": netns})])
    assert rc == 0 and live(netns) == [2, 2] and not res["pgr"].get("warnings"), res["pgr"]


def test_large_gid_accepted_by_this_kernel(netns, tmp_path):
    """Linux >= 6.5 accepts gids up to 4294967294 (measured on the test machine's kernel)."""
    rc, res = run_pb(tmp_path, [("pgr", {"range": [0, 4294967294], "netns": netns})])
    assert rc == 0 and res["pgr"]["changed"] is True, res
    assert live(netns) == [0, 4294967294]


@pytest.mark.parametrize("args,msg", [
    ({"groups": ["hnt-no-such-group"]},
     "ping_group_range: group 'hnt-no-such-group' does not exist; create the group first or give a numeric gid"),
    ({"range": [0, 4294967295]},
     "ping_group_range: gid 4294967295 is out of range; the kernel accepts 0..4294967294 (0..2147483647 before Linux 6.5)"),
    ({"groups": ["4294967295"]},
     "ping_group_range: gid 4294967295 is out of range; the kernel accepts 0..4294967294 (0..2147483647 before Linux 6.5)"),
    ({"range": [200, 100]},
     "ping_group_range: range [200, 100] is empty (lo > hi); the kernel would silently store '1 0' and admit nobody;"
     " give [lo, hi] with lo <= hi"),
])
def test_bad_inputs_fail_and_change_nothing(netns, tmp_path, args, msg):
    set_live(netns, 7, 9)
    conf = tmp_path / "pgr.conf"
    conf.write_text("# sentinel\n")
    rc, res = run_pb(tmp_path, [("pgr", dict(args, sysctl_file=str(conf)))], in_netns=netns)
    assert res["pgr"]["failed"] is True
    assert res["pgr"]["msg"] == msg
    assert live(netns) == [7, 9]
    assert conf.read_text() == "# sentinel\n"


def test_missing_netns_is_an_error_and_not_created(tmp_path):
    name = "hnt-missing-%s" % uuid.uuid4().hex[:6]
    rc, res = run_pb(tmp_path, [("pgr", {"groups": ["root"], "netns": name})])
    assert res["pgr"]["failed"] is True
    assert "netns '%s': network namespace does not exist" % name in res["pgr"]["msg"]
    assert not os.path.exists("/run/netns/" + name)
