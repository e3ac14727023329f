# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark helper, not part of the collection: a module that takes the netdevs task's arguments and does nothing.

Its task time, net of an empty task, is what ansible-core itself costs to carry N device dicts from the
playbook to a module process: templating, serialising into the AnsiballZ payload, decoding them in the module, and
the `invocation` echo back. No argument spec below the list, no work, no result: the floor that any module taking
the same arguments pays, whatever it does with them.
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(devices=dict(type="list", elements="raw", required=True),
                                              netns=dict(type="str")),
                           supports_check_mode=True)
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
