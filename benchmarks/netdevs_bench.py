"""Benchmark: a bridge plus N taps enslaved to it, four ways, each in a throwaway network namespace.

  ip -batch          the floor (iproute2, one process)
  engine             hostnet.qemu's engine called in-process (plus a no-op re-run of the same plan)
  netdevs task       one hostnet.qemu.netdevs task through ansible-playbook, then its no-op re-run, each also net
                     of an empty task (ansible.builtin.ping) in the same play; and the whole run
  argument floor     a task of benchmarks/library/args_floor.py in the same play: the same `devices` handed to a
                     module that does nothing with them (what ansible-core alone costs to carry them)
  command loop       a per-item loop of ansible.builtin.command running ip (N=100 only; two commands per tap)

Prints a table with each time and its ratio to `ip -batch` measured in the same run, and checks the targets.
Run as root from the collection root: .venv/bin/python benchmarks/netdevs_bench.py [--sizes 100,1000] [--repeat 3]
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
sys.path.insert(0, COLLECTIONS)

from ansible_collections.hostnet.qemu.plugins.module_utils import _engine, _model  # noqa: E402

VENV_BIN = os.path.dirname(sys.executable)
LIBRARY = os.path.join(ROOT, "benchmarks", "library")
SETTLE = 2.0


class Namespace(object):
    def __enter__(self):
        self.name = "hnb-" + uuid.uuid4().hex[:8]
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        return self.name

    def __exit__(self, *exc):
        subprocess.run(["ip", "netns", "del", self.name], check=False)
        # The kernel frees a deleted namespace's devices in the background, and the freeing slows the next
        # measurement (1000 taps: 0.68 s instead of 0.39 s for ip -batch). One second is enough here; wait 2.
        time.sleep(SETTLE)


def devices(n):
    return [{"kind": "bridge", "name": "br0"}] + [
        {"kind": "tap", "name": "t%d" % i, "owner": "nobody", "master": "br0"} for i in range(n)]


def count_ports(ns):
    out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "master", "br0"], capture_output=True, text=True, check=True)
    return len(json.loads(out.stdout))


def bench_ip_batch(n):
    lines = ["link add br0 type bridge", "link set br0 up"]
    for i in range(n):
        lines.append("tuntap add t%d mode tap user nobody" % i)
        lines.append("link set t%d master br0 up" % i)
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    try:
        with Namespace() as ns:
            start = time.perf_counter()
            subprocess.run(["ip", "-n", ns, "-batch", handle.name], check=True)
            took = time.perf_counter() - start
            assert count_ports(ns) == n
    finally:
        os.unlink(handle.name)
    return took


def bench_engine(n):
    with Namespace() as ns:
        start = time.perf_counter()
        desired = _model.normalise_all(devices(n))
        result = _engine.converge(desired, netns=ns)
        took = time.perf_counter() - start
        assert result["changed"] and count_ports(ns) == n
        start = time.perf_counter()
        desired = _model.normalise_all(devices(n))
        again = _engine.converge(desired, netns=ns)
        noop = time.perf_counter() - start
        assert not again["changed"]
    return took, noop


def run_playbook(text, extra_env=None):
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        handle.write(text)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LIBRARY=LIBRARY,
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    env.update(extra_env or {})
    try:
        start = time.perf_counter()
        proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local", handle.name],
                              capture_output=True, text=True, env=env, check=False)
        took = time.perf_counter() - start
    finally:
        os.unlink(handle.name)
    if proc.returncode != 0:
        raise RuntimeError("ansible-playbook failed:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    data = json.loads(proc.stdout)
    tasks = {}
    for task in data["plays"][0]["tasks"]:
        dur = task["task"]["duration"]
        start_t = datetime.datetime.fromisoformat(dur["start"].replace("Z", "+00:00"))
        end_t = datetime.datetime.fromisoformat(dur["end"].replace("Z", "+00:00"))
        tasks[task["task"]["name"]] = (end_t - start_t).total_seconds()
    return took, tasks


def bench_netdevs_task(n):
    """One play: an empty task (the fixed cost of any task), the same arguments handed to a module that does
    nothing (the argument floor), the netdevs apply, and its no-op re-run."""
    with Namespace() as ns:
        args = "        netns: %s\n        devices: %s\n" % (ns, json.dumps(devices(n)))
        text = ("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                "    - name: empty\n      ansible.builtin.ping:\n"
                "    - name: floor\n      args_floor:\n" + args +
                "    - name: netdevs\n      hostnet.qemu.netdevs:\n" + args +
                "    - name: netdevs again\n      hostnet.qemu.netdevs:\n" + args)
        whole, tasks = run_playbook(text)
        assert count_ports(ns) == n
    return tasks["netdevs"], tasks["netdevs again"], tasks["empty"], tasks["floor"], whole


def bench_command_loop(n):
    with Namespace() as ns:
        text = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: bridge
      ansible.builtin.command: ip -n {ns} link add br0 type bridge
    - name: taps
      ansible.builtin.command: ip -n {ns} tuntap add {{{{ item }}}} mode tap user nobody
      loop: "{{{{ names }}}}"
    - name: enslave
      ansible.builtin.command: ip -n {ns} link set {{{{ item }}}} master br0 up
      loop: "{{{{ names }}}}"
  vars:
    names: {names}
""".format(ns=ns, names=json.dumps(["t%d" % i for i in range(n)]))
        whole, tasks = run_playbook(text)
        assert count_ports(ns) == n
    return tasks["bridge"] + tasks["taps"] + tasks["enslave"], whole


