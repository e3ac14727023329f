#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: bridge_helper
short_description: Let unprivileged QEMU attach taps to bridges through qemu-bridge-helper
version_added: 0.1.0
description:
  - Locates C(qemu-bridge-helper), gives it C(cap_net_admin) (or, when asked, the setuid bit), optionally restricts
    who may run it (group and mode), and manages the bridge ACL file C(/etc/qemu/bridge.conf).
  - File capabilities are read and written through the C(security.capability) extended attribute and compared as
    sets, never as C(getcap) text. Revisions 1, 2 and 3 are decoded; the module writes revision 2.
  - The wanted capability set is exactly C(cap_net_admin) in the permitted set with the effective flag, nothing
    inheritable. A revision-3 attribute whose C(rootid) is not 0 grants nothing to the host's processes and is
    therefore rewritten.
  - Because C(chown(2)) clears file capabilities and the setuid bit, the module changes owner and group first, then
    the mode, then the capability, and reads the result back.
extends_documentation_fragment:
  - hostnet.qemu.attributes
options:
  path:
    description:
      - Path of the helper binary. When omitted, the first existing one of C(/usr/lib/qemu/qemu-bridge-helper)
        (Debian, Ubuntu), C(/usr/libexec/qemu-bridge-helper) (Fedora, RHEL), C(/usr/lib/qemu-kvm/qemu-bridge-helper)
        and C(/usr/libexec/qemu-kvm/qemu-bridge-helper) is used.
      - Not finding it is an error naming the paths tried and the package to install.
    type: path
  state:
    description:
      - V(present) gives the helper its privilege and writes the managed block of the ACL file.
      - V(absent) removes the privilege (capability and setuid bit) and the managed block; lines the module does not
        own are kept. O(allow), O(deny), O(include) and O(allow_all) must not be given.
    type: str
    choices: [present, absent]
    default: present
  method:
    description:
      - V(setcap) (default, recommended) sets C(cap_net_admin=ep) as a file capability and clears the setuid bit.
      - V(setuid) makes the helper setuid root and removes any file capability, for filesystems without extended
        attributes. QEMU's helper then drops to the caller's uid keeping only C(CAP_NET_ADMIN), but only if it was
        built with libcap-ng; prefer V(setcap).
    type: str
    choices: [setcap, setuid]
    default: setcap
  group:
    description:
      - Group (name or gid) that owns the helper. Together with O(mode) this restricts who may run it.
      - When given, O(mode) defaults to C(0750) and the ACL file defaults to C(root:GROUP 0640).
    type: str
  mode:
    description:
      - Permission bits of the helper, as an octal string such as C('0750'). Special bits are not allowed here; the
        setuid bit follows O(method).
      - A string is read as octal; an integer (YAML C(0660) without quotes) is already the bits, as M(ansible.builtin.file) reads it.
      - Default is C(0750) when O(group) is given, otherwise the current permission bits are kept.
      - A mode that lets others, or a group other than root, write the helper is refused (also a kept one), since
        the helper runs privileged. The ACL file (O(config_mode)) and O(include) files are held to the same rule.
    type: raw
  config:
    description:
      - The ACL file. QEMU's helper reads only its compiled-in C(/etc/qemu/bridge.conf); change this for tests or
        for files pulled in with an C(include) line. The directory is created (0755) when missing.
    type: path
    default: /etc/qemu/bridge.conf
  allow:
    description:
      - Bridges the helper may attach taps to. Names are validated as Linux interface names (1 to 15 bytes, no C(/),
        C(:) or whitespace); truncated names were CVE-2019-13164.
      - V(all) is refused here; use O(allow_all).
      - A bridge that does not exist yet gives a warning, not an error.
    type: list
    elements: str
    default: []
  deny:
    description:
      - Bridges the helper must refuse. A deny wins over any allow, in any order and any file. V(all) denies every bridge.
    type: list
    elements: str
    default: []
  include:
    description:
      - Absolute paths of further ACL files to include.
      - A missing include file is an error. The helper itself silently ignores missing or unreadable includes, so
        their deny lines would be lost without notice. An include other users cannot read gives a warning.
      - An include that others, or a group other than root, may write is an error, since its allow lines would let them
        attach to any bridge.
    type: list
    elements: path
    default: []
  allow_all:
    description:
      - Write C(allow all), letting every user who may run the helper attach to every bridge not denied. The module warns.
    type: bool
    default: false
  exclusive:
    description:
      - The module owns only the lines between its C(# BEGIN hostnet.qemu managed block) and C(# END hostnet.qemu managed
        block) markers and keeps every other line. With V(true) the whole file is replaced by the managed block.
    type: bool
    default: false
  config_owner:
    description: Owner of the ACL file. Default C(root).
    type: str
  config_group:
    description: Group of the ACL file. Default O(group) when given, else C(root).
    type: str
  config_mode:
    description:
      - Mode of the ACL file, as an octal string. Default C(0640) when O(group) is given, else C(0644).
      - A mode with write bits for others, or for a group other than root, is refused.
      - The helper reads the file as the calling user (checked with QEMU 7.2), so a file its users cannot read makes
        it fail with "failed to parse default acl file"; the module warns about such a mode.
      - A string is read as octal; an integer (YAML C(0660) without quotes) is already the bits, as M(ansible.builtin.file) reads it.
    type: raw
