# -*- coding: utf-8 -*-
"""Shared pytest fixtures: the collection on sys.path, throwaway network namespaces, ansible-playbook.

Tests run as root against the real kernel. Every namespace a test makes is deleted in a finalizer.
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "hostnet", "qemu")


def _ensure_link():
    if not os.path.islink(LINK):
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        os.symlink(ROOT, LINK)


_ensure_link()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


def pytest_configure(config):
    config.addinivalue_line("markers", "lab: needs the podman lab image (tests/lab/build-image.sh builds it, cached)")
    # the collection's host-wide lock (module_utils/_lock.py) of this test session, not the machine's
    # /run/hostnet-qemu.lock: a run of the collection on this host is never blocked by the tests, nor they by it
    config._hostnet_lock_dir = tempfile.mkdtemp(prefix="hostnet-lock-")
    os.environ["HOSTNET_QEMU_LOCK"] = os.path.join(config._hostnet_lock_dir, "hostnet-qemu.lock")


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_hostnet_lock_dir", ""), ignore_errors=True)


def sh(*args, check=True, netns=None, **kw):
    """Run a command (optionally inside a netns) and return CompletedProcess with text output."""
    cmd = list(args)
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def links(netns):
    """The kernel's view, read independently of the collection: `ip -d -j link` as a dict by name."""
    out = sh("ip", "-n", netns, "-d", "-j", "link", "show").stdout
    return {link["ifname"]: link for link in json.loads(out)}


# moves on its own: carrier, timers, counters, a bridge port's STP state ("state" in info_slave_data)
_VOLATILE = ("operstate", "state", "linkmode", "stats", "stats64", "flags", "carrier_changes", "carrier_up_count",
             "carrier_down_count")


def _stable(value):
    if isinstance(value, dict):
        return dict((k, _stable(v)) for k, v in value.items() if not k.endswith("_timer") and k not in _VOLATILE)
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def snapshot(netns):
    """What a user configured, per link, for "nothing changed" assertions: `ip -d -j link` minus timers,
    carrier and operstate (which move on their own), plus the administrative UP flag and addresses."""
    out = {}
    for name, link in links(netns).items():
        entry = _stable(link)
        entry["admin_up"] = "UP" in link.get("flags", [])
        entry["addresses"] = addrs(netns, name)
        out[name] = entry
    return out


def addrs(netns, name):
    out = sh("ip", "-n", netns, "-j", "addr", "show", "dev", name).stdout
    return sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in json.loads(out)[0]["addr_info"])


def link_local(netns, ifname):
    """The link-local addresses of `ifname` as `ip -j` gives them, [(address, stable-privacy flag)] sorted, once it
    has one and duplicate address detection is over (a bridge forms one only when a port brings carrier)."""
    for _attempt in range(50):
        out = json.loads(sh("ip", "-n", netns, "-6", "-j", "addr", "show", "dev", ifname, "scope", "link").stdout)
        info = [a for a in (out[0]["addr_info"] if out else []) if "local" in a]
        if info and not any(a.get("tentative") for a in info):
            return sorted((a["local"], bool(a.get("stable-privacy"))) for a in info)
        time.sleep(0.1)
    raise AssertionError("%s in %s: no link-local address out of duplicate address detection" % (ifname, netns))


# a guest's claim: `python -c NA_SCRIPT MAC ADDRESS` in its namespace says ADDRESS is at MAC on its eth0
NA_SCRIPT = r"""
import socket, struct, sys
mac, target = bytes.fromhex(sys.argv[1].replace(":", "")), socket.inet_pton(socket.AF_INET6, sys.argv[2])
raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
raw.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
# an unsolicited neighbour advertisement (type 136) with the override flag: TARGET is at MAC
packet = struct.pack("!BBHI", 136, 0, 0, 0x20000000) + target + b"\x02\x01" + mac
for _ in range(3):
    raw.sendto(packet, ("ff02::1", 0, 0, socket.if_nametoindex("eth0")))
"""


