#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ping_group_range
short_description: Let groups open ICMP echo sockets (net.ipv4.ping_group_range), for QEMU user-mode networking
version_added: 0.1.0
description:
  - QEMU user-mode networking (C(-netdev user)) answers a guest's ping only if the QEMU process may open an
    unprivileged ICMP echo socket (C(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP))). The kernel allows that
    only for processes whose primary or a supplementary group is inside C(net.ipv4.ping_group_range).
    The kernel default C(1 0) admits nobody.
  - This module widens (or sets) that range so that the given groups are inside it, live through
    C(/proc/sys/net/ipv4/ping_group_range) and, unless disabled, persistently in a C(sysctl.d) drop-in.
  - The comparison is semantic ("are the wanted gids inside the live range?"), never a string comparison.
  - The value is per network namespace; with O(netns) the module enters that namespace in its own process.
options:
  groups:
    description:
      - Groups (names or numeric gids) whose members must be able to open ICMP echo sockets.
      - Names must exist in the group database on the target.
      - Mutually exclusive with O(range); one of the two is required.
      - If the gids are not contiguous, or O(policy=extend) joins them to a live range they are not next to, the
        resulting range also admits the gids in between; the module warns (naming the cause) and returns the
        existing groups it newly admits in RV(admitted_extra_groups).
    type: list
    elements: str
  range:
    description:
      - An explicit range C([lo, hi]) of gids, inclusive, with C(0 <= lo <= hi <= 4294967294).
      - Linux 6.5 and later accept gids up to 4294967294; older kernels (for example Debian 12's 6.1) refuse
        anything above 2147483647, which the module reports as an error when it writes the value.
      - Mutually exclusive with O(groups).
    type: list
    elements: int
  policy:
    description:
      - V(extend) widens the current live range just enough to cover the wanted gids (the smallest range
        containing both); if the current range is empty (C(lo > hi), such as the default C(1 0)) the result is
        just the wanted range. A live range that already covers the wanted gids is left alone.
      - V(exact) sets the range to exactly C([min, max]) of the wanted gids (or O(range)), narrowing it if needed.
    type: str
    choices: [extend, exact]
    default: extend
  persist:
    description:
      - Also write the resulting range to O(sysctl_file) so it survives a reboot.
      - Defaults to V(true) without O(netns) and to V(false) with it. C(sysctl.d) files are applied by
        C(systemd-sysctl) to the host's initial network namespace only, so V(true) together with O(netns)
        is an error; whoever creates the namespace must set its value.
    type: bool
  sysctl_file:
    description:
      - The drop-in file to write when persisting. Its name must sort after systemd's C(50-default.conf)
        (and distribution files such as C(50-pid-max.conf)) so that it wins.
      - The module owns this file and rewrites it completely.
    type: path
    default: /etc/sysctl.d/60-hostnet-qemu-ping-group-range.conf
extends_documentation_fragment:
  - hostnet.qemu.attributes
  - hostnet.qemu.netns
notes:
  - Files under C(/etc/sysctl.d) are read in lexical order of their names across C(/etc/sysctl.d), C(/run/sysctl.d)
    and C(/usr/lib/sysctl.d); a later file setting the same key still overrides this one.
  - The drop-in is written atomically (temporary file in the same directory, then rename), mode 0644.
seealso:
  - name: Kernel documentation of ping_group_range
    description: The sysctl in the IP sysctl documentation.
    link: https://docs.kernel.org/networking/ip-sysctl.html
author:
  - hostnet.qemu developers (@hostnet-qemu)
"""

EXAMPLES = r"""
- name: Let members of qemusers ping from QEMU user-mode networking
  hostnet.qemu.ping_group_range:
    groups: [qemusers]

- name: Set an exact range, live only, in a network namespace
  hostnet.qemu.ping_group_range:
    range: [1000, 1999]
    policy: exact
    netns: lab1

- name: Several groups by name and gid
  hostnet.qemu.ping_group_range:
    groups: [qemusers, "2000"]
  register: pgr

- name: Show groups admitted as a side effect of a non-contiguous request
  ansible.builtin.debug:
    var: pgr.admitted_extra_groups
"""

RETURN = r"""
before:
  description: The live range before the module ran, as C([lo, hi]) (C(lo > hi) means nobody is admitted).
  returned: always
  type: list
  elements: int
  sample: [1, 0]
after:
  description: The live range after the module ran (in check mode, the range it would set).
  returned: always
  type: list
  elements: int
  sample: [1000, 1000]
wanted_gids:
  description: The gids resolved from O(groups), sorted and unique; V(null) when O(range) was given.
  returned: always
  type: list
  elements: int
  sample: [1000]
admitted_extra_groups:
  description:
    - Existing groups (from the group database) that the new range admits but which were neither asked for
      nor admitted before. Non-empty only when O(groups) are not contiguous; the module also warns.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "users", "gid": 100}]
persist:
  description: Whether the range was (or would be) persisted to O(sysctl_file).
  returned: always
  type: bool
  sample: true
sysctl_file:
  description: The drop-in file written (or that would be written); V(null) when not persisting.
  returned: always
  type: str
  sample: /etc/sysctl.d/60-hostnet-qemu-ping-group-range.conf
shadowed_by:
  description:
    - Other C(sysctl.d) files that set the same key and are applied after O(sysctl_file) at boot (the module warns).
  returned: when persisting
  type: list
  elements: str
  sample: [/etc/sysctl.d/99-sysctl.conf]
live_changed:
  description: Whether the live value changed (or would change).
  returned: always
  type: bool
file_changed:
  description: Whether the drop-in file changed (or would change).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _runner, _sysctl


def main():
    module = AnsibleModule(
        argument_spec=dict(
            groups=dict(type="list", elements="str"),
            range=dict(type="list", elements="int"),
            policy=dict(type="str", choices=["extend", "exact"], default="extend"),
            persist=dict(type="bool"),
            sysctl_file=dict(type="path", default=_sysctl.DEFAULT_FILE),
            netns=dict(type="str"),
        ),
        mutually_exclusive=[["groups", "range"]],
        required_one_of=[["groups", "range"]],
        supports_check_mode=True,
    )
    params = module.params

    def work():
        result = _sysctl.plan(groups=params["groups"], rng=params["range"], policy=params["policy"],
                              netns=params["netns"], persist=params["persist"], sysctl_file=params["sysctl_file"])
        if result["admitted_extra_groups"]:
            module.warn(_sysctl.extra_groups_warning(result))
        for path in result.get("shadowed_by", []):
            module.warn("ping_group_range: %s also sets %s and is applied after %s at boot, so it wins there;"
                        " remove the setting from it or rename sysctl_file to sort later" % (path, _sysctl.KEY, result["sysctl_file"]))
        if result["changed"] and not module.check_mode:
            _sysctl.apply(result, netns=params["netns"])
        result.pop("file_text", None)
        return result

    _runner.run(module, work, libs=False)


if __name__ == "__main__":
    main()
