# -*- coding: utf-8 -*-
"""Every module, every option, careless and hostile values: a clear message or a clean result, never a traceback.

Each module's own argument spec is read from the module (its AnsibleModule call), and each option (and each
suboption of a list of dicts) in turn gets values of the wrong type, control characters, empty and oversized
strings, out-of-range numbers and YAML-boolean words, on top of arguments that are otherwise valid. The modules run
in check mode, in a child process per module, against a throwaway network namespace and a temporary directory, and
the namespace must still be empty afterwards. A value may be accepted or refused; what fails the test is a Python
exception escaping the module (an `exception` in the result, or no JSON at all).
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import COLLECTIONS, links

MODULES = ["bridge", "bridge_helper", "guest_info", "guests", "host_info", "macvtap", "netdev_info", "netdevs",
           "networks", "nft_networks", "ping_group_range", "span_info", "tap", "uplink"]

# Runs [(label, args)] through one module's main() in this process; prints one JSON verdict per job.
RUNNER = r"""
import contextlib, importlib, io, json, sys, traceback
sys.path.insert(0, sys.argv[2])
import ansible.module_utils.basic as basic
module = importlib.import_module("ansible_collections.hostnet.qemu.plugins.modules." + sys.argv[1])
if sys.argv[3] == "spec":
    class Spec(Exception):
        pass
    def capture(self, argument_spec=None, **_kw):
        raise Spec(argument_spec)
    basic.AnsibleModule.__init__ = capture
    def plain(spec):
        return dict((k, dict((a, plain(b) if a == "options" and b else b) for a, b in v.items() if not callable(b)))
                    for k, v in spec.items())
    try:
        module.main()
    except Spec as got:
        print(json.dumps(plain(got.args[0]), default=str))
    sys.exit(0)
for label, args in json.load(sys.stdin):
    basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=True)}).encode()
    basic._ANSIBLE_PROFILE = "legacy"
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            module.main()
        verdict = "returned without exiting"
    except SystemExit:
        text = out.getvalue()
        try:
            result = json.loads(text[text.index("{"):])
            verdict = result.get("exception") or ("ok" if not result.get("failed") else "refused: " + str(result.get("msg")))
        except ValueError:
            verdict = "no JSON: " + text[-300:]
    except Exception:
        verdict = "exception: " + traceback.format_exc()[-600:]
    print(json.dumps([label, verdict]))