def best(fn, repeat, *args):
    runs = [fn(*args) for _attempt in range(repeat)]
    if isinstance(runs[0], tuple):
        return tuple(min(r[i] for r in runs) for i in range(len(runs[0])))
    return min(runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs for each measurement")
    parser.add_argument("--loop-size", type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark creates network namespaces")
    rows = []
    verdicts = []
    for n in [int(x) for x in args.sizes.split(",")]:
        floor = best(bench_ip_batch, args.repeat, n)
        engine, noop = best(bench_engine, args.repeat, n)
        task, again, empty, carry, whole = best(bench_netdevs_task, args.repeat, n)
        rows.append(("ip -batch", n, floor, floor))
        rows.append(("engine (in-process)", n, engine, floor))
        rows.append(("engine no-op re-run", n, noop, floor))
        rows.append(("empty task (ping)", n, empty, floor))
        rows.append(("netdevs task", n, task, floor))
        rows.append(("netdevs task - empty task", n, task - empty, floor))
        rows.append(("netdevs no-op task - empty", n, again - empty, floor))
        rows.append(("argument floor - empty task", n, carry - empty, floor))
        rows.append(("netdevs task - argument floor", n, task - carry, floor))
        rows.append(("netdevs ansible-playbook run", n, whole, floor))
        if n == 1000:
            verdicts.append(("engine <= 1.2x ip -batch for 1000 taps", engine <= 1.2 * floor, "%.2fx" % (engine / floor)))
            verdicts.append(("no-op plan of 1000 devices <= 0.5 s", noop <= 0.5, "%.3f s" % noop))
            verdicts.append(("netdevs task net of an empty task <= 1.5x ip -batch", task - empty <= 1.5 * floor,
                             "%.2fx" % ((task - empty) / floor)))
            verdicts.append(("netdevs no-op task <= 0.5 s beyond an empty task", again - empty <= 0.5,
                             "%.3f s" % (again - empty)))
        if n == args.loop_size:
            loop, loop_whole = bench_command_loop(n)
            rows.append(("command loop (2 ip per tap)", n, loop, floor))
            per_loop, per_task = loop / n, task / n
            verdicts.append(("netdevs task >= 50x faster per device than the loop", per_loop >= 50 * per_task,
                             "%.0fx (%.2f ms vs %.1f ms per device)" % (per_loop / per_task, per_task * 1000, per_loop * 1000)))
    print("%-30s %6s %10s %12s" % ("method", "N", "seconds", "x ip -batch"))
    print("-" * 62)
    for name, n, secs, floor in rows:
        print("%-30s %6d %10.3f %12.2f" % (name, n, secs, secs / floor))
    print()
    for name, ok, detail in verdicts:
        print("%-4s %s: %s" % ("PASS" if ok else "FAIL", name, detail))
    print("\n(best of %d; %s; kernel %s)" % (args.repeat, time.strftime("%Y-%m-%d"), os.uname().release))
    return 0 if all(verdict[1] for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
