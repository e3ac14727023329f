# -*- coding: utf-8 -*-
"""The hostnet-qemu command (roles/guest/files/hostnet-qemu.py): `console NAME` relays between the terminal and the
guest's console socket, detaches on Ctrl-], and says why it cannot attach. The socket here is a real Unix socket
served by the test in place of QEMU's chardev; molecule/realguest attaches to a real guest's console."""

import os
import pty
import select
import socket
import subprocess
import sys
import threading
import time

from conftest import ROOT

SCRIPT = os.path.join(ROOT, "roles", "guest", "files", "hostnet-qemu.py")


def serve(run_dir, name, received):
    """A console socket like QEMU's: greets, then records what it gets until the client goes."""
    os.makedirs(os.path.join(run_dir, name))
    server = socket.socket(socket.AF_UNIX)
    server.bind(os.path.join(run_dir, name, "console.sock"))
    server.listen(1)

    def run():
        conn = server.accept()[0]
        conn.sendall(b"Debian GNU/Linux 12 rg1 ttyS0\r\n\r\nrg1 login: ")
        while True:
            data = conn.recv(4096)
            if not data:
                break
            received.append(data)
        conn.close()
        server.close()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_console_on_a_terminal_detaches_with_ctrl_bracket(tmp_path):
    received = []
    thread = serve(str(tmp_path), "rg1", received)
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, SCRIPT, "console", "rg1", "--run-dir", str(tmp_path)])
    seen = b""
    deadline = time.monotonic() + 10
    while b"login: " not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            seen += os.read(fd, 4096)
    os.write(fd, b"root\r")
    time.sleep(0.3)
    os.write(fd, b"x\x1dnot sent")
    while b"detached" not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    status = os.waitpid(pid, 0)[1]
    thread.join(5)
    assert b"connected to guest 'rg1'; escape with Ctrl-]" in seen
    assert b"rg1 login: " in seen and b"detached from guest 'rg1'" in seen
    assert b"".join(received) == b"root\rx"  # raw mode: the terminal's keys as typed; nothing after Ctrl-]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def test_console_refusals(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, check=False)
    gone = run("console", "vm9", "--run-dir", str(tmp_path))
    assert gone.returncode == 1
    assert gone.stderr == ("hostnet-qemu: guest 'vm9' has no console at %s/vm9/console.sock: it is not running"
                           " (systemctl status hostnet-guest-vm9.service)\n" % tmp_path)
    assert run("console", "../etc").stderr == "hostnet-qemu: '../etc' is not a guest name\n"
    assert run("console").returncode == 2 and run("frobnicate").returncode == 2
    assert "hostnet-qemu console NAME" in run("--help").stdout
