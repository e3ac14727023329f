# -*- coding: utf-8 -*-
"""hostnet.qemu.host_info through ansible-playbook, as root: the answers are checked against getent, the real
/sys/class/net and files whose modes decide what nobody (65534) and the group `users` may open."""

import grp
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import run_tasks

GROUP = "users"


@pytest.fixture
def tree():
    """A world-traversable directory (tmp_path is 0700, which would hide everything from other users)."""
    if GROUP not in [g.gr_name for g in grp.getgrall()]:
        pytest.skip("this machine has no group '%s' to give a file to" % GROUP)
    top = tempfile.mkdtemp(prefix="hostnet-info-")
    os.chmod(top, 0o755)
    files = {}
    for name, mode, gid in (("public", 0o644, 0), ("secret", 0o600, 0), ("group", 0o640, grp.getgrnam(GROUP).gr_gid),
                            ("rw", 0o666, 0)):
        path = os.path.join(top, name)
        with open(path, "w") as handle:
            handle.write(name + "\n")
        os.chown(path, 0, gid)
        os.chmod(path, mode)
        files[name] = path
    hidden = os.path.join(top, "closed")
    os.mkdir(hidden, 0o700)
    files["behind"] = os.path.join(hidden, "file")
    with open(files["behind"], "w") as handle:
        handle.write("x\n")
    os.chmod(files["behind"], 0o644)
    yield top, files
    shutil.rmtree(top)


def getent(database, key):
    return subprocess.run(["getent", database, key], capture_output=True, text=True, check=True).stdout.strip()


def test_one_call_reports_databases_links_files_and_what_each_user_may_open(tmp_path, tree):
    top, f = tree
    acl = os.path.join(top, "bridge.conf")
    with open(acl, "w") as handle:
        handle.write("allow br0\ninclude %s\n  include %s/missing.conf\n" % (f["public"], top))
    paths = [f["public"], f["secret"], f["group"], f["behind"], os.path.join(top, "nothing")]
    args = {"paths": paths, "users": ["root", "nobody", "no-such-user-hq"], "stand_in_group": GROUP,
            "devices": [f["rw"], f["secret"]], "acl": acl}
    _rc, res = run_tasks(tmp_path, "hostnet.qemu.host_info", [("real", args)])
    _rc, checked = run_tasks(tmp_path, "hostnet.qemu.host_info", [("check", args)], check=True)
    out = res["real"]
    assert not out.get("failed"), out
    assert out["changed"] is False
    assert out["passwd"]["root"] == getent("passwd", "root").split(":")[1:]
    assert out["group"][GROUP] == getent("group", GROUP).split(":")[1:]
    assert out["links"] == sorted(os.listdir("/sys/class/net"))
    assert out["exists"] == paths[:4]
    assert set(out["access"]) == {"root", "nobody"}
    assert out["access"]["root"] == {"devices": [f["rw"], f["secret"]], "readable": paths[:4]}
    # nobody: the world-readable file only; the 0600 device, the group's file and the file behind 0700 are refused
    assert out["access"]["nobody"] == {"devices": [f["rw"]], "readable": [f["public"]]}
    # the stand-in has the group: its file too
    assert out["stand_in"] == {"devices": [f["rw"]], "readable": [f["public"], f["group"]]}
    assert out["acl"] == {"path": acl, "text": open(acl).read(), "includes": {f["public"]: "public\n"}}
    checked["check"].pop("invocation", None)
    out.pop("invocation", None)
    assert checked["check"] == out


def test_absent_acl_and_stand_in_group_are_reported_as_such(tmp_path, tree):
    top, _f = tree
    args = {"stand_in_group": "no-such-group-hq", "acl": os.path.join(top, "none.conf")}
    _rc, res = run_tasks(tmp_path, "hostnet.qemu.host_info", [("absent", args), ("bare", {})])
    assert res["absent"]["stand_in"] is None
    assert res["absent"]["acl"] == {"path": os.path.join(top, "none.conf"), "text": None, "includes": {}}
    assert res["bare"]["acl"] is None and res["bare"]["access"] == {} and res["bare"]["exists"] == []
