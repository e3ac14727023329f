# -*- coding: utf-8 -*-
"""The guest role's launcher (roles/guest/files/hostnet-qemu-guest): the graceful stop speaks QMP and waits for
QEMU to close the socket; launch opens /dev/tapN for a macvtap on the fd QEMU is told about."""

import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
from conftest import ROOT

SCRIPT = os.path.join(ROOT, "roles", "guest", "files", "hostnet-qemu-guest")


def load():
    loader = importlib.machinery.SourceFileLoader("hostnet_qemu_guest", SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def fake_qmp(path, linger):
    """A QMP server that records commands and closes `linger` seconds after system_powerdown (QEMU exiting)."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    seen = []

    def serve():
        conn, _addr = server.accept()
        with conn, conn.makefile("r") as reader, conn.makefile("w") as writer:
            writer.write(json.dumps({"QMP": {"version": {}, "capabilities": []}}) + "\n")
            writer.flush()
            for line in reader:
                command = json.loads(line)["execute"]
                seen.append(command)
                writer.write(json.dumps({"return": {}}) + "\n")
                writer.flush()
                if command == "system_powerdown":
                    time.sleep(linger)
                    break
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return seen, thread


def test_stop_sends_powerdown_and_waits_for_exit(tmp_path):
    path = str(tmp_path / "qmp.sock")
    seen, thread = fake_qmp(path, linger=1.0)
    t0 = time.monotonic()
    rc = subprocess.run([sys.executable, SCRIPT, "stop", "--timeout", "10", path], capture_output=True, text=True,
                        check=False, timeout=30)
    elapsed = time.monotonic() - t0
    thread.join(5)
    assert rc.returncode == 0, rc.stderr
    assert seen == ["qmp_capabilities", "system_powerdown"]
    assert 0.9 <= elapsed < 8, elapsed  # waited for the "exit", did not give up early or hang


def test_stop_gives_up_after_timeout(tmp_path):
    path = str(tmp_path / "qmp.sock")
    fake_qmp(path, linger=30)
    t0 = time.monotonic()
    rc = subprocess.run([sys.executable, SCRIPT, "stop", "--timeout", "1", path], capture_output=True, text=True,
                        check=False, timeout=30)
    assert rc.returncode == 0 and time.monotonic() - t0 < 10
    assert "did not power off in 1s" in rc.stdout, rc.stdout


def test_stop_without_qemu_is_a_no_op(tmp_path):
    assert load().stop([str(tmp_path / "absent.sock")]) == 0


def test_launch_opens_the_macvtap_node_on_the_fd(tmp_path, monkeypatch):
    launcher = load()
    sysfs = tmp_path / "sys"
    (sysfs / "vm1-m0").mkdir(parents=True)
    (sysfs / "vm1-m0" / "ifindex").write_text("42\n")
    node = tmp_path / "tap42"
    node.write_text("")
    real_open = open

    def fake_open(path, *args, **kw):
        if str(path).startswith("/sys/class/net/"):
            path = str(sysfs) + str(path)[len("/sys/class/net"):]
        return real_open(path, *args, **kw)

    opened = {}
    real_os_open = os.open

    def fake_os_open(path, flags, *args):
        opened["path"] = path
        return real_os_open(str(node) if path == "/dev/tap42" else path, flags, *args)

    execs = []
    monkeypatch.setattr(launcher, "open", fake_open, raising=False)
    monkeypatch.setattr(launcher.os, "open", fake_os_open)
    monkeypatch.setattr(launcher.os, "execv", lambda prog, argv: execs.append((prog, argv, os.fstat(203))))
    launcher.launch(["--fd", "203=vm1-m0", "--", "/usr/bin/qemu", "-netdev", "tap,id=net0,fd=203"])
    assert opened["path"] == "/dev/tap42"
    prog, argv, st = execs[0]
    assert prog == "/usr/bin/qemu" and argv == ["/usr/bin/qemu", "-netdev", "tap,id=net0,fd=203"]
    assert st.st_ino == os.stat(node).st_ino and os.get_inheritable(203)
    os.close(203)


def test_launch_waits_for_the_tcp_peer_to_listen_before_starting_qemu():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # a free port nobody listens on yet
    accepted = []

    def listen_later():
        time.sleep(1.5)
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(4)
        server.settimeout(20)
        conn, _addr = server.accept()  # the launcher's probe, closed at once
        accepted.append(conn.recv(1))
        conn.close()
        server.close()

    thread = threading.Thread(target=listen_later, daemon=True)
    thread.start()
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, SCRIPT, "launch", "--wait-for", "127.0.0.1:%d" % port, "--",
                           "/bin/echo", "qemu-started"], capture_output=True, text=True, check=False, timeout=60)
    thread.join(10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "qemu-started" and time.monotonic() - t0 >= 1.4
    assert accepted == [b""]  # the probe connected and closed: the listener is free for QEMU's own connection


def test_launch_inserts_the_units_cdrom_media():
    """The media comes from the unit's HOSTNET_QEMU_CDROM (base64); commas in the path are doubled for QEMU."""
    import base64
    path = "/srv/iso/install,1 %n.iso"
    env = dict(os.environ, HOSTNET_QEMU_CDROM=base64.urlsafe_b64encode(path.encode()).decode())
    argv = [sys.executable, SCRIPT, "launch", "--", "/bin/echo", "-m", "128", "-drive",
            "if=none,id=cdrom0,media=cdrom,readonly=on", "-device", "scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0"]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    assert out == ("-m 128 -drive if=none,id=cdrom0,media=cdrom,readonly=on,file=/srv/iso/install,,1 %n.iso"
                   " -device scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0\n")
    env.pop("HOSTNET_QEMU_CDROM")
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    assert out == "-m 128 -drive if=none,id=cdrom0,media=cdrom,readonly=on -device scsi-cd,drive=cdrom0,id=cd0,bus=scsi0.0\n"
