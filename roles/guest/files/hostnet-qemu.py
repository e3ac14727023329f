# Installed by the hostnet.qemu.guest role as /usr/local/libexec/hostnet-qemu.py, run by /usr/local/bin/hostnet-qemu.
# GPL-3.0-or-later.
"""hostnet-qemu: commands for the people who run the guests of a hostnet.qemu host.

hostnet-qemu console NAME [--run-dir DIR]
    Attach to guest NAME's serial console (its QEMU serves it on DIR/NAME/console.sock; DIR defaults to
    /run/hostnet-qemu). Ctrl-] (the escape key) detaches; the guest keeps running. Only root and the guest's
    user can reach the socket (its directory is the guest user's, 0750). One connection at a time: a second
    one waits until the first detaches. Everything the console prints is also recorded in the guest's serial
    log (/var/log/hostnet-qemu/NAME/serial.log), whether or not someone is attached.
"""

import errno
import os
import select
import socket
import sys

ESCAPE = b"\x1d"  # Ctrl-]
RUN_DIR = "/run/hostnet-qemu"


def die(msg, code=1):
    sys.stderr.write("hostnet-qemu: %s\n" % msg)
    sys.exit(code)


def connect(name, run_dir):
    if not name or "/" in name or name.startswith("."):
        die("'%s' is not a guest name" % name, 2)
    path = os.path.join(run_dir, name, "console.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
            die("guest '%s' has no console at %s: it is not running (systemctl status hostnet-guest-%s.service)"
                % (name, path, name))
        if exc.errno == errno.EACCES:
            die("guest '%s': permission denied on %s: only root and the guest's user may attach to its console"
                % (name, path))
        die("guest '%s': cannot connect to %s: %s" % (name, path, exc.strerror))
    return sock


def relay(sock, stdin, stdout):
    """Bytes both ways until the escape key, the end of input or QEMU closing the console."""
    while True:
        ready = select.select([sock, stdin], [], [])[0]
        if sock in ready:
            data = sock.recv(65536)
            if not data:
                return "the guest's console closed (QEMU exited)"
            os.write(stdout, data)
        if stdin in ready:
            data = os.read(stdin, 4096)
            if not data:
                return None
            if ESCAPE in data:
                sock.sendall(data[:data.index(ESCAPE)])
                return None
            sock.sendall(data)


def console(args):
    run_dir = RUN_DIR
    if "--run-dir" in args:
        at = args.index("--run-dir")
        if at + 1 >= len(args):
            die("--run-dir needs a directory", 2)
        run_dir = args[at + 1]
        args = args[:at] + args[at + 2:]
    if len(args) != 1:
        die("usage: hostnet-qemu console NAME [--run-dir DIR]", 2)
    sock = connect(args[0], run_dir)
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    tty = os.isatty(stdin)
    sys.stderr.write("hostnet-qemu: connected to guest '%s'; escape with Ctrl-]\r\n" % args[0])
    saved = None
    if tty:
        import termios
        import tty as ttymod
        saved = termios.tcgetattr(stdin)
        ttymod.setraw(stdin)
    try:
        why = relay(sock, stdin, stdout)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
        sock.close()
    sys.stderr.write("\r\nhostnet-qemu: %s\n" % (why or "detached from guest '%s'" % args[0]))
    return 0


def main(argv):
    if argv[:1] == ["console"]:
        return console(argv[1:])
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        sys.stdout.write(__doc__)
        return 0
    die("usage: hostnet-qemu console NAME [--run-dir DIR]  (hostnet-qemu --help)", 2)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
