# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  netns:
    description:
      - Name of an existing network namespace (as listed by C(ip netns), a file under C(/run/netns)) to work in.
      - The module enters the namespace in its own process; it never creates one. A missing namespace is an error.
      - Omit to work in the namespace of the target's Ansible process (normally the host's).
    type: str
"""
