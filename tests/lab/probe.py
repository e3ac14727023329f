"""Real traffic from a lab host to its guests: ping (raw ICMP), TCP echo (port 7), HTTP (port 80).

Shared by the molecule scenarios (copied to the lab host by ansible.builtin.script).

probe.py ping IP | echo IP [PORT] | http IP [PORT]; retries up to 120 s (TCG guests boot slowly), prints the result.
"""
import os
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ping(ip):
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.settimeout(1)
    ident = os.getpid() & 0xFFFF
    for seq in range(1, 4):
        body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"hostnet"
        packet = struct.pack("!BBHHH", 8, 0, checksum(body), ident, seq) + b"hostnet"
        sock.sendto(packet, (ip, 0))
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            try:
                data, addr = sock.recvfrom(1024)
            except socket.timeout:
                break
            icmp = data[(data[0] & 0x0F) * 4:]
            if addr[0] == ip and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                return "reply from %s" % ip
    raise OSError("no ICMP echo reply from %s" % ip)


def exchange(ip, port, payload):
    """Connect, send `payload`, half-close, read until the peer closes."""
    with socket.create_connection((ip, int(port)), timeout=5) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def echo(ip, port=7):
    data = exchange(ip, port, b"hello-from-host\n").decode(errors="replace").strip()
    if data != "hello-from-host":
        raise OSError("echo returned %r" % data)
    return data


def http(ip, port=80):
    data = exchange(ip, port, b"GET / HTTP/1.0\r\nHost: guest\r\n\r\n")
    head, _sep, body = data.decode(errors="replace").partition("\r\n\r\n")
    if " 200 " not in head.splitlines()[0]:
        raise OSError("HTTP said %r" % head)
    return body.strip()


def main():
    func = {"ping": ping, "echo": echo, "http": http}[sys.argv[1]]
    deadline = time.monotonic() + 120
    while True:
        try:
            print(func(*sys.argv[2:]))
            return 0
        except OSError as exc:
            if time.monotonic() > deadline:
                print("FAILED: %s" % exc)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
