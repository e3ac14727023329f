# -*- coding: utf-8 -*-
"""hostnet.qemu.bridge_helper against the real qemu-bridge-helper and the real kernel.

The host's helper and /etc/qemu are never modified: the module works on a copy of the binary and an ACL file
in a temporary directory. The real client proof runs the copied helper as an unprivileged user inside a
throwaway network namespace and a private mount namespace in which the temporary ACL directory is
bind-mounted over /etc/qemu (the helper only reads its compiled-in /etc/qemu/bridge.conf) and a 0666
/dev/net/tun node over /dev/net/tun (on this machine the host's node is 0600; the host role fixes that
on real hosts). Capabilities are read back with getcap, owner and mode with stat.
"""

import json
import os
import shutil
import stat
import tempfile

import pytest

from conftest import run_tasks, sh

REAL_HELPER = "/usr/lib/qemu/qemu-bridge-helper"
NOBODY = 65534
BEGIN = "# BEGIN hostnet.qemu managed block (hostnet.qemu.bridge_helper): do not edit between these markers"
END = "# END hostnet.qemu managed block"

HARNESS = r'''
import array, json, os, socket, subprocess, sys
helper, bridge = sys.argv[1], sys.argv[2]
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
result = {"uid": os.getuid(), "groups": os.getgroups()}
try:
    proc = subprocess.run([helper, "--use-vnet", "--br=" + bridge, "--fd=%d" % theirs.fileno()],
                          pass_fds=[theirs.fileno()], capture_output=True, text=True)
except PermissionError:
    result["exec_error"] = "EACCES"
    print(json.dumps(result)); sys.exit(0)
theirs.close()
result.update(rc=proc.returncode, stderr=proc.stderr.strip(), fds=[])
if proc.returncode == 0:
    msg, anc, flags, addr = ours.recvmsg(1, socket.CMSG_LEN(4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            result["fds"] += array.array("i", data[:4]).tolist()
    # While we hold the tap's fd the (non-persistent) tap exists: look at it now.
    result["links"] = json.loads(subprocess.run(["ip", "-j", "-d", "link", "show"], capture_output=True,
                                                text=True).stdout)
    result["fd_target"] = os.readlink("/proc/self/fd/%d" % result["fds"][0]) if result["fds"] else None
print(json.dumps(result))
'''


@pytest.fixture
def lab():
    """A world-traversable temp dir with a copy of the real helper, an ACL dir and a 0666 tun node."""
    if not os.path.exists(REAL_HELPER):
        pytest.fail("%s missing: apt-get install qemu-system-common" % REAL_HELPER)
    base = tempfile.mkdtemp(prefix="hnt-bh-", dir="/tmp")
    os.chmod(base, 0o755)
    helper = os.path.join(base, "qemu-bridge-helper")
    shutil.copyfile(REAL_HELPER, helper)  # the bytes only: never the real helper's security.capability xattr
    os.chmod(helper, 0o755)
    etc = os.path.join(base, "etc-qemu")
    os.mkdir(etc, 0o755)
    os.chmod(etc, 0o755)
    tun = os.path.join(base, "tun")
    os.mknod(tun, 0o666 | stat.S_IFCHR, os.makedev(10, 200))
    os.chmod(tun, 0o666)
    harness = os.path.join(base, "harness.py")
    with open(harness, "w") as handle:
        handle.write(HARNESS)
    os.chmod(harness, 0o644)
    created_etc_qemu = not os.path.isdir("/etc/qemu")
    if created_etc_qemu:
        os.mkdir("/etc/qemu", 0o755)  # only a mount point for the private bind mount; removed afterwards
    try:
        yield {"dir": base, "helper": helper, "etc": etc, "config": os.path.join(etc, "bridge.conf"), "tun": tun,
               "harness": harness}
    finally:
        shutil.rmtree(base, ignore_errors=True)
        if created_etc_qemu:
            os.rmdir("/etc/qemu")


@pytest.fixture
def bridges(netns):
    for name in ("br0", "br1"):
        sh("ip", "-n", netns, "link", "add", name, "type", "bridge")
        sh("ip", "-n", netns, "link", "set", name, "up")
    return netns


def run_helper(lab, netns, bridge, gid, supplementary=None):
    """Run the copied helper as nobody with primary group gid in netns; the harness's JSON result."""
    groups = "--groups %s" % ",".join(str(g) for g in supplementary) if supplementary else "--clear-groups"
    script = ("mount --bind {etc} /etc/qemu && mount --bind {tun} /dev/net/tun && "
              "exec ip netns exec {ns} setpriv --reuid {uid} --regid {gid} {groups} /usr/bin/python3 {harness} {helper} {br}"
              ).format(etc=lab["etc"], tun=lab["tun"], ns=netns, uid=NOBODY, gid=gid, groups=groups,
                       harness=lab["harness"], helper=lab["helper"], br=bridge)
    out = sh("unshare", "-m", "sh", "-c", script)
    return json.loads(out.stdout)


