#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: guests
short_description: Converge all QEMU guests of a host in one call (units, devices, disks, systemd state)
version_added: 0.1.0
description:
  - The engine of the P(hostnet.qemu.guest#role) role. The role validates and renders the guests (unit text with its
    configuration hash); this module reads the host once and converges every guest in one plan.
  - Guests to remove are stopped and disabled and their units removed; the taps and macvtaps (O(devices)) converge
    through the same engine as M(hostnet.qemu.netdevs); the device set is saved for the boot unit; disks are removed
    (O(guests[].remove_disks)) and created; units are written; systemd is reloaded once; units are enabled,
    disabled, stopped, restarted and started as sets.
  - A running guest is restarted when the configuration it was started from (C(HOSTNET_QEMU_CONFIG) in its
    environment) is not the one its unit records, so a run that stopped half-way is completed by the next one.
    The unit records only what a restart applies (its C([Service]) settings but the stop command and timeout and
    the restart policy), so a unit rewritten with only those, or comments, changed is written and reloaded and
    restarts nothing. Each restart names the fields that changed between the settings the running QEMU inherited
    and those its unit records (C(HOSTNET_QEMU_SETTINGS)), for example C(restart (memory 512 -> 1024)).
  - A disk that exists (an image, a symlink, anything) is never touched; a new one is created without following
    symlinks and given to the guest's user (0600).
  - The whole run holds the collection's host-wide lock.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes
