# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Options every device module shares (bridge, tap, macvtap); netdevs documents them per entry.
    DOCUMENTATION = r"""
options:
  name:
    description:
      - Interface name, 1 to 15 bytes, without C(/), C(:) or whitespace.
      - Names are refused, never truncated (a truncated name was an ACL bypass, CVE-2019-13164).
    type: str
    required: true
  state:
    description:
      - C(present) creates or converges the device; C(absent) deletes it.
      - A device of another kind with the same name is never deleted or changed; that is an error.
    type: str
    choices: [present, absent]
    default: present
  up:
    description: Whether the link is administratively up.
    type: bool
    default: true
  mtu:
    description: MTU in bytes (68 to 65535). Omit to leave the kernel's value alone.
    type: int
  mac:
    description:
      - Unicast MAC address, any notation netaddr understands; compared in lower-case colon form.
      - Multicast and all-zero addresses are refused. Omit to keep the kernel's (random) address.
    type: str
"""
