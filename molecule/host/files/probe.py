"""Real-client probes for the host role's molecule scenario.

  probe.py access HELPER          (run as the user under test) JSON: can it open /dev/net/tun, open an ICMP echo
                                  socket, execute the bridge helper
  probe.py qemu USER BRIDGE|- ARG...  (run as root) start qemu-system-x86_64 ARG... as USER (setpriv, with USER's
                                  groups); wait until QEMU holds a tun fd (and a port appears in BRIDGE), QEMU
                                  exits, or 3 s pass; JSON: still running?, rc, stderr, new bridge ports, the
                                  interfaces QEMU's /dev/net/tun fds are attached to; QEMU is always killed.
"""
import errno
import json
import os
import socket
import subprocess
import sys
import time


def access(helper):
    out = {"uid": os.getuid(), "groups": sorted(os.getgroups())}
    try:
        os.close(os.open("/dev/net/tun", os.O_RDWR))
        out["tun"] = "ok"
    except OSError as exc:
        out["tun"] = errno.errorcode[exc.errno]
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
        out["icmp"] = "ok"
    except OSError as exc:
        out["icmp"] = errno.errorcode[exc.errno]
    try:
        subprocess.run([helper, "--help"], capture_output=True, check=False)
        out["helper_exec"] = "ok"
    except OSError as exc:
        out["helper_exec"] = errno.errorcode[exc.errno]
    return out


def ports(bridge):
    path = "/sys/class/net/%s/brif" % bridge
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def tun_ifaces(pid):
    """Interfaces a process holds open through /dev/net/tun (the kernel prints "iff:" in the fd's fdinfo)."""
    names = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) != "/dev/net/tun":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as handle:
                names += [line.split()[1] for line in handle if line.startswith("iff:")]
        except OSError:
            continue
    return sorted(names)


def qemu(user, bridge, args):
    before = ports(bridge) if bridge != "-" else []
    cmd = ["setpriv", "--reuid", user, "--regid", user, "--init-groups", "qemu-system-x86_64",
           "-machine", "none", "-nodefaults", "-display", "none", "-S"] + args
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    new, held = [], []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and proc.poll() is None:
        held = tun_ifaces(proc.pid)
        new = [p for p in ports(bridge) if p not in before] if bridge != "-" else []
        if held and (new or bridge == "-"):
            break
        time.sleep(0.1)
    running = proc.poll() is None
    proc.kill()
    _out, err = proc.communicate()
    return {"running": running, "rc": proc.returncode, "stderr": err.strip(), "new_ports": new, "tun_ifaces": held}


if __name__ == "__main__":
    if sys.argv[1] == "access":
        print(json.dumps(access(sys.argv[2])))
    else:
        print(json.dumps(qemu(sys.argv[2], sys.argv[3], sys.argv[4:])))
