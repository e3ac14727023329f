"""Benchmark: site.yml on podman lab hosts with N guests, this checkout against a baseline commit, in one run.

For each case a fresh lab host (tests/lab's image, real systemd) is started and `site.yml` runs three times
through the lab's standard connection (containers.podman.podman): the first converge, a no-op re-run (it must
report changed=0) and a check-mode run. Guests are stopped (QEMU's CPU would distort the figures) except in
the "started" case. A callback (benchmarks/callback_plugins/hostnet_count.py) counts per host the tasks that
ran and the module invocations on the target (loop items one by one).

Cases: this checkout with N = 1, 10 and 50 stopped guests, with 10 started guests, and with 10 stopped guests
on each of two lab hosts at once (Ansible's forks); the baseline (a git worktree of --baseline, by default the
commit before the guests module) with --baseline-n stopped guests. Prints a table, the ratios computed from
this same run and the targets of issue 15; exits non-zero if a target fails. Results: .cache/bench/roles.json.

Run as root from the collection root: .venv/bin/python benchmarks/roles_bench.py [--sizes 1,10,50]
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, ".cache", "bench")
IMAGE = "localhost/hostnet-lab:bookworm"
IMAGES = "/var/lib/hostnet-qemu/images"
VENV_BIN = os.path.dirname(sys.executable)
CALLBACKS = os.path.join(ROOT, "benchmarks", "callback_plugins")


def sh(*args, check=True):
    return subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=check)


def lab_host(name):
    """A fresh lab host container with the test guest's kernel and initrd."""
    sh("podman", "rm", "-f", name, check=False)
    sh("podman", "run", "-d", "--name", name, "--hostname", name, "--privileged", "--systemd=always", IMAGE, "/sbin/init")
    for _attempt in range(120):
        state = sh("podman", "exec", name, "systemctl", "is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(0.5)
    sh("podman", "exec", name, "mkdir", "-p", IMAGES)
    for image in ("vmlinuz", "initrd.gz"):
        sh("podman", "cp", os.path.join(ROOT, ".cache", "guest", image), "%s:%s/%s" % (name, IMAGES, image))


def guests(count, state, prefix):
    """`count` test guests named PREFIX1..PREFIXcount, each with one tap on the bench network."""
    return [{"name": "%s%d" % (prefix, i), "state": state, "kernel": IMAGES + "/vmlinuz", "initrd": IMAGES + "/initrd.gz",
             "append": "console=ttyS0 quiet hn.name=%s%d" % (prefix, i), "nics": [{"kind": "tap", "bridge": "benchnet0"}]}
            for i in range(1, count + 1)]


ROLE_VARS = {"hostnet_host_users": ["qemu"], "hostnet_host_install_packages": False,
             "hostnet_network_networks": [{"name": "benchnet", "kind": "isolated", "bridge": "benchnet0",
                                           "address": "10.89.0.1/24"}],
             "hostnet_guest_accel": "tcg", "hostnet_guest_memory": 64, "hostnet_guest_install_packages": False,
             "hostnet_guest_stop_timeout": 10, "hostnet_guest_user": "qemu"}


def checkout(rev):
    """(root, collections path) of the baseline: a git worktree of rev, linked as hostnet.qemu."""
    tree = os.path.join(CACHE, "baseline-" + rev)
    if not os.path.isdir(tree):
        sh("git", "-C", ROOT, "worktree", "add", "--detach", "-f", tree, rev)
    collections = os.path.join(CACHE, "baseline-collections-" + rev)
    link = os.path.join(collections, "ansible_collections", "hostnet", "qemu")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(tree, link)
    return tree, collections


def playbook(root, collections, hosts, count, state, check=False):
    """One site.yml run: (seconds, {host: counts}).

    Each host gets its own guests (host variables; names prefixed by the host's index), because the guest role
    refuses the same guest name, and so the same derived MAC, on two hosts of one play."""
    work = tempfile.mkdtemp(prefix="roles-bench-", dir=CACHE)
    inventory = {"all": {"children": {"qemu_hosts": {"hosts": dict(
        (h, {"ansible_connection": "containers.podman.podman", "ansible_python_interpreter": "/usr/bin/python3",
             "hostnet_guest_guests": guests(count, state, "bg" if i == 0 else "h%dg" % (i + 1))})
        for i, h in enumerate(hosts))}}}}
    with open(os.path.join(work, "hosts.yml"), "w") as handle:
        yaml.safe_dump(inventory, handle)
    with open(os.path.join(work, "vars.yml"), "w") as handle:
        yaml.safe_dump(ROLE_VARS, handle)
    counts = os.path.join(work, "counts.json")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections") if collections is None else collections,
               ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="hostnet_count", HOSTNET_BENCH_COUNT=counts,
               ANSIBLE_CONFIG=os.path.join(root, "ansible.cfg"), PATH=VENV_BIN + ":" + os.environ["PATH"],
               ANSIBLE_FORKS="10")
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", os.path.join(work, "hosts.yml"), "-e", "@" + os.path.join(work, "vars.yml"),
            os.path.join(root, "site.yml")] + (["--check"] if check else [])
    start = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, env=env,
                          cwd=root, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("site.yml failed (%s, %s):\n%s" % (root, "check" if check else "run", proc.stdout[-4000:]))
    with open(counts) as handle:
        return seconds, json.load(handle)


