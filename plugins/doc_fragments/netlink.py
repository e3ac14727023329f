# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Modules that change devices through the netlink engine (plugins/module_utils/_engine.py).
    DOCUMENTATION = r"""
requirements:
  - pyroute2 (Python library, on the target)
  - netaddr (Python library, on the target)
notes:
  - Runs as root (CAP_NET_ADMIN) on the target.
attributes:
  check_mode:
    support: full
    description: Computes the plan against the live state and changes nothing.
  diff_mode:
    support: full
    description: Shows each touched device before and after.
"""
