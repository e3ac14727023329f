# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's EXAMPLES, as written, as one task file for a lab host on which the host role ran.

    python3 tests/lab/examples.py OUTDIR

writes OUTDIR/examples.yml (the examples, module by module, in ORDER: each example finds what it says it works
on, made by an earlier example or by PREREQUISITES), OUTDIR/templates (the network role's templates, which the
networks example looks up) and OUTDIR/files/vm1.service (the unit text the guests example reads). Scenario `host`
includes it at the end of its verify. A module of plugins/modules missing from ORDER is an error, so a new
module's examples are run from the start.
"""

import ast
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the order in which the examples build on each other (tap's vm1-net0 goes into vmnet0; bridge's br-lab takes
# vm2-net0 from tap; netdevs then owns every vm* device; guests put vm1-net0 back; uplink runs last)
ORDER = ["ping_group_range", "tap", "bridge", "macvtap", "netdevs", "netdev_info", "span_info", "bridge_helper",
         "nft_networks", "networks", "host_info", "guests", "guest_info", "uplink"]
# what the examples take for granted on a host prepared by the host role (users qemu, group qemusers): the
# namespace lab1, the bridge vmnet0 the first tap example joins, a second NIC eth1 for the uplink example, and the
# per-team ACL file the bridge_helper example includes
PREREQUISITES = """
- name: Examples | prerequisites - namespace lab1, bridge vmnet0, NIC eth1, /etc/qemu/team.conf
  ansible.builtin.shell: |
    set -e
    [ -e /run/netns/lab1 ] || ip netns add lab1
    ip link show vmnet0 >/dev/null 2>&1 || ip link add vmnet0 type bridge
    ip link show eth1 >/dev/null 2>&1 || ip link add eth1 type veth peer name eth1-peer
    ip link set eth1 up
    ip link set eth1-peer up
    mkdir -p /etc/qemu
    echo 'allow br-team' > /etc/qemu/team.conf
  changed_when: true
"""
# what an example needs that an earlier one took away: the uplink example moves a NIC with the network role's job
# runner, which the networks example removed with everything else ("normally done by the network role")
BEFORE = {"uplink": [{"name": "Examples | prerequisites - the network role (its job runner), no networks",
                      "ansible.builtin.include_role": {"name": "hostnet.qemu.network"},
                      "vars": {"hostnet_network_networks": []}}]}
# modules the roles call with their own templates: their examples run with that role's variables, as in the role
ROLE_VARS = {"networks": "network"}
UNIT = """[Unit]
Description=vm1 (the guests module's example)

[Service]
User=qemu
ExecStart=/bin/sleep infinity
"""


def examples(module):
    with open(os.path.join(ROOT, "plugins", "modules", module + ".py")) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "EXAMPLES":
            return yaml.safe_load(node.value.value)
    raise SystemExit("plugins/modules/%s.py has no EXAMPLES" % module)


def role_vars(role):
    out = {}
    for part in ("defaults", "vars"):
        with open(os.path.join(ROOT, "roles", role, part, "main.yml")) as handle:
            out.update(yaml.safe_load(handle) or {})
    return out


def main(outdir):
    modules = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                     if f.endswith(".py") and not f.startswith("_"))
    missing = sorted(set(modules) - set(ORDER))
    if missing:
        raise SystemExit("tests/lab/examples.py: add %s to ORDER" % ", ".join(missing))
    tasks = yaml.safe_load(PREREQUISITES)
    for module in ORDER:
        tasks += BEFORE.get(module, [])
        block = {"name": "Examples | hostnet.qemu.%s" % module, "block": examples(module)}
        if module in ROLE_VARS:
            block["vars"] = role_vars(ROLE_VARS[module])
        tasks.append(block)
    os.makedirs(os.path.join(outdir, "files"), exist_ok=True)
    with open(os.path.join(outdir, "examples.yml"), "w") as handle:
        handle.write("---\n# written by tests/lab/examples.py from the modules' EXAMPLES\n")
        yaml.safe_dump(tasks, handle, sort_keys=False, width=160)
    with open(os.path.join(outdir, "files", "vm1.service"), "w") as handle:
        handle.write(UNIT)
    link = os.path.join(outdir, "templates")
    if not os.path.islink(link):
        os.symlink(os.path.join(ROOT, "roles", "network", "templates"), link)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
