# -*- coding: utf-8 -*-
"""A guest's own files (plugins/module_utils/_seed.py) and their plan (_guestset._own_files), on the real file system
with the real genisoimage; the seed is read back with isoinfo, not with the module's own reader."""

import grp
import os
import pwd
import subprocess

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _guestset, _seed
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

FILES = {"meta-data": "instance-id: iid-vm1\nlocal-hostname: vm1\n", "user-data": "#cloud-config\nhostname: vm1\n"}
NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrnam("nogroup").gr_gid

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the seed is root's and the guest user's group's: run as root")


def _seed_of(files, digest="ab" * 32):
    return {"files": files, "hash": digest}


def _isoinfo(path, *args):
    return subprocess.run(["isoinfo", "-i", path] + list(args), check=True, capture_output=True, text=True).stdout


def test_build_writes_a_cidata_iso_with_the_files(tmp_path):
    path = str(tmp_path / "state" / "vm1" / "seed.iso")
    _seed.build(dict(_seed_of(FILES), path=path), NOGROUP, "guest 'vm1'", "genisoimage")
    info = _isoinfo(path, "-d")
    assert "Volume id: cidata" in info
    assert "Application id: HOSTNET-SEED-" + "AB" * 16 in info
    assert _isoinfo(path, "-J", "-x", "/user-data") == FILES["user-data"]
    assert _isoinfo(path, "-J", "-x", "/meta-data") == FILES["meta-data"]
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, NOGROUP, 0o640)
    st = os.stat(os.path.dirname(path))
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, NOGROUP, 0o750)
    assert _seed.recorded_hash(path) == "ab" * 16
    assert sorted(os.listdir(os.path.dirname(path))) == ["seed.iso"]  # no work directory left


def test_recorded_hash_of_other_files(tmp_path):
    other = tmp_path / "other.iso"
    subprocess.run(["genisoimage", "-quiet", "-o", str(other), "-V", "cidata", str(tmp_path)], check=True)
    assert _seed.recorded_hash(str(other)) is None
    (tmp_path / "short").write_bytes(b"x" * 100)
    assert _seed.recorded_hash(str(tmp_path / "short")) is None
    assert _seed.recorded_hash(str(tmp_path / "missing")) is None


def test_build_failure_names_the_tool_and_leaves_nothing(tmp_path):
    path = str(tmp_path / "vm1" / "seed.iso")
    with pytest.raises(HostnetError) as err:
        _seed.build(dict(_seed_of(FILES), path=path), NOGROUP, "guest 'vm1'", "/bin/false")
    assert "guest 'vm1': /bin/false could not make the cloud-init seed %s" % path in str(err.value)
    assert os.listdir(os.path.dirname(path)) == []


def test_copy_vars_once_and_for_the_guest_user(tmp_path):
    template = tmp_path / "OVMF_VARS.template"
    template.write_bytes(b"\x00vars" * 100)
    path = str(tmp_path / "vm1" / "OVMF_VARS.fd")
    assert _seed.copy_vars(path, str(template), NOBODY.pw_uid, NOGROUP, "guest 'vm1'") is True
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (NOBODY.pw_uid, NOGROUP, 0o600)
    with open(path, "ab") as handle:
        handle.write(b"written by the guest")
    assert _seed.copy_vars(path, str(template), NOBODY.pw_uid, NOGROUP, "guest 'vm1'") is False
    assert open(path, "rb").read().endswith(b"written by the guest")
    with pytest.raises(HostnetError) as err:
        _seed.copy_vars(str(tmp_path / "vm2" / "OVMF_VARS.fd"), str(tmp_path / "none"), 0, 0, "guest 'vm2'")
    assert "guest 'vm2': cannot make the UEFI variable store" in str(err.value)


def _plan(guest, state_dir):
    steps = {"write_seeds": [], "copy_vars": [], "remove_files": []}
    actions = []
    _guestset._own_files(guest, str(state_dir), steps, actions)
    return steps, actions


def test_plan_of_own_files(tmp_path):
    guest = {"name": "vm1", "state": "started", "seed": _seed_of(FILES), "firmware_vars": {"template": "/t"}}
    steps, actions = _plan(guest, tmp_path)
    seed_path, vars_path = str(tmp_path / "vm1" / "seed.iso"), str(tmp_path / "vm1" / "OVMF_VARS.fd")
    assert actions == ["create cloud-init seed %s" % seed_path,
                       "create UEFI variable store %s from /t" % vars_path]
    _seed.build(dict(guest["seed"], path=seed_path), NOGROUP, "guest 'vm1'", "genisoimage")
    open(vars_path, "w").close()
    assert _plan(guest, tmp_path)[1] == []  # same content, store present: nothing
    assert _plan(dict(guest, seed=_seed_of(FILES, "cd" * 32)), tmp_path)[1] == ["rewrite cloud-init seed %s" % seed_path]
    assert _plan(dict(guest, seed=None), tmp_path)[1] == ["remove cloud-init seed %s" % seed_path]
    # a removed guest: the seed goes; its variable store only with remove_disks
    assert _plan(dict(guest, state="absent"), tmp_path)[1] == ["remove cloud-init seed %s" % seed_path]
    assert _plan(dict(guest, state="absent", remove_disks=True), tmp_path)[1] == [
        "remove cloud-init seed %s" % seed_path, "remove UEFI variable store %s" % vars_path]


def test_plan_of_a_tpm(tmp_path):
    units, state = tmp_path / "units", tmp_path / "state"
    units.mkdir()
    guest = {"name": "vm1", "state": "started", "tpm": {"content": "[Unit]\n"}}

    def tpm_plan(guest, props=None):
        steps = {"write_units": [], "tpm_dirs": [], "stop_absent": [], "remove_units": [], "remove_tpm_state": []}
        actions, diff = [], []
        _guestset._tpm(guest, str(units), str(state), props or {}, steps, actions, diff)
        return steps, actions
    steps, actions = tpm_plan(guest)
    unit = str(units / "hostnet-swtpm-vm1.service")
    assert actions == ["write TPM unit %s" % unit, "create TPM state %s/vm1/tpm" % state]
    assert steps["reload"] is True
    (units / "hostnet-swtpm-vm1.service").write_text("[Unit]\n")
    os.makedirs(str(state / "vm1" / "tpm"))
    assert tpm_plan(guest)[1] == []
    assert tpm_plan(dict(guest, tpm=None), {"ActiveState": "active"})[1] == [
        "stop TPM hostnet-swtpm-vm1.service", "remove TPM unit %s" % unit]
    assert tpm_plan(dict(guest, state="absent", remove_disks=True))[1] == [
        "remove TPM unit %s" % unit, "remove TPM state %s/vm1/tpm" % state]