notes:
  - The ACL file is written atomically (temporary file in the same directory, then rename) with its owner and mode
    already set.
  - Warnings about missing bridges look at the network namespace the module runs in.
seealso:
  - name: QEMU bridge helper documentation
    description: The helper and its ACL file.
    link: https://wiki.qemu.org/Features/HelperNetworking
author:
  - hostnet.qemu developers (@hostnet-qemu)
"""

EXAMPLES = r"""
- name: Members of qemusers may attach guests to br0 (and nothing else)
  hostnet.qemu.bridge_helper:
    group: qemusers
    mode: "0750"
    allow: [br0]

- name: Allow two bridges, deny one that a distribution file allows
  hostnet.qemu.bridge_helper:
    allow: [br0, br-lab]
    deny: [br-mgmt]

- name: Own the whole ACL file and pull in a per-team file
  hostnet.qemu.bridge_helper:
    allow: [br0]
    include: [/etc/qemu/team.conf]
    exclusive: true

- name: Take the privilege away again and remove the managed lines
  hostnet.qemu.bridge_helper:
    state: absent
"""

RETURN = r"""
helper:
  description: Path of the helper binary that was managed.
  returned: always
  type: str
  sample: /usr/lib/qemu/qemu-bridge-helper
method:
  description: The privilege method used.
  returned: always
  type: str
  sample: setcap
caps_before:
  description: Names of the capabilities in the helper's permitted file capability set before the module ran.
  returned: always
  type: list
  elements: str
  sample: []
caps_after:
  description: Names of the permitted file capabilities after the module ran (or would run).
  returned: always
  type: list
  elements: str
  sample: [cap_net_admin]
helper_mode_before:
  description: The helper's mode (including special bits) before, in octal.
  returned: always
  type: str
  sample: "0755"
helper_mode_after:
  description: The helper's mode after.
  returned: always
  type: str
  sample: "0750"
helper_owner_before:
  description: The helper's C([uid, gid]) before.
  returned: always
  type: list
  elements: int
  sample: [0, 0]
helper_owner_after:
  description: The helper's C([uid, gid]) after.
  returned: always
  type: list
  elements: int
  sample: [0, 1001]
config:
  description: Path of the ACL file.
  returned: always
  type: str
  sample: /etc/qemu/bridge.conf
config_changed:
  description: Whether the ACL file's text, owner or mode changed (or would change).
  returned: always
  type: bool
effective_acl:
  description:
    - What the helper will decide with the new file, following includes. A deny wins over any allow.
  returned: always
  type: dict
  contains:
    allow:
      description: Bridges named in allow lines.
      type: list
      elements: str
    deny:
      description: Bridges named in deny lines.
      type: list
      elements: str
    allow_all:
      description: Whether an C(allow all) line is present.
      type: bool
    deny_all:
      description: Whether a C(deny all) line is present.
      type: bool
    allowed_bridges:
      description: Explicitly allowed bridges that are not denied.
      type: list
      elements: str
    all_bridges_allowed:
      description: Whether every bridge not denied is allowed (C(allow all) without C(deny all)).
      type: bool
  sample: {"allow": ["br0"], "deny": [], "allow_all": false, "deny_all": false, "allowed_bridges": ["br0"],
           "all_bridges_allowed": false}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.hostnet.qemu.plugins.module_utils import _bridgehelper, _runner


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            method=dict(type="str", choices=["setcap", "setuid"], default="setcap"),
            group=dict(type="str"),
            mode=dict(type="raw"),
            config=dict(type="path", default=_bridgehelper.DEFAULT_CONFIG),
            allow=dict(type="list", elements="str", default=[]),
            deny=dict(type="list", elements="str", default=[]),
            include=dict(type="list", elements="path", default=[]),
            allow_all=dict(type="bool", default=False),
            exclusive=dict(type="bool", default=False),
            config_owner=dict(type="str"),
            config_group=dict(type="str"),
            config_mode=dict(type="raw"),
        ),
        supports_check_mode=True,
    )

    def work():
        result = _bridgehelper.run(module.params, module.check_mode)
        for warning in result.pop("warnings_list"):
            module.warn(warning)
        return result

    _runner.run(module, work, libs=False)


if __name__ == "__main__":
    main()
