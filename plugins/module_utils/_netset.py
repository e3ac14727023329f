# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The network role's host files and systemd state in one plan, for the networks module (after the bridges and
the nftables table): the boot CLI, the boot unit, the sysctl and modules-load drop-ins, NetworkManager's
unmanaged list, one dnsmasq per network with DHCP or DNS, and the live sysctls.

plan() reads the host once (the files, one `systemctl show` for every unit) and changes nothing; apply() runs
the steps in order. Check mode stops after the plan; the diff is the plan's: each file's text before and after
(the boot CLI's copy of the engine as one list of file digests), each unit's systemd state.

A dnsmasq instance is restarted when its configuration or the template unit changed in this run, and also when
the running instance runs another configuration (its copy in /run differs from the file, or the template's
recorded hash differs from the one in its environment) or systemd has not read the template yet: a run that
stopped half-way is completed by the next one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

from ansible_collections.hostnet.qemu.plugins.module_utils import _bootfiles, _dhcp, _files, _forwarding, _proc, _systemd
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

WHAT = "networks"
NETWORK_UNIT = "hostnet-qemu-network.service"
TEMPLATE = "hostnet-qemu-dnsmasq@.service"
RUN_DIR = "/run/hostnet-qemu-dnsmasq"
BRIDGE_NF = ("net.bridge.bridge-nf-call-arptables", "net.bridge.bridge-nf-call-ip6tables",
             "net.bridge.bridge-nf-call-iptables")
HEADER = "# Managed by Ansible (hostnet.qemu.network).\n"


def sysctl_text(bridge_nf_call, old):
    """The drop-in: bridge-nf-call-* (kept as found when bridge_nf_call is None), or None when there is nothing to
    hold. Forwarding is not in it: the boot unit switches it on per interface once the table is in place."""
    if bridge_nf_call is None:
        values = dict((k, v) for k, v in _forwarding.parse_conf(old).items() if k in BRIDGE_NF)
    else:
        values = dict((k, "1" if bridge_nf_call else "0") for k in BRIDGE_NF)
    if not values:
        return None
    return HEADER + "".join("%s = %s\n" % item for item in sorted(values.items()))


def nm_text(bridges):
    """NetworkManager's hands off the bridges: appended (+=) to the host's own unmanaged-devices, never replacing them."""
    return (HEADER + "# The hostnet.qemu bridges are created and owned by hostnet-qemu-network.service.\n"
            "[keyfile]\nunmanaged-devices+=%s\n" % ";".join("interface-name:" + b for b in bridges))


def _paths(spec):
    conf_dir = os.path.join(spec["config_dir"], "dnsmasq")
    return {"network_unit": os.path.join(spec["unit_dir"], NETWORK_UNIT),
            "template": os.path.join(spec["unit_dir"], TEMPLATE),
            "conf_dir": conf_dir, "leases_dir": _dhcp.LEASES_DIR}


def _found_instances(conf_dir):
    try:
        names = os.listdir(conf_dir)
    except OSError:
        return []
    return sorted(n[:-len(".conf")] for n in names if n.endswith(".conf") and not n.startswith("."))


class _Plan(object):
    def __init__(self):
        self.steps = {"write": [], "remove": [], "rmtree": [], "makedirs": [], "modprobe": False, "sysctl": [],
                      "stop": [], "disable": [], "reload": False, "enable": [], "restart": [], "start": [],
                      "rmdir": []}
        self.lines, self.diff = [], []

    def file(self, path, old, text, mode=0o644, show=True):
        """Converge one file to text (None: absent); True when it changes."""
        if text is None and old is not None:
            self.steps["remove"].append(path)
            self.lines.append("remove %s" % path)
        elif text is not None and old != text:
            self.steps["write"].append((path, text, mode))
            self.lines.append("write %s" % path)
        else:
            return False
        if show:
            self.diff.append({"before_header": path, "after_header": path, "before": old or "", "after": text or ""})
        return True


def _boot_files(result, spec):
    lib_dir = spec["lib_dir"]
    wanted = _bootfiles.files(lib_dir) if spec["state"] == "present" else {}
    have = _bootfiles.installed(lib_dir)
    before, after = [], []
    for path in sorted(set(have) | set(wanted)):
        try:
            old = _files.read_text(path, WHAT) if path in have else None
        except UnicodeDecodeError:  # not a copy of ours (a binary file): replaced or removed
            old = "(binary)"
        text, mode = wanted.get(path, (None, 0o644))
        rel = os.path.relpath(path, lib_dir)
        if old is not None:
            before.append("%s %s\n" % (rel, _bootfiles.digest(old)))
        if text is not None:
            after.append("%s %s\n" % (rel, _bootfiles.digest(text)))
        if spec["state"] == "present":
            result.file(path, old, text, mode, show=False)
    if spec["state"] == "absent" and os.path.lexists(lib_dir):
        result.steps["rmtree"].append(lib_dir)
        result.lines.append("remove %s (the boot CLI and its copy of the engine)" % lib_dir)
    if before != after:
        header = "%s (boot CLI: file, sha256)" % lib_dir
        result.diff.append({"before_header": header, "after_header": header, "before": "".join(before),
                            "after": "".join(after)})


def _host_files(result, spec, paths):
    present = spec["state"] == "present"
    old = _files.read_text(spec["sysctl_file"], WHAT)
    result.file(spec["sysctl_file"], old, sysctl_text(spec["bridge_nf_call"], old) if present else None)
    modules = spec["modules_file"]
    if spec["bridge_nf_call"] is not None or not present:
        want = HEADER + "br_netfilter\n" if present and spec["bridge_nf_call"] else None
        result.file(modules, _files.read_text(modules, WHAT), want)
    nm_conf = spec["nm_conf"]
    want = None
    if present and spec["nm_unmanaged"] and os.path.isdir(os.path.dirname(os.path.dirname(nm_conf))):
        want = nm_text(spec["bridges"])
    result.file(nm_conf, _files.read_text(nm_conf, WHAT), want)
    result.file(paths["network_unit"], _files.read_text(paths["network_unit"], WHAT),
                spec["network_unit"] if present else None)


def _live_sysctls(result, spec):
    if spec["state"] != "present":
        return
    wanted = dict(spec["sysctls"])
    if spec["bridge_nf_call"] is not None:
        if spec["bridge_nf_call"] and not os.path.exists(_forwarding.proc_path(BRIDGE_NF[0])):
            result.steps["modprobe"] = True
            result.lines.append("load the kernel module br_netfilter")
        if result.steps["modprobe"] or os.path.exists(_forwarding.proc_path(BRIDGE_NF[0])):
            wanted.update((k, "1" if spec["bridge_nf_call"] else "0") for k in BRIDGE_NF)
    for key, value in sorted(wanted.items()):
        current = _forwarding.read(key)
        if current != value:
            result.steps["sysctl"].append((key, value))
            result.lines.append("set %s = %s (was %s)" % (key, value, current))


def _dnsmasq(result, spec, paths, live, found):
    """The template unit, each instance's configuration and its systemd state (found: the configured ones)."""
    wanted = dict((i["name"], i["conf"]) for i in spec["dnsmasq"]) if spec["state"] == "present" else {}
    template = _systemd.with_config_hash(spec["dnsmasq_unit"]) if wanted else None
    template_changed = result.file(paths["template"], _files.read_text(paths["template"], WHAT), template)
    for name in found:
        if name in wanted:
            continue
        props = live[_dhcp.UNIT % name]
        if props.get("ActiveState") in _systemd.RUNNING:
            result.steps["stop"].append(_dhcp.UNIT % name)
            result.lines.append("stop %s" % (_dhcp.UNIT % name))
        if props.get("UnitFileState") == "enabled":
            result.steps["disable"].append(_dhcp.UNIT % name)
            result.lines.append("disable %s" % (_dhcp.UNIT % name))
        for path in (os.path.join(paths["conf_dir"], name + ".conf"), os.path.join(paths["leases_dir"], name + ".leases")):
            result.file(path, _files.read_text(path, WHAT), None)
    if not wanted:  # nothing left to serve: the collection's directories go (their parent only if empty)
        for path in (paths["conf_dir"], paths["leases_dir"]):
            if os.path.lexists(path):
                result.steps["rmtree"].append(path)
                result.lines.append("remove %s" % path)
        result.steps["rmdir"].append(os.path.dirname(paths["leases_dir"]))
        return
    if not os.path.isdir(paths["leases_dir"]):
        result.steps["makedirs"].append(paths["leases_dir"])
        result.lines.append("create %s" % paths["leases_dir"])
    for name, conf in sorted(wanted.items()):
        unit, path = _dhcp.UNIT % name, os.path.join(paths["conf_dir"], name + ".conf")
        conf_changed = result.file(path, _files.read_text(path, WHAT), conf)
        props = live[unit]
        if props.get("UnitFileState") != "enabled":
            result.steps["enable"].append(unit)
            result.lines.append("enable %s" % unit)
        if props.get("ActiveState") not in _systemd.RUNNING:
            result.steps["start"].append(unit)
            result.lines.append("start %s" % unit)
            continue
        why = None
        if conf_changed or template_changed:
            why = "its configuration or the template unit changed"
        elif _files.read_text(os.path.join(RUN_DIR, name, "running.conf"), WHAT) != conf:
            why = "it runs another configuration than its file: an earlier run stopped before the restart"
        elif props.get("running_config") != _systemd.recorded_hash(template):
            why = "it was started from another template unit"
        elif props.get("NeedDaemonReload") == "yes":
            why = "systemd had not read its unit"
        if why:
            result.steps["restart"].append(unit)
            result.lines.append("restart %s (%s)" % (unit, why))


def plan(spec):
    """What to do; reads the host, changes nothing. spec: state, config_dir, lib_dir, unit_dir, sysctl_file,
    modules_file, nm_conf, nm_unmanaged, bridges, sysctls, bridge_nf_call, dnsmasq (instances),
    network_unit and dnsmasq_unit (texts)."""
    result = _Plan()
    paths = _paths(spec)
    found = _found_instances(paths["conf_dir"])
    names = sorted(set(found) | set(i["name"] for i in spec["dnsmasq"]))
    live = _systemd.show([NETWORK_UNIT] + [_dhcp.UNIT % n for n in names], WHAT)
    _boot_files(result, spec)
    _host_files(result, spec, paths)
    _live_sysctls(result, spec)
    _dnsmasq(result, spec, paths, live, found)
    network = live[NETWORK_UNIT]
    units_changed = any(p.endswith(".service") for p in result.steps["remove"] + [w[0] for w in result.steps["write"]])
    if units_changed or any(p.get("NeedDaemonReload") == "yes" for p in live.values()):
        result.steps["reload"] = True
        result.lines.append("daemon-reload")
    if spec["state"] == "present":
        if network.get("UnitFileState") != "enabled":
            result.steps["enable"].insert(0, NETWORK_UNIT)
            result.lines.append("enable %s" % NETWORK_UNIT)
        if network.get("ActiveState") != "active":
            result.steps["start"].insert(0, NETWORK_UNIT)
            result.lines.append("start %s" % NETWORK_UNIT)
    elif network.get("UnitFileState") == "enabled":
        result.steps["disable"].append(NETWORK_UNIT)
        result.lines.append("disable %s" % NETWORK_UNIT)
    return {"steps": result.steps, "plan": result.lines, "diff": result.diff, "changed": bool(result.lines),
            "dnsmasq": [i["unit"] for i in spec["dnsmasq"]] if spec["state"] == "present" else []}


def _modprobe():
    proc = _proc.run(["modprobe", "br_netfilter"], WHAT, hint="install kmod", check=False)
    if proc.returncode != 0:
        raise HostnetError("%s: modprobe br_netfilter failed: %s; install the kernel's modules or set"
                           " hostnet_network_bridge_nf_call to null" % (WHAT, proc.stderr.strip()),
                           rc=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)


def apply(result):
    """Run the steps of plan(), under the host-wide lock: stop and disable first, then files and sysctls. The
    units' side goes to start_units(), after the lock is released."""
    steps = result["steps"]
    _systemd.apply_sets(WHAT, {"disable": steps["disable"], "stop": steps["stop"]})
    for path in steps["remove"]:
        _files.remove(path, WHAT)
    for path in steps["rmtree"]:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            raise HostnetError("%s: cannot remove %s: %s" % (WHAT, path, exc.strerror))
    for path in steps["makedirs"]:
        try:
            os.makedirs(path, 0o755)
        except OSError as exc:
            raise HostnetError("%s: cannot create %s: %s" % (WHAT, path, exc.strerror))
    for path, text, mode in steps["write"]:
        _files.write_atomic(path, text, WHAT, mode=mode)
    for path in steps["rmdir"]:  # only when empty: the leases' parent may hold other things
        try:
            os.rmdir(path)
        except OSError:
            pass
    if steps["modprobe"]:
        _modprobe()
    for key, value in steps["sysctl"]:
        _forwarding.write(key, value, WHAT)


def start_units(result):
    """One daemon-reload, enable, restart and start as sets. Outside the host-wide lock: starting
    hostnet-qemu-network.service runs the boot CLI, which takes that lock (so does a dnsmasq instance,
    which requires it)."""
    steps = result["steps"]
    _systemd.apply_sets(WHAT, {"reload": steps["reload"], "enable": steps["enable"], "restart": steps["restart"],
                               "start": steps["start"]})
