#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: host_info
short_description: Read in one call what a QEMU host's preflight needs (users, groups, links, files, access)
version_added: 0.1.0
description:
  - Reads only, in one module call, what the roles' preflights check the variables against.
  - The user and group databases (through NSS), shaped like the facts of M(ansible.builtin.getent).
  - The network interfaces (C(/sys/class/net)) and which of O(paths) exist.
  - For each user in O(users), and for a stand-in (uid and gid 65534 with only O(stand_in_group)) when that is
    given, which of O(devices) it may open for reading and writing and which of O(paths) it may read. The kernel
    answers - C(access(2)) in a child process that has dropped to the user's uid, gid and groups - so ACLs,
    modes, supplementary groups and unreadable directories on the way count as they would for QEMU.
  - A qemu-bridge-helper ACL (O(acl)) and the files its C(include) lines name.
  - Needs no Python library beyond the standard one, so it runs before the host role installs pyroute2.
author:
  - hostnet.qemu developers (@hostnet-qemu)
extends_documentation_fragment:
  - hostnet.qemu.attributes.info
options:
  paths:
    description: Paths to look for (as root) and, for each probed user, to test for reading.
    type: list
    elements: path
    default: []
  users:
    description:
      - Users to probe as. A user that does not exist is left out of RV(access) (it is also missing from
        RV(passwd)).
    type: list
    elements: str
    default: []
  stand_in_group:
    description:
      - Probe also as a stand-in for users that do not exist yet and will be members of this group only
        (uid and gid 65534, nobody). No stand-in when the group does not exist.
    type: str
  devices:
    description: Device nodes to test, as each probed user, for opening for reading and writing.
    type: list
    elements: path
    default: [/dev/kvm, /dev/vhost-net]
  acl:
    description: A bridge helper ACL file to read, with the files its C(include) lines name.
    type: path
notes:
  - Runs as root (the probes drop privileges in a child process).
"""

EXAMPLES = r"""
- name: What the guests' users may open
  hostnet.qemu.host_info:
    users: [qemu]
    paths: [/var/lib/hostnet-qemu/images/vmlinuz]
    acl: /etc/qemu/bridge.conf
  register: info

- name: Show whether qemu may use KVM
  ansible.builtin.debug:
    msg: "{{ '/dev/kvm' in info.access.qemu.devices | default([]) }}"
"""

RETURN = r"""
passwd:
  description: Users by name, as M(ansible.builtin.getent) gives them (C(database=passwd)).
  returned: always
  type: dict
  sample: {qemu: [x, "998", "998", "", /nonexistent, /usr/sbin/nologin]}
group:
  description: Groups by name, as M(ansible.builtin.getent) gives them (C(database=group)); members comma-separated.
  returned: always
  type: dict
  sample: {qemusers: [x, "997", "qemu,alice"]}
links:
  description: The network interfaces of the host namespace.
  returned: always
  type: list
  elements: str
  sample: [eth0, lo, vmnet0]
exists:
  description: The entries of O(paths) that exist.
  returned: always
  type: list
  elements: str
access:
  description: Per probed user, C(devices) (of O(devices), may be opened read-write) and C(readable) (of O(paths)).
  returned: always
  type: dict
  sample: {qemu: {devices: [/dev/kvm], readable: [/var/lib/hostnet-qemu/images/vmlinuz]}}
stand_in:
  description: The same for the stand-in of O(stand_in_group); null without one.
  returned: always
  type: dict
acl:
  description: C(path), C(text) (null when the file does not exist) and C(includes) ({path - text}); null without O(acl).
  returned: always
  type: dict
  sample: {path: /etc/qemu/bridge.conf, text: "include /etc/qemu/hostnet.conf\n", includes: {}}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _hostinfo, _runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            users=dict(type="list", elements="str", default=[]),
            stand_in_group=dict(type="str"),
            devices=dict(type="list", elements="path", default=["/dev/kvm", "/dev/vhost-net"]),
            acl=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def work():
        found = _hostinfo.gather(params["paths"], params["users"], params["stand_in_group"], params["devices"],
                                 params["acl"])
        return dict(found, changed=False)

    _runner.run(module, work, libs=False)


if __name__ == "__main__":
    main()