def getcap(path):
    return sh("getcap", path).stdout.strip()


def meta(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def run_pb(tmp_path, tasks, check=False):
    return run_tasks(tmp_path, "hostnet.qemu.bridge_helper", tasks, check)


def test_real_helper_attaches_only_allowed_bridges_for_group_members(lab, bridges, group, tmp_path):
    netns = bridges
    name, gid = group
    before = run_helper(lab, netns, "br0", gid)
    assert before["rc"] == 1 and before["fds"] == []  # no ACL file and no capability yet

    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "group": name, "mode": "0750",
                                        "allow": ["br0"], "deny": ["br1"]})])
    assert rc == 0 and res["bh"]["changed"] is True, res
    assert res["bh"]["caps_before"] == [] and res["bh"]["caps_after"] == ["cap_net_admin"]
    assert res["bh"]["effective_acl"]["allowed_bridges"] == ["br0"]
    # Independent read-back: getcap, stat.
    assert getcap(lab["helper"]) == "%s cap_net_admin=ep" % lab["helper"]
    assert meta(lab["helper"]) == (0, gid, 0o750)
    assert meta(lab["config"]) == (0, gid, 0o640)
    assert open(lab["config"]).read() == "%s\nallow br0\ndeny br1\n%s\n" % (BEGIN, END)

    member = run_helper(lab, netns, "br0", gid)
    assert member["rc"] == 0 and len(member["fds"]) == 1, member
    assert member["fd_target"] == "/dev/net/tun"
    taps = [link for link in member["links"] if link.get("master") == "br0"]
    assert len(taps) == 1 and taps[0]["linkinfo"]["info_kind"] == "tun", member["links"]
    assert taps[0]["linkinfo"]["info_slave_kind"] == "bridge"

    supplementary = run_helper(lab, netns, "br0", NOBODY, supplementary=[gid])
    assert supplementary["rc"] == 0 and len(supplementary["fds"]) == 1, supplementary

    denied = run_helper(lab, netns, "br1", gid)
    assert denied["rc"] == 1 and denied["stderr"] == "access denied by acl file"
    unlisted = run_helper(lab, netns, "br2", gid)
    assert unlisted["stderr"] == "access denied by acl file"

    outsider = run_helper(lab, netns, "br0", NOBODY)
    assert outsider.get("exec_error") == "EACCES", outsider


def test_four_steps(lab, group, tmp_path):
    name, gid = group
    args = {"path": lab["helper"], "config": lab["config"], "group": name, "allow": ["br0", "br-lab"]}
    helper_meta, helper_caps = meta(lab["helper"]), getcap(lab["helper"])
    rc, res = run_pb(tmp_path, [("bh", args)], check=True)
    assert rc == 0 and res["bh"]["changed"] is True, res
    assert res["bh"]["caps_after"] == ["cap_net_admin"]
    assert meta(lab["helper"]) == helper_meta and getcap(lab["helper"]) == helper_caps
    assert not os.path.exists(lab["config"])
    rc, res = run_pb(tmp_path, [("bh", args)])
    assert rc == 0 and res["bh"]["changed"] is True
    assert any("does not exist (yet)" in w for w in res["bh"].get("warnings", []))
    text = open(lab["config"]).read()
    for check in (False, True):
        rc, res = run_pb(tmp_path, [("bh", args)], check=check)
        assert rc == 0 and res["bh"]["changed"] is False, (check, res)
    assert open(lab["config"]).read() == text
    assert getcap(lab["helper"]) == "%s cap_net_admin=ep" % lab["helper"]
    assert meta(lab["helper"]) == (0, gid, 0o750)


def test_chown_clears_caps_so_they_are_written_after_it(lab, group, tmp_path):
    name, gid = group
    sh("setcap", "cap_net_admin=ep", lab["helper"])
    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "group": name})])
    assert rc == 0 and res["bh"]["changed"] is True
    assert res["bh"]["caps_before"] == ["cap_net_admin"] and res["bh"]["caps_after"] == ["cap_net_admin"]
    assert meta(lab["helper"]) == (0, gid, 0o750)
    assert getcap(lab["helper"]) == "%s cap_net_admin=ep" % lab["helper"]