_PING = r"""
import os, socket, struct, sys, time
ip = sys.argv[1]
v6 = ":" in ip
sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                     socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
sock.settimeout(1)
ident = os.getpid() & 0xFFFF
def csum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
for seq in range(1, 6):
    kind = 128 if v6 else 8
    body = struct.pack("!BBHHH", kind, 0, 0, ident, seq) + b"hostnet!"
    packet = body if v6 else struct.pack("!BBHHH", kind, 0, csum(body), ident, seq) + b"hostnet!"
    sock.sendto(packet, (ip, 0))
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        try:
            data, addr = sock.recvfrom(2048)
        except socket.timeout:
            break
        icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
        if addr[0] == ip and icmp[0] == (129 if v6 else 0) and struct.unpack("!H", icmp[4:6])[0] == ident:
            print("reply from", ip)
            sys.exit(0)
sys.exit(1)
"""


def ping(netns, ip):
    """True when `ip` answers an ICMP echo from inside `netns` (raw socket: no ping binary needed)."""
    return sh(sys.executable, "-c", _PING, ip, netns=netns, check=False).returncode == 0


@contextlib.contextmanager
def throwaway_netns():
    """A fresh, uniquely named network namespace with lo up, always deleted afterwards (with its macvtaps' nodes)."""
    if os.geteuid() != 0:
        pytest.fail("these tests talk to the real kernel and must run as root")
    name = "hnt-" + uuid.uuid4().hex[:8]
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")
    try:
        yield name
    finally:
        _remove_macvtap_nodes(name)
        sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def netns():
    """A fresh, uniquely named network namespace, always deleted afterwards."""
    with throwaway_netns() as name:
        yield name


def _remove_macvtap_nodes(netns):
    """/dev/tapN nodes made for this namespace's macvtaps outlive it: remove exactly those.

    A node is this namespace's when its N and major:minor match a macvtap in it (read through
    `ip netns exec`, which mounts the namespace's own sysfs); other tests' nodes are left alone.
    """
    out = sh("sh", "-c", "for f in /sys/class/net/*/macvtap/tap*/dev; do [ -e \"$f\" ] && echo \"$f $(cat $f)\"; done",
             netns=netns, check=False).stdout
    for line in out.splitlines():
        path, dev = line.split()
        node = "/dev/" + path.split("/")[-2]
        major, minor = (int(x) for x in dev.split(":"))
        try:
            st = os.stat(node)
        except OSError:
            continue
        if st.st_rdev == os.makedev(major, minor):
            os.unlink(node)


@pytest.fixture
def group():
    """A throwaway group in the group database: (name, gid); always deleted."""
    name = "hnt-g%s" % uuid.uuid4().hex[:6]
    sh("groupadd", name)
    try:
        yield name, int(sh("getent", "group", name).stdout.split(":")[2])
    finally:
        sh("groupdel", name, check=False)


@pytest.fixture
def veth(netns):
    """A veth pair 'up0'/'up0p' inside the test namespace, to act as a parent/uplink link."""
    sh("ip", "-n", netns, "link", "add", "up0", "type", "veth", "peer", "name", "up0p")
    sh("ip", "-n", netns, "link", "set", "up0", "up")
    sh("ip", "-n", netns, "link", "set", "up0p", "up")
    return "up0"


_AS_USER = r"""
import os, sys
uid, gid, groups = int(sys.argv[1]), int(sys.argv[2]), [int(g) for g in sys.argv[3].split(",") if g]
os.setgroups(groups)
os.setresgid(gid, gid, gid)
os.setresuid(uid, uid, uid)
assert os.geteuid() == uid and os.getegid() == gid and os.getgroups() == groups
exec(sys.argv[4])
"""


