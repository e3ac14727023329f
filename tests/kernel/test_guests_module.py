# -*- coding: utf-8 -*-
"""hostnet.qemu.guests refuses hostile input before it reads or changes anything (this machine has no systemd:
the module's systemd work is proven in the lab, molecule scenario default)."""

from conftest import run_tasks

UNIT = "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/true\n"


def guest(**kw):
    base = {"name": "vm1", "unit": "hostnet-guest-vm1.service", "content": UNIT}
    base.update(kw)
    return base


CASES = [
    (guest(unit="../../etc/cron.d/x.service"), "guest 'vm1': unit '../../etc/cron.d/x.service' is not a unit file name"),
    (guest(unit="vm1"), "guest 'vm1': unit 'vm1' is not a unit file name; give NAME.service"),
    (guest(unit=".hidden.service"), "guest 'vm1': unit '.hidden.service' is not a unit file name"),
    (guest(name="vm1\nExecStartPre=/x"), "is not a valid name; use 1 to 64 letters"),
    (guest(content=None), "guest 'vm1': content is required unless state is absent"),
    (guest(disks=[{"path": "disk.qcow2", "create": "new", "size": "1G"}]), "guest 'vm1': disks[].path: 'disk.qcow2'"),
    (guest(disks=[{"path": "/a/../etc/passwd"}]), "guest 'vm1': disks[].path:"),
    (guest(create_user=True, user="-oroot"), "guest 'vm1': user: '-oroot' is not a valid user name"),
    (guest(create_user=True, user="root"), "guest 'vm1': user: QEMU guests never run as root"),
    (guest(create_user=True, user="hq-vm1", group="a b"), "guest 'vm1': group: 'a b' is not a valid user name"),
    (guest(create_user=True), "guest 'vm1': create_user needs user"),
    (guest(state="on"), "value of state must be one of: started, stopped, absent"),
    (guest(remove_disks="maybe"), "remove_disks"),
]


def test_hostile_input_is_refused_before_anything(tmp_path):
    """All cases in one play (one ansible-playbook start), each its own task."""
    units = tmp_path / "units"
    tasks = [("case %d" % i, {"guests": [entry], "unit_dir": str(units)}) for i, (entry, _msg) in enumerate(CASES)]
    _rc, res = run_tasks(tmp_path, "hostnet.qemu.guests", tasks)
    for i, (_entry, message) in enumerate(CASES):
        result = res["case %d" % i]
        assert result.get("failed"), result
        assert message in result["msg"], (i, result["msg"])
    assert not units.exists()
