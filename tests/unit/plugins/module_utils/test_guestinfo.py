# -*- coding: utf-8 -*-
"""guest_info's readers (plugins/module_utils/_guestinfo.py): the NICs a unit records, the DHCP leases, and the
guest agent's protocol. The agent here is a stand-in on a real Unix socket (it answers as qemu-guest-agent does,
including a stale reply before the sync); molecule/realguest asks the real agent in a real guest."""

import json
import os
import socket
import threading

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _guestinfo


@pytest.mark.parametrize("summary, want", [
    ("tap rgnet 52:54:00:5b:57:f3 virtio-net-pci mtu 1450",
     [{"kind": "tap", "mac": "52:54:00:5b:57:f3", "network": "rgnet"}]),
    ("user 52:54:00:01:02:03 virtio-net-pci, socket 127.0.0.1:8081 52:54:00:01:02:04 e1000 2 queues",
     [{"kind": "user", "mac": "52:54:00:01:02:03", "network": None},
      {"kind": "socket", "mac": "52:54:00:01:02:04", "network": "127.0.0.1:8081"}]),
    ("", []),
    (None, []),
])
def test_nics_of(summary, want):
    assert _guestinfo.nics_of(summary) == want


def test_leases_and_guest_names(tmp_path):
    (tmp_path / "a.leases").write_text("1700000000 52:54:00:aa:00:01 10.0.0.5 vm1 01:52:54:00:aa:00:01\n"
                                       "garbage\n1700000100 52:54:00:AA:00:02 10.0.0.6 * *\n")
    (tmp_path / "b.leases").write_text("1700000200 52:54:00:aa:00:01 10.1.0.5 vm1 *\n")
    (tmp_path / "ignored.conf").write_text("1 52:54:00:aa:00:09 10.9.9.9 x *\n")
    assert _guestinfo.leases(str(tmp_path)) == {"52:54:00:aa:00:01": ["10.0.0.5", "10.1.0.5"],
                                                "52:54:00:aa:00:02": ["10.0.0.6"]}
    for name in ("hostnet-guest-vm1.service", "hostnet-guest-a.b.service", "other.service", "hostnet-guest-.service"):
        (tmp_path / name).write_text("")
    assert _guestinfo.guest_names(str(tmp_path)) == ["a.b", "vm1"]


def _agent(path, replies):
    """A stand-in agent: a stale answer first, then it echoes guest-sync and answers from `replies`."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve():
        conn = server.accept()[0]
        stream = conn.makefile("rb")
        conn.sendall(b'{"return": {"stale": true}}\n')
        for line in stream:
            request = json.loads(line)
            if request["execute"] == "guest-sync":
                conn.sendall(json.dumps({"return": request["arguments"]["id"]}).encode() + b"\n")
            elif replies is not None:
                conn.sendall(json.dumps({"return": replies}).encode() + b"\n")
        conn.close()
        server.close()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_agent_addresses(tmp_path):
    path = str(tmp_path / "qga.sock")
    interfaces = [
        {"name": "lo", "hardware-address": "00:00:00:00:00:00",
         "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}]},
        {"name": "enp0s1", "hardware-address": "52:54:00:5B:57:F3",
         "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "10.77.0.10", "prefix": 24},
                          {"ip-address-type": "ipv6", "ip-address": "fe80::1", "prefix": 64}]}]
    _agent(path, interfaces)
    got = _guestinfo.agent_interfaces(path, 2.0)
    assert got == interfaces
    assert _guestinfo._agent_addresses(got) == [
        {"interface": "enp0s1", "mac": "52:54:00:5b:57:f3", "address": "10.77.0.10", "prefix": 24, "source": "agent"}]


def test_agent_silent_or_absent(tmp_path):
    path = str(tmp_path / "qga.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)  # accepts (the kernel queues it) and never answers: no agent runs in the guest
    try:
        assert _guestinfo.agent_interfaces(path, 0.3) is None
    finally:
        server.close()
    assert _guestinfo.agent_interfaces(str(tmp_path / "none.sock"), 0.3) is None
    assert not os.path.exists(str(tmp_path / "none.sock"))
