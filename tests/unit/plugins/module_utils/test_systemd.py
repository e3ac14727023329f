# -*- coding: utf-8 -*-
"""What a guest's unit records about itself (module_utils/_systemd.py): the hash of what only a restart applies,
and the settings by field that name a restart's reason. Rendered by the guest role's own renderer."""

from ansible_collections.hostnet.qemu.plugins.module_utils import _systemd
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _guest, _guestrender

HOST = {"users": {"qemu": ["x", "999", "999", "", "/", "/bin/false"]}, "links": ["lo", "vmbr0"],
        "files": {"/img/k": True, "/img/i": True, "/img/a,b %n.iso": True}, "kvm_users": [], "vhost_users": [],
        "installs_firmware": True}


def unit(**kw):
    guest = {"name": "vm1", "memory": 128, "kernel": "/img/k", "initrd": "/img/i", "append": "console=ttyS0",
             "nics": [{"kind": "tap", "bridge": "vmbr0"}]}
    guest.update(kw)
    settings = {"user": "qemu"}
    if "stop_timeout" in kw:
        settings["stop_timeout"] = guest.pop("stop_timeout")
    return _guestrender.unit(_guest.normalise_all([guest], settings, HOST)[0])


def test_the_stop_timeout_and_comments_need_no_restart():
    base = unit()
    slower = unit(stop_timeout=120)
    assert base != slower and "TimeoutStopSec=135" in slower
    assert _systemd.recorded_hash(base) == _systemd.recorded_hash(slower)
    assert _systemd.recorded_hash(base.replace("# Managed by", "# Written by")) == _systemd.recorded_hash(base)
    assert _systemd.config_hash(base) == _systemd.recorded_hash(base)


def test_the_cdrom_media_needs_no_restart():
    base, iso, comma = unit(), unit(cdrom="/img/i"), unit(cdrom="/img/a,b %n.iso")
    assert base != iso
    assert _systemd.recorded_hash(base) == _systemd.recorded_hash(iso) == _systemd.recorded_hash(comma)
    assert _systemd.recorded_settings(base) == _systemd.recorded_settings(iso)
    line = [x for x in comma.splitlines() if x.startswith("Environment=%s=" % _systemd.CDROM_KEY)]
    assert line == ["Environment=HOSTNET_QEMU_CDROM=L2ltZy9hLGIgJW4uaXNv"]  # base64 of the path: nothing to quote
    assert "Environment=%s=" % _systemd.CDROM_KEY not in base
    assert ("-drive if=none,id=cdrom0,media=cdrom,readonly=on \\\n    -device virtio-scsi-pci,id=scsi0 \\\n"
            "    -device scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0") in base


def test_memory_nics_and_the_command_line_need_a_restart():
    base = _systemd.recorded_hash(unit())
    for other in (unit(memory=256), unit(append="console=ttyS0 quiet"), unit(nics=[{"kind": "tap", "mtu": 1450}]),
                  unit(cpus=2)):
        assert _systemd.recorded_hash(other) != base


def test_a_restart_names_the_fields_that_changed():
    def changes(old, new):
        return _systemd.setting_changes(_systemd.recorded_settings(old), _systemd.recorded_settings(new))
    assert changes(unit(), unit(memory=256, cpus=2)) == "cpus 1 -> 2, memory 128 -> 256"
    assert changes(unit(), unit(firmware="uefi")) == "firmware bios -> uefi"
    assert changes(unit(), unit()) is None
    older = "\n".join(line for line in unit().splitlines() if _systemd.SETTINGS_KEY not in line)
    assert _systemd.recorded_settings(older) is None and changes(older, unit()) is None
    settings = _systemd.recorded_settings(unit(append="console=ttyS0 a=%h \"q\" 100%"))
    assert settings["nics"].startswith("tap vmbr0 52:54:00:") and settings["append"] == 'console=ttyS0 a=%h "q" 100%'
    line = [x for x in unit(append="a=%h 100%").splitlines() if _systemd.SETTINGS_KEY in x][0]
    assert "%" not in line and " " not in line  # nothing systemd would expand or split


def test_restarts_in_groups_of_at_most_parallel(monkeypatch):
    calls = []
    monkeypatch.setattr(_systemd, "systemctl", lambda what, *args: calls.append(args))
    _systemd.apply_sets("guests", {"restart": ["a", "b", "c", "d", "e"], "start": ["f", "g"]}, parallel=2)
    assert calls == [("restart", "--", "a", "b"), ("restart", "--", "c", "d"), ("restart", "--", "e"),
                     ("start", "--", "f", "g")]