def as_user(uid, gid, code, groups=(), netns=None):
    """Run Python `code` as uid/gid (supplementary `groups`) with no capabilities left: a real unprivileged client.

    The interpreter starts as root and drops privileges itself, so the result never depends on whether
    the test's interpreter path is readable by that uid. Returns CompletedProcess (check=False).
    """
    return sh(sys.executable, "-c", _AS_USER, str(uid), str(gid), ",".join(str(g) for g in groups), code,
              netns=netns, check=False)


LAB_IMAGE = "localhost/hostnet-lab:bookworm"


@pytest.fixture(scope="session")
def lab_image():
    """localhost/hostnet-lab:bookworm, built (or found cached) by tests/lab/build-image.sh."""
    for script in ("setup-host.sh", "build-image.sh"):
        proc = subprocess.run(["bash", os.path.join(ROOT, "tests", "lab", script)], capture_output=True, text=True,
                              check=False)
        sys.stderr.write(proc.stderr)
        assert proc.returncode == 0, "tests/lab/%s failed:\n%s%s" % (script, proc.stdout, proc.stderr)
    return LAB_IMAGE


def install_boot_cli(lib):
    """The boot CLI as the networks module installs it (_bootfiles.files: launcher + derived closure) under
    `lib`; returns the launcher's path. A module missing from the closure fails the CLI's import."""
    from ansible_collections.hostnet.qemu.plugins.module_utils import _bootfiles
    for path, (text, mode) in _bootfiles.files(str(lib)).items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, mode)
    return os.path.join(str(lib), _bootfiles.CLI)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """The boot CLI installed as the networks module installs it: the uplink jobs run through it."""
    return install_boot_cli(tmp_path_factory.mktemp("bootcli"))


def nft_networks(tmp_path, netns, networks, state="present", ports=()):
    """The real nft_networks module inside `netns`, its files under tmp_path/etc; returns its result."""
    args = {"networks": networks, "state": state, "ruleset_path": str(tmp_path / "etc" / "nftables.json"),
            "state_path": str(tmp_path / "etc" / "netdevs.json"), "ports": list(ports)}
    rc, results = run_tasks(tmp_path, "hostnet.qemu.nft_networks", [("nft", args)], in_netns=netns)
    assert rc == 0, results
    return results["nft"]


def boot_networks(tmp_path, netns):
    """The real boot CLI inside `netns` on tmp_path/etc/netdevs.json: the devices, the table, then the sysctls."""
    cli = install_boot_cli(tmp_path / "lib")
    proc = sh(sys.executable, cli, str(tmp_path / "etc" / "netdevs.json"), netns=netns, check=False)
    assert proc.returncode == 0, proc.stderr


def run_playbook(playbook_text, tmp_path, check=False, diff=True, extra_vars=None, in_netns=None):
    """Run a playbook against localhost with the collection from this checkout.

    Returns (rc, results, stats): results maps each task name to its result dict
    (from the json callback), so tests can assert on changed/failed/msg.
    """
    pb = tmp_path / ("pb-%s.yml" % uuid.uuid4().hex[:6])
    pb.write_text(playbook_text)
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_NOCOLOR": "1",
    })
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", "-c", "local", str(pb)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if in_netns:  # the whole run (and so the module) inside the namespace
        cmd = ["ip", "netns", "exec", in_netns] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("ansible-playbook printed no JSON (rc=%s):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    results = {}
    for play in data["plays"]:
        for task in play["tasks"]:
            results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    return proc.returncode, results, data["stats"]["localhost"]


def run_tasks(tmp_path, module, tasks, check=False, in_netns=None):
    """Run [(task name, args)] of one module as tasks of one play, each with ignore_errors.

    Returns (rc, {task name: result}); a failed task's result has failed=True and its msg.
    """
    lines = ["- hosts: localhost", "  gather_facts: false", "  tasks:"]
    for name, args in tasks:
        lines += ["    - name: %s" % name, "      %s: %s" % (module, json.dumps(args)), "      ignore_errors: true"]
    rc, results, _stats = run_playbook("\n".join(lines) + "\n", tmp_path, check=check, in_netns=in_netns)
    return rc, results
