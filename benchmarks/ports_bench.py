"""Benchmark: what the anti-spoofing filter on guest ports costs (issue 13, section 1).

Two namespaces stand for two guests on one bridge in a third (the host), each on a veth whose host end is the port,
as a guest's tap is. iperf3 (Debian's) runs between them, three ways, in the same run:

  no filter          the bridge alone
  filter             both ports held to their NICs (the collection's rendered table, loaded with nft -j -f)
  filter, N ports    the same, with N-2 more (absent) ports in the verdict map: the lookup per frame stays one

Each way measures TCP throughput (one stream) and small-packet UDP (64-byte datagrams, unlimited rate: packets per
second is what a per-frame filter costs). Prints the table with ratios to "no filter", best of --repeat.
Run as root from the collection root: .venv/bin/python benchmarks/ports_bench.py [--seconds 5] [--repeat 3]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.hostnet.qemu.plugins.module_utils import _nftnet, _nftports, _nftrules  # noqa: E402

NET = {"name": "benchnet", "kind": "isolated", "bridge": "hqbbr0", "address": "192.168.93.1/24"}
GUESTS = (("a", "hqba", "52:54:00:93:00:0a", "192.168.93.10"), ("b", "hqbb", "52:54:00:93:00:0b", "192.168.93.11"))


def sh(*args, netns=None, check=True):
    cmd = (["ip", "netns", "exec", netns] if netns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


class Lab(object):
    """The host namespace with the bridge, and the two guests."""

    def __enter__(self):
        tag = uuid.uuid4().hex[:6]
        self.names = {"H": "hnb-h-" + tag, "a": "hnb-a-" + tag, "b": "hnb-b-" + tag}
        for name in self.names.values():
            sh("ip", "netns", "add", name)
        host = self.names["H"]
        sh("ip", "-n", host, "link", "add", NET["bridge"], "type", "bridge")
        sh("ip", "-n", host, "link", "set", NET["bridge"], "up")
        for role, port, mac, addr in GUESTS:
            ns = self.names[role]
            sh("ip", "-n", host, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "-n", host, "link", "set", port, "master", NET["bridge"], "up")
            sh("ip", "-n", ns, "link", "set", "eth0", "address", mac)
            sh("ip", "-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        return self

    def __exit__(self, *exc):
        for name in self.names.values():
            sh("ip", "netns", "del", name, check=False)

    def load(self, extra_ports):
        """The collection's table with both ports held, plus `extra_ports` more entries in the verdict map."""
        ports = [{"ifname": port, "mac": mac, "network": NET["name"], "addresses": [addr], "trust": False,
                  "label": "guest '%s' nics[0]" % role} for role, port, mac, addr in GUESTS]
        ports += [{"ifname": "hqx%d" % i, "mac": "52:54:01:%02x:%02x:01" % (i // 256, i % 256), "network": NET["name"],
                   "addresses": [], "trust": False, "label": "extra %d" % i} for i in range(extra_ports)]
        doc = _nftrules.render([NET], ports=_nftports.normalise(ports, _nftnet.normalise([NET])))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            handle.write(doc)
        try:
            sh("nft", "-j", "-f", handle.name, netns=self.names["H"])
        finally:
            os.unlink(handle.name)

    def unload(self):
        sh("nft", "delete", "table", "bridge", "hostnet_qemu", netns=self.names["H"], check=False)
        sh("nft", "delete", "table", "inet", "hostnet_qemu", netns=self.names["H"], check=False)

    def iperf(self, seconds, udp):
        server = subprocess.Popen(["ip", "netns", "exec", self.names["b"], "iperf3", "-s", "-1", "-B", GUESTS[1][3]],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            args = ["iperf3", "-c", GUESTS[1][3], "-t", str(seconds), "-J"]
            if udp:
                args += ["-u", "-b", "0", "-l", "64"]
            out = json.loads(sh(*args, netns=self.names["a"]).stdout)
        finally:
            server.wait(timeout=30)
        end = out["end"]
        if udp:
            return end["sum"]["packets"] / end["sum"]["seconds"], end["sum"]["lost_percent"]
        return end["sum_received"]["bits_per_second"] / 1e9, 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ports", type=int, default=200, help="ports in the verdict map for the last way")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("ports_bench: run as root (it creates network namespaces)")
    if not shutil.which("iperf3"):
        sys.exit("ports_bench: iperf3 is missing; install it (apt-get install iperf3)")
    ways = (("no filter", None), ("filter", 0), ("filter, %d ports" % args.ports, args.ports - 2))
    rows = []
    with Lab() as lab:
        for label, extra in ways:
            lab.unload()
            if extra is not None:
                lab.load(extra)
            tcp = max(lab.iperf(args.seconds, udp=False)[0] for _run in range(args.repeat))
            udp = max((lab.iperf(args.seconds, udp=True) for _run in range(args.repeat)), key=lambda r: r[0])
            rows.append((label, tcp, udp[0], udp[1]))
    base = rows[0]
    print("# ports_bench %s, %d s per run, best of %d" % (datetime.date.today(), args.seconds, args.repeat))
    print("%-22s %12s %8s %16s %8s %7s" % ("way", "TCP Gbit/s", "x none", "UDP 64B pkt/s", "x none", "loss %"))
    for label, tcp, pps, loss in rows:
        print("%-22s %12.2f %8.2f %16.0f %8.2f %7.1f" % (label, tcp, tcp / base[1], pps, pps / base[2], loss))


if __name__ == "__main__":
    main()
