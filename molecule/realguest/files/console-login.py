# Run by verify.yml (ansible.builtin.script, python3) on the lab host.
"""Log in on a guest's serial console through `hostnet-qemu console NAME`, as a person would at a terminal.

console-login.py NAME USER PASSWORD: attach (under a pseudo-terminal), wait for the login prompt, log in, run a
command, log out, detach with Ctrl-]. Prints what the console showed; exits 0 when every step was seen."""

import os
import pty
import select
import sys
import time

name, user, password = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("hostnet-qemu", ["hostnet-qemu", "console", name])

seen = b""


def expect(want, timeout, nudge=None):
    """Read until `want` appears after what was matched before; `nudge` is sent every 5 s meanwhile."""
    global seen
    deadline, last = time.monotonic() + timeout, 0.0
    while want not in seen:
        if time.monotonic() > deadline:
            sys.stdout.write(seen.decode("utf-8", "replace"))
            sys.exit("console-login: %r not seen within %d s" % (want, timeout))
        if nudge is not None and time.monotonic() - last > 5:
            os.write(fd, nudge)
            last = time.monotonic()
        ready = select.select([fd], [], [], 1)[0]
        if ready:
            try:
                seen += os.read(fd, 4096)
            except OSError:
                break
    sys.stdout.write(seen.decode("utf-8", "replace"))
    seen = seen[seen.index(want) + len(want):]


expect(b"escape with Ctrl-]", 10)
expect(b"login: ", 120, nudge=b"\r")
os.write(fd, user.encode() + b"\r")
expect(b"Password: ", 30)
os.write(fd, password.encode() + b"\r")
expect(b"$ ", 60)
os.write(fd, b"echo console-$((6 * 7)) on $(hostname)\r")
expect(b"console-42 on " + name.encode(), 30)
os.write(fd, b"exit\r")
expect(b"login: ", 60)
os.write(fd, b"\x1d")
expect(b"detached from guest", 10)
status = os.waitpid(pid, 0)[1]
sys.exit(0 if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else "console-login: hostnet-qemu exited %d" % status)