def case(label, root, collections, hosts, count, state, runs=(("first", False), ("noop", False), ("check", True))):
    for host in hosts:
        lab_host(host)
    row = {"case": label, "hosts": len(hosts), "guests": count, "check": 0.0,
           "check_changed": 0}
    for run, check in runs:
        seconds, counts = playbook(root, collections, hosts, count, state, check)
        one = counts[hosts[0]]
        row[run] = round(seconds, 1)
        row[run + "_modules"] = one["modules"]
        row[run + "_tasks"] = one["ran"] + one["skipped"]
        row[run + "_changed"] = max(c["changed"] for c in counts.values())
        print("  %-28s %-6s %7.1f s  modules=%d changed=%d" % (label, run, seconds, one["modules"], row[run + "_changed"]),
              flush=True)
    for host in hosts:
        sh("podman", "rm", "-f", host, check=False)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--started", type=int, default=10)
    parser.add_argument("--two-hosts", type=int, default=10)
    parser.add_argument("--baseline", default="bf1f307", help="the commit before the guests module (e5fa786)")
    parser.add_argument("--baseline-n", type=int, default=24)
    args = parser.parse_args()
    os.makedirs(CACHE, exist_ok=True)
    for script in ("tests/lab/setup-host.sh", "tests/lab/build-image.sh", "tests/guest/build.sh"):
        sh("bash", os.path.join(ROOT, script))
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        rows.append(case("this checkout, %d stopped" % n, ROOT, None, ["hostnet-bench1"], n, "stopped"))
    rows.append(case("this checkout, %d started" % args.started, ROOT, None, ["hostnet-bench1"],
                     args.started, "started"))
    rows.append(case("this checkout, 2 hosts x %d" % args.two_hosts, ROOT, None, ["hostnet-bench1", "hostnet-bench2"],
                     args.two_hosts, "stopped"))
    if args.baseline_n and args.baseline_n not in sizes:
        rows.append(case("this checkout, %d stopped" % args.baseline_n, ROOT, None, ["hostnet-bench1"],
                         args.baseline_n, "stopped"))
    tree, collections = checkout(args.baseline)
    rows.append(case("baseline %s, %d stopped" % (args.baseline, args.baseline_n), tree, collections, ["hostnet-bench1"],
                     args.baseline_n, "stopped", runs=(("first", False), ("noop", False))))
    report(rows, sizes, args)


def report(rows, sizes, args):
    header = "%-34s %5s %8s %8s %8s %8s %8s" % ("case", "hosts", "first s", "no-op s", "check s", "modules", "tasks")
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        values = (r["case"], r["hosts"], r["first"], r["noop"], r["check"], r["noop_modules"], r["noop_tasks"])
        print("%-34s %5d %8.1f %8.1f %8.1f %8d %8d" % values)
    by = dict((r["case"], r) for r in rows)

    def mine(n):
        return by["this checkout, %d stopped" % n]

    small, large = mine(min(sizes)), mine(max(sizes))
    base = by["baseline %s, %d stopped" % (args.baseline, args.baseline_n)]
    same = mine(args.baseline_n)
    two = by["this checkout, 2 hosts x %d" % args.two_hosts]
    one = mine(args.two_hosts) if args.two_hosts in sizes else None
    span = max(sizes) - min(sizes)
    print("\nper-guest marginal cost: first %.2f s, no-op %.2f s (this checkout); baseline no-op %.1f s for %d guests"
          % ((large["first"] - small["first"]) / span, (large["noop"] - small["noop"]) / span, base["noop"], args.baseline_n))
    checks = [
        ("no-op with %d guests <= 1.2x the no-op with %d" % (max(sizes), min(sizes)), large["noop"] / small["noop"], 1.2, "le"),
        ("no-op with %d guests >= 4x faster than the baseline" % args.baseline_n, base["noop"] / same["noop"], 4.0, "ge"),
        ("first converge of %d <= 2x the first converge of %d" % (max(sizes), min(sizes)), large["first"] / small["first"], 2.0, "le"),
        ("module invocations of a no-op constant in N", float(large["noop_modules"] - small["noop_modules"]), 0.0, "le"),
        ("every no-op and check-mode run reports changed=0", float(max(r["noop_changed"] + r["check_changed"] for r in rows
                                                                       if not r["case"].startswith("baseline"))), 0.0, "le"),
    ]
    if one is not None:
        checks.append(("2 hosts x %d converge in <= 1.5x one host's time" % args.two_hosts, two["first"] / one["first"], 1.5, "le"))
    failed = 0
    for text, value, limit, how in checks:
        ok = value <= limit if how == "le" else value >= limit
        failed += not ok
        print("%s %s: %.2f" % ("PASS" if ok else "FAIL", text, value))
    out = {"date": datetime.date.today().isoformat(), "rows": rows, "checks": list(checks)}
    with open(os.path.join(CACHE, "roles.json"), "w") as handle:
        json.dump(out, handle, indent=2)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