options:
  guests:
    description: The guests, as rendered by the role.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The guest's name.
        type: str
        required: true
      unit:
        description: The unit's file name in O(unit_dir), for example C(hostnet-guest-vm1.service).
        type: str
        required: true
      state:
        description: C(started), C(stopped) or C(absent) (stopped, disabled, unit removed).
        type: str
        choices: [started, stopped, absent]
        default: started
      enabled:
        description: Whether the unit starts at boot.
        type: bool
        default: true
      content:
        description: The unit file's text. Required unless O(guests[].state=absent).
        type: str
      user:
        description: The user QEMU runs as; new disk images belong to it.
        type: str
      create_user:
        description:
          - Whether O(guests[].user) is the guest's own user, created when missing (a system user without home or
            login shell, with a group of its own, member of O(guests[].group)). Own users are kept when the guest
            is removed, so their uid is never given to somebody else while a disk may still belong to it.
        type: bool
        default: false
      group:
        description: The group the guest's own user joins (device nodes, the bridge helper, ping_group_range).
        type: str
        default: qemusers
      remove_disks:
        description: With O(guests[].state=absent), also remove the guest's disks (the paths only; never a symlink's target).
        type: bool
        default: false
      disks:
        description: The guest's disks.
        type: list
        elements: dict
        default: []
        suboptions:
          path:
            description: The image's path.
            type: path
            required: true
          create:
            description: C(new) (a new qcow2 of O(guests[].disks[].size)) or C(overlay) (over O(guests[].disks[].backing)); unset for an image that must exist.
            type: str
            choices: [new, overlay]
          size:
            description: Size of a new image, as qemu-img reads it (C(8G)).
            type: str
          backing:
            description: The backing image of an overlay.
            type: path
          backing_format:
            description: The backing image's format.
            type: str
      fetch:
        description:
          - The base image of the guest's first disk, fetched from O(guests[].fetch.url) into O(guests[].fetch.path)
            when it is not there, and kept only when it matches O(guests[].fetch.checksum). Guests that share an
            image share one fetch.
        type: dict
        suboptions:
          url:
            description: Where the image is (http, https or ftp).
            type: str
            required: true
          checksum:
            description: C(sha256:HEX) or C(sha512:HEX) of the file.
            type: str
            required: true
          path:
            description: Its place in the image store.
            type: path
            required: true
      tpm:
        description:
          - The guest's TPM 2.0 (swtpm), run by its companion unit C(hostnet-swtpm-NAME.service) in O(unit_dir),
            which the guest's unit requires. Its state directory O(state_dir)/NAME/tpm is made for the guest's user.
          - Unset, a companion unit left from earlier is stopped and removed; the state goes only with
            O(guests[].state=absent) and O(guests[].remove_disks).
        type: dict
        suboptions:
          content:
            description: The companion unit's text.
            type: str
            required: true
      cdrom:
        description:
          - The media of the guest's CD-ROM (an ISO image), as its unit records it. A running guest that is not
            restarted gets a changed media live, through O(guests[].qmp) (inserted, or ejected when unset),
            without a restart.
        type: path
      qmp:
        description: The guest's QMP socket, for live CD-ROM changes.
        type: path
      seed:
        description:
          - The guest's cloud-init NoCloud seed, written as O(state_dir)/NAME/seed.iso (ISO 9660, label C(cidata),
            made with C(genisoimage), or C(xorrisofs)/C(mkisofs) when that is missing), root's and readable by the
            guest user's group.
          - The image records O(guests[].seed.hash) and is rebuilt only when that changes. A guest whose seed changed
            is not restarted (cloud-init reads it at boot). Unset, a seed left from earlier is removed.
        type: dict
        suboptions:
          files:
            description: The seed's files by name (C(meta-data), C(user-data), C(network-config)) and their text.
            type: dict
            required: true
          hash:
            description: The hash of the content (hex), as the role computes it.
            type: str
            required: true
      firmware_vars:
        description:
          - For a UEFI guest, its variable store O(state_dir)/NAME/OVMF_VARS.fd, copied from
            O(guests[].firmware_vars.template) when missing and the guest user's (0600). It survives restarts and
            runs, and is removed only with O(guests[].state=absent) and O(guests[].remove_disks).
        type: dict
        suboptions:
          template:
            description: OVMF's variable store template (C(/usr/share/OVMF/OVMF_VARS_4M.fd)).
            type: path
            required: true
  state_dir:
    description: Where each guest's own files (seed, UEFI variables) live, one directory per guest (root's, 0750).
    type: path
    default: /var/lib/hostnet-qemu/guests
  unit_dir:
    description: Where the units are written.
    type: path
    default: /etc/systemd/system
  devices:
    description:
      - The guests' taps and macvtaps, each entry as in M(hostnet.qemu.netdevs) O(hostnet.qemu.netdevs#module:devices).
      - In check mode a device whose owner does not exist yet (an earlier role creates it) is reported as a
        change, not planned.
    type: list
    elements: dict
    default: []
  devices_file:
    description:
      - Where the present devices are saved for C(hostnet-qemu-network.service), which re-creates them at boot.
      - Removed when no device is present. Unset, nothing is saved.
    type: path
  restart_policy:
    description:
      - C(changed) restarts a running guest whose configuration changed.
      - C(pending) writes its unit but leaves the running QEMU alone; the guest is reported in RV(pending) (and as a
        warning) on every run until it is restarted, by hand or by a run with C(changed). Not a change by itself.
    type: str
    choices: [changed, pending]
    default: changed
  restart_parallel:
    description:
      - At most this many guests are restarted at once (each stop may wait its whole timeout); C(0) restarts all
        that need it at once.
    type: int
    default: 0
notes:
  - Check mode and diff are supported; the diff shows each unit's lines and each guest's systemd state before and after.
"""

EXAMPLES = r"""
- name: Two guests of this host in one call (normally done by the hostnet.qemu.guest role)
  hostnet.qemu.guests:
    guests:
      - name: vm1
        unit: hostnet-guest-vm1.service
        state: started
        user: qemu
        content: "{{ lookup('ansible.builtin.file', 'vm1.service') }}"
        disks:
          - path: /var/lib/hostnet-qemu/vm1.qcow2
            create: new
            size: 8G
      - name: old
        unit: hostnet-guest-old.service
        state: absent
        remove_disks: true
        disks:
          - path: /var/lib/hostnet-qemu/old.qcow2
    devices:
      - kind: tap
        name: vm1-net0
        owner: qemu
        master: vmnet0
    devices_file: /etc/hostnet-qemu/netdevs.d/guests.json