def test_extra_caps_are_replaced_and_setuid_method(lab, tmp_path):
    sh("setcap", "cap_net_admin,cap_net_raw=eip", lab["helper"])
    base = {"path": lab["helper"], "config": lab["config"], "allow": ["br0"]}
    rc, res = run_pb(tmp_path, [("bh", base)])
    assert res["bh"]["changed"] is True and res["bh"]["caps_before"] == ["cap_net_admin", "cap_net_raw"]
    assert getcap(lab["helper"]) == "%s cap_net_admin=ep" % lab["helper"]

    rc, res = run_pb(tmp_path, [("suid", dict(base, method="setuid")), ("again", dict(base, method="setuid"))])
    assert res["suid"]["changed"] is True and res["again"]["changed"] is False, res
    assert getcap(lab["helper"]) == ""
    assert meta(lab["helper"]) == (0, 0, 0o4755)

    rc, res = run_pb(tmp_path, [("back", base)])
    assert res["back"]["changed"] is True
    assert meta(lab["helper"]) == (0, 0, 0o755)
    assert getcap(lab["helper"]) == "%s cap_net_admin=ep" % lab["helper"]


def test_setuid_helper_works_for_a_member(lab, bridges, group, tmp_path):
    """method=setuid: the helper drops to the caller's uid keeping CAP_NET_ADMIN (libcap-ng build)."""
    name, gid = group
    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "group": name,
                                        "method": "setuid", "allow": ["br0"]})])
    assert rc == 0 and meta(lab["helper"]) == (0, gid, 0o4750)
    member = run_helper(lab, bridges, "br0", gid)
    assert member["rc"] == 0 and len(member["fds"]) == 1, member


def test_foreign_lines_kept_exclusive_and_absent(lab, tmp_path):
    foreign = "# distribution default\nallow virbr0\n"
    with open(lab["config"], "w") as handle:
        handle.write(foreign)
    base = {"path": lab["helper"], "config": lab["config"]}
    rc, res = run_pb(tmp_path, [("add", dict(base, allow=["br0"], include=[lab["harness"]]))])
    assert res["add"]["changed"] is True
    text = open(lab["config"]).read()
    assert text == foreign + "%s\ninclude %s\nallow br0\n%s\n" % (BEGIN, lab["harness"], END)
    assert res["add"]["effective_acl"]["allowed_bridges"] == ["br0", "virbr0"]

    rc, res = run_pb(tmp_path, [("absent", dict(base, state="absent"))])
    assert res["absent"]["changed"] is True and res["absent"]["caps_after"] == []
    assert open(lab["config"]).read() == foreign
    assert getcap(lab["helper"]) == ""

    rc, res = run_pb(tmp_path, [("excl", dict(base, allow=["br0"], exclusive=True)),
                                ("excl2", dict(base, allow=["br0"], exclusive=True))])
    assert res["excl"]["changed"] is True and res["excl2"]["changed"] is False
    assert open(lab["config"]).read() == "%s\nallow br0\n%s\n" % (BEGIN, END)


def test_allow_all_warns(lab, tmp_path):
    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "allow_all": True})])
    assert rc == 0 and res["bh"]["effective_acl"]["all_bridges_allowed"] is True
    assert "allow all\n" in open(lab["config"]).read()
    assert any("allow_all writes 'allow all'" in w for w in res["bh"]["warnings"])


@pytest.mark.parametrize("args,msg", [
    ({"path": "{dir}/nonexistent-helper"},
     "bridge_helper: qemu-bridge-helper not found (tried {dir}/nonexistent-helper); install it (Debian/Ubuntu:"
     " qemu-system-common, Fedora/RHEL: qemu-kvm or qemu-system-x86-core) or give its location in path"),
    ({"allow": ["br-0123456789abc"]},
     "bridge_helper: allowed bridge 'br-0123456789abc': name is 16 bytes long; Linux allows at most 15, pick a shorter"
     " name"),
    ({"deny": ["br/0"]},
     "bridge_helper: denied bridge 'br/0': name contains '/'; interface names may contain only letters, digits, '_', '.' and '-'"),
    ({"allow": ["br0"], "include": ["{dir}/missing.conf"]},
     "bridge_helper: include file '{dir}/missing.conf' does not exist (No such file or directory); qemu-bridge-helper"
     " silently ignores missing includes, so its rules would be lost; create the file first or drop it from include"),
    ({"allow": ["br0", "all"]},
     "bridge_helper: 'all' in allow would let every user of the helper attach to every bridge; set allow_all: true to"
     " mean that, or list the bridges by name"),
    # a privileged helper, its ACL or an include that users may rewrite would hand them every bridge
    ({"allow": ["br0"], "mode": "0777"},
     "bridge_helper: {dir}/qemu-bridge-helper would run privileged (setcap) at mode 0777, which others could rewrite;"
     " give mode '0755' (or '0750' with a group)"),
    ({"allow": ["br0"], "method": "setuid", "group": "nogroup", "mode": 0o770},
     "bridge_helper: {dir}/qemu-bridge-helper would run privileged (setuid) at mode 0770, which the members of gid"
     " 65534 could rewrite; give mode '0755' (or '0750' with a group)"),
    ({"allow": ["br0"], "config_mode": "0666"},
     "bridge_helper: {dir}/etc-qemu/bridge.conf at mode 0666 could be rewritten by others, who could then allow"
     " themselves every bridge through the privileged helper; give config_mode '0644' (or '0640' with a group)"),
    ({"allow": ["br0"], "group": "nogroup", "config_mode": 0o660},
     "bridge_helper: {dir}/etc-qemu/bridge.conf at mode 0660 could be rewritten by the members of gid 65534, who could"
     " then allow themselves every bridge through the privileged helper; give config_mode '0644' (or '0640' with a"
     " group)"),
    ({"allow": ["br0"], "include": ["{dir}/open.conf"]},
     "bridge_helper: include file '{dir}/open.conf' (mode 0666) can be rewritten by others, who could allow themselves"
     " every bridge through the privileged helper; chmod go-w '{dir}/open.conf' (or drop it from include)"),
])
def test_bad_inputs_fail_and_change_nothing(lab, tmp_path, args, msg):
    with open(lab["config"], "w") as handle:
        handle.write("allow sentinel\n")
    with open(os.path.join(lab["dir"], "open.conf"), "w") as handle:
        handle.write("allow br1\n")
    os.chmod(os.path.join(lab["dir"], "open.conf"), 0o666)
    helper_before = (meta(lab["helper"]), getcap(lab["helper"]))
    full = {"path": lab["helper"], "config": lab["config"]}
    full.update({k: (v.format(dir=lab["dir"]) if isinstance(v, str) else
                     [x.format(dir=lab["dir"]) for x in v] if isinstance(v, list) else v) for k, v in args.items()})
    rc, res = run_pb(tmp_path, [("bh", full)])
    assert res["bh"]["failed"] is True
    assert res["bh"]["msg"] == msg.format(dir=lab["dir"])
    assert (meta(lab["helper"]), getcap(lab["helper"])) == helper_before
    assert open(lab["config"]).read() == "allow sentinel\n"


