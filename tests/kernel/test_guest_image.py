"""The test-time artefacts every later test relies on, proven for real:

* the busybox test guest (tests/guest/build.sh): two guests under QEMU TCG on taps in a bridge, inside a
  throwaway network namespace, ping each other and reach each other's TCP services (checked by the guest's
  own `hn.check=` self-checks, read from the serial log), the namespace reaches them too, DHCP works on
  QEMU user networking, and QMP `system_powerdown` makes QEMU exit by itself (ACPI), not by a kill;
* the lab host image (tests/lab/build-image.sh): a rootful podman container boots systemd and has
  pyroute2, netaddr and QEMU.

All traffic stays inside the namespace the test made (or inside QEMU's restricted user network).
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid

import pytest

from conftest import ROOT, sh

GUEST_DIR = os.path.join(ROOT, "tests", "guest")


@pytest.fixture(scope="session")
def guest_image():
    """vmlinuz + initrd.gz of the test guest, built (or found cached) by tests/guest/build.sh."""
    out = os.path.join(ROOT, ".cache", "guest")
    proc = subprocess.run(["bash", os.path.join(GUEST_DIR, "build.sh"), out], capture_output=True, text=True, check=False)
    sys.stderr.write(proc.stderr)
    assert proc.returncode == 0, "tests/guest/build.sh failed:\n%s" % proc.stderr
    return os.path.join(out, "vmlinuz"), os.path.join(out, "initrd.gz")


class Guest(object):
    """One QEMU TCG guest: serial console to a file, QMP on a unix socket, optionally inside a netns."""

    def __init__(self, image, tmp_path, name, append, nics, netns=None):
        self.name = name
        self.log = str(tmp_path / ("%s.serial.log" % name))
        self.qmp_path = str(tmp_path / ("%s.qmp" % name))
        kernel, initrd = image
        cmd = [
            "qemu-system-x86_64", "-accel", "tcg", "-m", "128", "-nodefaults", "-no-user-config",
            "-display", "none", "-serial", "file:" + self.log,
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
            "-kernel", kernel, "-initrd", initrd,
            "-append", "console=ttyS0 quiet hn.name=%s %s" % (name, append),
        ]
        for i, (netdev, mac) in enumerate(nics):
            cmd += ["-netdev", "%s,id=n%d" % (netdev, i), "-device", "virtio-net-pci,netdev=n%d,mac=%s" % (i, mac)]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd  # ip execs QEMU: the pid is QEMU's
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def serial(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def lines(self):
        """The guest's own lines (`hostnet-guest: ...`), without the prefix."""
        return [m.group(1).strip() for m in re.finditer(r"hostnet-guest: ([^\r\n]*)", self.serial())]

    def wait_for(self, pattern, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines():
                m = re.search(pattern, line)
                if m:
                    return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("%s: no line matching %r within %ss (qemu %s).\nQEMU said: %s\nSerial log:\n%s" % (
            self.name, pattern, timeout, "exited %s" % self.proc.returncode if self.proc.poll() is not None
            else "running", self.qemu_output(), self.serial()[-4000:]))

    def qemu_output(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stdout.read()

    def qmp(self, *commands):
        """Run QMP commands; returns their replies (events are skipped)."""
        deadline = time.monotonic() + 10
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.qmp_path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with s, s.makefile("rw") as f:
            json.loads(f.readline())  # greeting
            replies = []
            for command in ("qmp_capabilities",) + commands:
                f.write(json.dumps({"execute": command}) + "\n")
                f.flush()
                while True:
                    msg = json.loads(f.readline())
                    if "event" not in msg:
                        break
                assert "return" in msg, "QMP %s: %s" % (command, msg)
                replies.append(msg["return"])
            return replies[1:]

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def guests():
    """Start guests with guests.append(Guest(...)); every QEMU is killed afterwards, whatever happened."""
    started = []
    try:
        yield started
    finally:
        for g in started:
            g.kill()


def netns_python(netns, code, *args, timeout=30):
    """Run a Python snippet inside the namespace (the host side of the lab network)."""
    return sh(sys.executable, "-c", code, *[str(a) for a in args], netns=netns, timeout=timeout, check=False)


ECHO = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"hello-from-host\n")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(1024)
    if not chunk:
        break
    data += chunk
print(data.decode().strip())
"""

HTTP = r"""
import sys, urllib.request
print(urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=5).read().decode().strip())
"""


def test_two_guests_on_a_bridge_reach_each_other(guest_image, netns, guests, tmp_path):
    # The lab network: a bridge with the host side at .1 and two taps, all inside the throwaway namespace.
    batch = "\n".join([
        "link add br0 type bridge",
        "addr add 10.0.0.1/24 dev br0",
        "link set br0 up",
        "tuntap add dev tap1 mode tap",
        "tuntap add dev tap2 mode tap",
        "link set tap1 master br0",
        "link set tap2 master br0",
        "link set tap1 up",
        "link set tap2 up",
    ]) + "\n"
    subprocess.run(["ip", "-n", netns, "-batch", "-"], input=batch, text=True, check=True)

    t0 = time.monotonic()
    vm2 = Guest(guest_image, tmp_path, "vm2", "hn.net0=10.0.0.3/24 hn.check=ping:10.0.0.2",
                [("tap,ifname=tap2,script=no,downscript=no", "52:54:00:00:00:03")], netns=netns)
    guests.append(vm2)
    vm1 = Guest(guest_image, tmp_path, "vm1",
                "hn.net0=10.0.0.2/24 hn.gw=10.0.0.1 hn.timeout=60 "
                "hn.check=ping:10.0.0.3 hn.check=echo:10.0.0.3:7 hn.check=http:10.0.0.3 "
                "hn.check=tcp:10.0.0.3:9@2",  # nothing listens on 9: this check must fail
                [("tap,ifname=tap1,script=no,downscript=no", "52:54:00:00:00:02")], netns=netns)
    guests.append(vm1)

    ready = vm1.wait_for(r"^ready .*", 60).group(0)
    assert "name=vm1 eth0=10.0.0.2/24" in ready and "errors=0" in ready, ready
    assert "default via 10.0.0.1" in vm1.wait_for(r"^routes .*", 5).group(0)
    vm2.wait_for(r"^ready name=vm2 eth0=10.0.0.3/24 .*errors=0", 60)
    vm1.wait_for(r"^checks done", 120)
    print("two guests: checks done %.1f s after start" % (time.monotonic() - t0))

    results = {m.group(1): m.group(2) for m in map(re.compile(r"^check (\S+) (ok|FAIL)").match, vm1.lines()) if m}
    assert results == {
        "ping:10.0.0.3": "ok",
        "echo:10.0.0.3:7": "ok",
        "http:10.0.0.3": "ok",
        "tcp:10.0.0.3:9@2": "FAIL",
    }, "\n".join(vm1.lines())
    assert any(line.startswith("check http:10.0.0.3 ok (peer=vm2") for line in vm1.lines()), vm1.lines()
    assert "checks done ok=3 fail=1" in vm1.lines()
    vm2.wait_for(r"^check ping:10.0.0.2 ok", 60)

    # The host side, from inside the namespace, reaches both guests' services.
    ping = sh("busybox", "ping", "-c", "2", "-W", "2", "10.0.0.2", netns=netns, check=False)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    echo = netns_python(netns, ECHO, "10.0.0.3", 7)
    assert echo.stdout.strip() == "hello-from-host", echo.stderr
    page = netns_python(netns, HTTP, "10.0.0.2")
    assert page.stdout.strip() == "hostnet-guest name=vm1", page.stderr

    # The bridge learnt both guests' MACs on their own taps.
    fdb = sh("bridge", "-n", netns, "fdb", "show", "br", "br0").stdout
    assert re.search(r"52:54:00:00:00:02 dev tap1", fdb) and re.search(r"52:54:00:00:00:03 dev tap2", fdb), fdb


def test_dhcp_options_and_acpi_powerdown(guest_image, netns, guests, tmp_path):
    # QEMU's user network with restrict=on: its built-in DHCP server answers, nothing leaves QEMU.
    sh("ip", "-n", netns, "tuntap", "add", "dev", "tapx", "mode", "tap")
    sh("ip", "-n", netns, "link", "set", "tapx", "up")
    vm = Guest(guest_image, tmp_path, "vm3",
               "hn.net0=dhcp hn.net1=10.9.0.2/24 hn.route=10.8.0.0/24,10.9.0.1 hn.forward=1 "
               "hn.check=ping:10.0.2.2",
               [("user,restrict=on", "52:54:00:00:00:04"),
                ("tap,ifname=tapx,script=no,downscript=no", "52:54:00:00:00:05")], netns=netns)
    guests.append(vm)
    ready = vm.wait_for(r"^ready .*", 60).group(0)
    assert "eth0=10.0.2.15/24 eth1=10.9.0.2/24 forward=1 errors=0" in ready, ready
    routes = vm.wait_for(r"^routes .*", 5).group(0)
    # (restrict=on makes QEMU's DHCP server leave out the router option: no default route here)
    assert "10.8.0.0/24 via 10.9.0.1 dev eth1" in routes and "default" not in routes, routes
    vm.wait_for(r"^check ping:10.0.2.2 ok", 60)
    vm.wait_for(r"^checks done ok=1 fail=0", 10)

    # ACPI: QMP system_powerdown -> power button -> acpid -> poweroff; QEMU exits by itself.
    t0 = time.monotonic()
    vm.qmp("system_powerdown")
    try:
        rc = vm.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError("QEMU still running 20 s after system_powerdown:\n%s" % vm.serial()[-3000:])
    print("system_powerdown -> QEMU exit: %.1f s" % (time.monotonic() - t0))
    assert rc == 0, vm.qemu_output()
    assert "acpi power button: powering off" in vm.lines(), vm.lines()
    assert "reboot: Power down" in vm.serial()


@pytest.mark.lab
def test_lab_image_boots_systemd_with_python_and_qemu(lab_image):
    name = "hnt-lab-" + uuid.uuid4().hex[:8]
    try:
        sh("podman", "run", "-d", "--name", name, "--privileged", "--systemd=always", "--network=none",
           lab_image, "/sbin/init")
        deadline = time.monotonic() + 90
        while True:
            state = sh("podman", "exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if state == "degraded":
            failed = sh("podman", "exec", name, "systemctl", "--failed", "--no-legend", check=False).stdout
            print("lab container is degraded; failed units:\n" + failed)
        assert state in ("running", "degraded"), "systemctl is-system-running: %r" % state
        py = sh("podman", "exec", name, "python3", "-c",
                "import pyroute2, netaddr; print(pyroute2.__version__, netaddr.__version__)", check=False)
        assert py.returncode == 0, py.stderr
        qemu = sh("podman", "exec", name, "qemu-system-x86_64", "--version", check=False)
        assert qemu.returncode == 0 and qemu.stdout.startswith("QEMU emulator version"), qemu.stdout + qemu.stderr
        helper = sh("podman", "exec", name, "test", "-x", "/usr/lib/qemu/qemu-bridge-helper", check=False)
        assert helper.returncode == 0, "qemu-bridge-helper missing from the lab image"
    finally:
        sh("podman", "rm", "-f", "-t", "0", name, check=False)