"""

STRINGS = ["a\nb", "", "x" * 300, "é0", "-x", "a,b", "no", 1, ["x"], {"a": 1}, True]
VALUES = {
    "str": STRINGS, "path": ["relative", "/a\nb", "", "/", "JUNK", 1, ["/x"]],
    "int": [-1, 2 ** 40, "12x", 1.5, True], "float": [-1.0, "nan", "x", True], "bool": ["maybe", 2, "no"],
    "raw": ["0777", 511, "u+rw", -1, True, "0660\n", ["x"]], "dict": ["x", [1]],
    "list:str": [["a\nb"], [""], [None], "a,b", [1], [{"a": 1}]], "list:path": [["relative"], [None], "a,b"],
    "list:int": [[-1], [70000], ["x"], [None], "1,2"], "list:dict": ["x", [1], [None]],
}


def base_args(netns, tmp):
    """Otherwise valid arguments of each module, inside `netns` and `tmp`."""
    net = {"name": "fzn", "kind": "nat", "bridge": "fzb5", "address": "10.99.0.1/24", "uplink": "fzx0",
           "dhcp": {"ranges": [{"start": "10.99.0.100", "end": "10.99.0.150"}]}, "ipv6": {"address": "fd00:99::1/64"},
           "forwards": [{"proto": "tcp", "host_port": 8022, "guest": "10.99.0.7", "guest_port": 22}]}
    port = {"ifname": "fzt5", "mac": "52:54:00:00:00:05", "network": "fzn", "label": "guest 'fz' nics[0]",
            "hostname": "fz"}
    return {
        "bridge": {"name": "fzb0", "netns": netns},
        "tap": {"name": "fzt0", "netns": netns},
        "macvtap": {"name": "fzm0", "link": "lo", "netns": netns},
        "netdevs": {"devices": [{"kind": "bridge", "name": "fzb1"}, {"kind": "tap", "name": "fzt1", "master": "fzb1"}],
                    "netns": netns},
        "netdev_info": {"netns": netns},
        "ping_group_range": {"range": [1, 0], "netns": netns, "sysctl_file": tmp + "/pgr.conf"},
        "bridge_helper": {"path": tmp + "/helper", "config": tmp + "/bridge.conf", "allow": ["fzb0"]},
        "host_info": {},
        "guest_info": {"unit_dir": tmp, "run_dir": tmp, "leases_dir": tmp},
        "span_info": {},
        "uplink": {"uplinks": [{"bridge": "fzb2", "nic": "fzx0"}], "state_dir": tmp + "/up", "runner": tmp + "/run"},
        "guests": {"guests": [{"name": "fz1", "unit": "fz1.service", "state": "stopped", "content": "[Unit]\n",
                               "disks": [{"path": tmp + "/d.img", "create": "new", "size": "1M"}]}],
                   "state_dir": tmp + "/g", "unit_dir": tmp + "/u"},
        "networks": {"networks": [net], "ports": [port], "network_unit": "fz.service", "config_dir": tmp + "/c",
                     "lib_dir": tmp + "/l", "unit_dir": tmp + "/u", "sysctl_file": tmp + "/s.conf",
                     "modules_file": tmp + "/m.conf", "nm_conf": tmp + "/nm.conf", "frr_dir": tmp + "/frr",
                     "table": "fzt"},
        "nft_networks": {"networks": [net], "ports": [port], "ruleset_path": tmp + "/r.json",
                         "state_path": tmp + "/st.json", "table": "fzt", "validate_only": True},
    }


def values(option, nested):
    kind = option.get("type", "str")
    if kind == "list":
        kind = "list:%s" % option.get("elements", "str")
    if nested and kind == "dict":
        # ansible-core itself crashes on a list given to a dict suboption (set_fallbacks iterates it); a module
        # cannot catch that, so it is left out here
        return ["x"]
    return VALUES.get(kind, [None])


def jobs(spec, base, junk):
    """(label, args) for every option and list-of-dicts suboption; JUNK stands for a directory of foreign files."""
    out = []
    for name, option in spec.items():
        for value in [junk if v == "JUNK" else v for v in values(option, False)]:
            out.append(("%s=%r" % (name, value), dict(base, **{name: value})))
        if option.get("type") == "list" and option.get("options") and isinstance(base.get(name), list):
            for sub, suboption in option["options"].items():
                for value in [junk if v == "JUNK" else v for v in values(suboption, True)]:
                    entries = [dict(e) for e in base[name]]
                    entries[-1][sub] = value
                    out.append(("%s[].%s=%r" % (name, sub, value), dict(base, **{name: entries})))
    return out


def run(module, mode, jobs_=()):
    proc = subprocess.run([sys.executable, "-c", RUNNER, module, COLLECTIONS, mode], input=json.dumps(list(jobs_)),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.parametrize("module", MODULES)
def test_no_input_makes_a_module_raise(module, netns, tmp_path):
    tmp = str(tmp_path)
    with open(os.path.join(tmp, "helper"), "w") as handle:
        handle.write("#!/bin/sh\n")
    junk = os.path.join(tmp, "junk")  # a directory given as any path option: files the module did not write
    os.mkdir(junk)
    for name, text in (("a.json", "[1]"), ("b.json", '{"x": 1}'), ("c.json", "{"), ("d.conf", "\x00\n["),
                       ("e.leases", "x y z\n"), ("f.service", "[Unit\n")):
        with open(os.path.join(junk, name), "w") as handle:
            handle.write(text)
    before = tree(tmp)
    base = base_args(netns, tmp)[module]
    spec = json.loads(run(module, "spec"))
    cases = jobs(spec, base, junk)
    assert len(cases) >= 5 * len(spec)
    verdicts = [json.loads(line) for line in run(module, "jobs", cases).splitlines()]
    assert len(verdicts) == len(cases)
    escaped = ["%s: %s" % (label, verdict) for label, verdict in verdicts
               if verdict != "ok" and not verdict.startswith("refused: ")]
    assert escaped == []
    # check mode: nothing was made in the namespace or written in the directory, whatever was accepted
    assert sorted(links(netns)) == ["lo"]
    assert tree(tmp) == before


def tree(top):
    """{path: content} of every file under `top`, and every directory as None."""
    out = {}
    for root, dirs, files in os.walk(top):
        out.update((os.path.join(root, d), None) for d in dirs)
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                out[os.path.join(root, name)] = handle.read()
    return out