def test_a_helper_others_may_write_is_not_given_privilege(lab, tmp_path):
    """Without `mode` the helper keeps its bits: a 0757 copy is refused, not made privileged; 0755 is fine."""
    os.chmod(lab["helper"], 0o757)
    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "allow": ["br0"]})])
    assert res["bh"]["msg"] == ("bridge_helper: %s would run privileged (setcap) at mode 0757 (its current mode; mode"
                                " not given), which others could rewrite; give mode '0755' (or '0750' with a group)"
                                % lab["helper"])
    assert (meta(lab["helper"]), getcap(lab["helper"])) == ((0, 0, 0o757), "") and not os.path.exists(lab["config"])
    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "allow": ["br0"], "mode": "0755"})])
    assert rc == 0 and meta(lab["helper"]) == (0, 0, 0o755) and "cap_net_admin" in getcap(lab["helper"])


@pytest.mark.parametrize("foreign", ["allow all\n", "# lab default\nallow all\nallow virbr0\n"])
def test_a_foreign_allow_all_is_refused_not_kept_silently(lab, tmp_path, foreign):
    with open(lab["config"], "w") as handle:
        handle.write(foreign)
    helper_before = (meta(lab["helper"]), getcap(lab["helper"]))
    base = {"path": lab["helper"], "config": lab["config"], "allow": ["br0"]}
    rc, res = run_pb(tmp_path, [("bh", base)])
    assert res["bh"]["failed"] is True
    assert res["bh"]["msg"] == (
        "bridge_helper: %s allows all bridges through a line the module does not manage ('allow all' outside its "
        "block, or in an include): every user of the helper could attach a tap to every bridge. Remove that line, "
        "set exclusive: true to own the whole file, or set allow_all: true if that is what you mean" % lab["config"])
    assert open(lab["config"]).read() == foreign and (meta(lab["helper"]), getcap(lab["helper"])) == helper_before
    # exclusive owns the whole file: the foreign line goes, and only br0 is allowed
    rc, res = run_pb(tmp_path, [("bh", dict(base, exclusive=True))])
    assert rc == 0 and res["bh"]["effective_acl"]["all_bridges_allowed"] is False
    assert res["bh"]["effective_acl"]["allowed_bridges"] == ["br0"]


@pytest.mark.parametrize("mode, bits", [(0o640, 0o640), ("0640", 0o640), ("600", 0o600)])
def test_config_mode_int_is_bits_string_is_octal(lab, tmp_path, mode, bits):
    """YAML 0640 unquoted is the int 416: the bits, as ansible.builtin.file reads it (it once became mode 0416)."""
    rc, res = run_pb(tmp_path, [("bh", {"path": lab["helper"], "config": lab["config"], "allow": ["br0"],
                                        "config_mode": mode})])
    assert rc == 0 and not res["bh"].get("failed"), res
    assert os.stat(lab["config"]).st_mode & 0o7777 == bits