"""

RETURN = r"""
guests:
  description: Per guest, its unit and the actions planned (and, outside check mode, done).
  returned: always
  type: dict
  sample: {vm1: {unit: hostnet-guest-vm1.service, pending_restart: null,
                 actions: ["write unit /etc/systemd/system/hostnet-guest-vm1.service", start]},
           vm2: {unit: hostnet-guest-vm2.service, pending_restart: "memory 512 -> 1024", actions: []}}
pending:
  description: The guests that need a restart and were left running (O(restart_policy=pending)), with why.
  returned: always
  type: list
  elements: str
  sample: ["guest 'vm2': restart needed (memory 512 -> 1024); pending, as restart_policy is pending"]
plan:
  description: Every action, in order, naming its guest.
  returned: always
  type: list
  elements: str
devices:
  description: The device engine's result for O(devices) (as M(hostnet.qemu.netdevs) returns it).
  returned: always
  type: dict
"""

import json
import pwd
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _argspec, _engine, _guestset, _guestspec, _model, _runner, _seed, _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils._lock import host_lock

UNIT_RE = re.compile(r"[A-Za-z0-9_.:@-]+\.service\Z")


def _check(guests):
    for guest in guests:
        _validate.object_name(guest["name"], "guest %r: name" % guest["name"])
        for disk in guest["disks"]:
            for key in ("path", "backing"):
                if disk.get(key):
                    _validate.abspath(disk[key], "guest '%s': disks[].%s" % (guest["name"], key))
        if not UNIT_RE.match(guest["unit"]) or guest["unit"].startswith("."):
            raise HostnetError("guest '%s': unit '%s' is not a unit file name; give NAME.service" % (guest["name"], guest["unit"]))
        if guest.get("fetch"):
            _guestspec.url(guest["fetch"]["url"], "guest '%s': fetch.url" % guest["name"])
            _guestspec.checksum(guest["fetch"]["checksum"], "guest '%s': fetch.checksum" % guest["name"])
            _validate.abspath(guest["fetch"]["path"], "guest '%s': fetch.path" % guest["name"])
        if guest.get("firmware_vars"):
            _validate.abspath(guest["firmware_vars"]["template"], "guest '%s': firmware_vars.template" % guest["name"])
        for name, text in ((guest.get("seed") or {}).get("files") or {}).items():
            if name not in ("meta-data", "user-data", "network-config", "vendor-data") or not isinstance(text, str):
                raise HostnetError("guest '%s': seed.files: '%s' is no NoCloud seed file; give meta-data, user-data, "
                                   "network-config or vendor-data, each as text" % (guest["name"], name))
        if guest["state"] != "absent" and guest.get("content") is None:
            raise HostnetError("guest '%s': content is required unless state is absent" % guest["name"])
        if guest["create_user"]:
            if not guest.get("user"):
                raise HostnetError("guest '%s': create_user needs user" % guest["name"])
            _guestspec.user_name(guest["user"], "guest '%s': user" % guest["name"])
            _guestspec.user_name(guest["group"], "guest '%s': group" % guest["name"])


def _iso_tool(module, result):
    if not result["steps"]["write_seeds"]:
        return None
    for tool in _seed.ISO_TOOLS:
        path = module.get_bin_path(tool)
        if path:
            return path
    names = ", ".join(sorted(set("'%s'" % step[0]["name"] for step in result["steps"]["write_seeds"])))
    raise HostnetError("guests %s: a cloud-init seed needs genisoimage (or xorriso), and neither is installed; install "
                       "the genisoimage package (the guest role does, with hostnet_guest_install_packages)" % names)


def _owner_missing(device):
    for key in ("owner", "device_owner"):
        user = device.get(key)
        if isinstance(user, str) and not user.isdigit():
            try:
                pwd.getpwnam(user)
            except KeyError:
                return user
    return None


def _saved_text(devices):
    present = [dict((k, v) for k, v in d.items() if v is not None) for d in devices if d.get("state") in (None, "present")]
    if not present:
        return None
    return json.dumps({"comment": "Managed by Ansible (hostnet.qemu.guest); re-created at boot by hostnet-qemu-network.service",
                       "devices": present}, indent=2, sort_keys=True) + "\n"


def main():
    module = AnsibleModule(
        argument_spec=dict(
            guests=dict(type="list", elements="dict", default=[], options=dict(
                name=dict(type="str", required=True),
                unit=dict(type="str", required=True),
                state=dict(type="str", default="started", choices=["started", "stopped", "absent"]),
                enabled=dict(type="bool", default=True),
                content=dict(type="str"),
                user=dict(type="str"),
                create_user=dict(type="bool", default=False),
                group=dict(type="str", default="qemusers"),
                remove_disks=dict(type="bool", default=False),
                disks=dict(type="list", elements="dict", default=[], options=dict(
                    path=dict(type="path", required=True),
                    create=dict(type="str", choices=["new", "overlay"]),
                    size=dict(type="str"),
                    backing=dict(type="path"),
                    backing_format=dict(type="str"),
                )),
                fetch=dict(type="dict", options=dict(
                    url=dict(type="str", required=True),
                    checksum=dict(type="str", required=True),
                    path=dict(type="path", required=True),
                )),
                tpm=dict(type="dict", options=dict(
                    content=dict(type="str", required=True),
                )),
                cdrom=dict(type="path"),
                qmp=dict(type="path"),
                seed=dict(type="dict", options=dict(
                    files=dict(type="dict", required=True),
                    hash=dict(type="str", required=True),
                )),
                firmware_vars=dict(type="dict", options=dict(
                    template=dict(type="path", required=True),
                )),
            )),
            state_dir=dict(type="path", default="/var/lib/hostnet-qemu/guests"),
            unit_dir=dict(type="path", default="/etc/systemd/system"),
            devices=dict(type="list", elements="dict", default=[]),
            devices_file=dict(type="path"),
            restart_policy=dict(type="str", default="changed", choices=["changed", "pending"]),
            restart_parallel=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )

    def work():
        params = module.params
        _check(params["guests"])
        spec = _model.netdevs_device_spec()
        devices = [_argspec.validate(spec, d, "devices[%d]" % i) for i, d in enumerate(params["devices"])]
        # check mode: a device whose owner does not exist yet is reported, not planned (the engine would refuse it)
        missing = [(d, _owner_missing(d) if module.check_mode else None) for d in devices]
        planned = [d for d, owner in missing if owner is None]
        with host_lock("guests"):
            result = _guestset.plan(params["guests"], params["unit_dir"], params["devices_file"], _saved_text(devices),
                                    restart_policy=params["restart_policy"], state_dir=params["state_dir"])
            result["restart_parallel"] = params["restart_parallel"]
            if not module.check_mode:
                _guestset.apply_before_devices(result)
            engine = _engine.converge(_model.normalise_all(planned), check_mode=module.check_mode) if planned else {
                "changed": False, "plan": [], "diff": {"before": {}, "after": {}}, "devices": {}}
            engine["plan"] += ["create %s '%s' (its owner '%s' does not exist yet)" % (d["kind"], d["name"], owner)
                               for d, owner in missing if owner is not None]
            if not module.check_mode:
                qemu_img = module.get_bin_path("qemu-img", required=bool(result["steps"]["create_disks"]))
                _guestset.apply_after_devices(result, qemu_img or "qemu-img", _iso_tool(module, result))
        if not module.check_mode:
            _guestset.apply_units(result)  # outside the lock: starting a guest may start the boot unit
        diff = result["diff"]
        if engine["changed"]:
            diff.append(_engine.diff_entry(engine))
        for line in result["pending"]:
            module.warn(line)
        return {"changed": result["changed"] or bool(engine["plan"]), "plan": result["plan"] + engine["plan"],
                "guests": result["guests"], "pending": result["pending"], "devices": engine, "diff": diff}

    _runner.run(module, work)


if __name__ == "__main__":
    main()
