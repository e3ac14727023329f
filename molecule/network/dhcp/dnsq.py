"""One DNS query over UDP, no resolver library: dnsq.py SERVER NAME -> the A records, one a line.

Exit 0 with an answer, 3 for an answer without A records (NXDOMAIN, REFUSED...), 2 when nothing answers
(timeout or ICMP port unreachable: nobody listens on SERVER port 53).
"""
import random
import socket
import struct
import sys


def query(server, name, timeout=3.0):
    ident = random.randint(0, 0xFFFF)
    packet = struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    packet += b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split(".")) + b"\0"
    packet += struct.pack(">HH", 1, 1)  # type A, class IN
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    sock.connect((server, 53))  # connected: an ICMP port unreachable becomes ConnectionRefusedError
    sock.send(packet)
    data = sock.recv(4096)
    rid, flags, qd, an = struct.unpack(">HHHH", data[:8])
    if rid != ident:
        raise RuntimeError("answer id %d, sent %d" % (rid, ident))
    pos = 12
    for _question in range(qd):  # skip the question
        while data[pos]:
            pos += data[pos] + 1
        pos += 5
    out = []
    for _answer in range(an):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype, _cls, _ttl, length = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        if rtype == 1 and length == 4:
            out.append(socket.inet_ntoa(data[pos:pos + 4]))
        pos += length
    return flags & 0xF, out


def main(server, name):
    try:
        rcode, addresses = query(server, name)
    except (socket.timeout, ConnectionRefusedError) as exc:
        print("no answer from %s: %s" % (server, exc.__class__.__name__))
        return 2
    for address in addresses:
        print(address)
    if not addresses:
        print("rcode %d, no A record" % rcode)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
