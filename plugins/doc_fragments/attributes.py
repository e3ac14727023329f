# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Every module that changes the host: the plan is computed against the live state, and check mode and diff
# come from it. A module may override one attribute's description with its own `attributes:` entry.
_CHANGES = r"""
attributes:
  check_mode:
    support: full
    description: Computes the plan against the live state and changes nothing.
  diff_mode:
    support: full
    description: Shows each object the plan touches, before and after.
  platform:
    support: full
    platforms: posix
    description: Linux only (netlink, /dev/net/tun, systemd).
"""


class ModuleDocFragment(object):
    DOCUMENTATION = _CHANGES

    # The device modules, which change devices through the netlink engine (plugins/module_utils/_engine.py).
    NETLINK = r"""
requirements:
  - pyroute2 (Python library, on the target)
  - netaddr (Python library, on the target)
notes:
  - Runs as root (CAP_NET_ADMIN) on the target.
""" + _CHANGES

    # The read-only modules (*_info).
    INFO = r"""
attributes:
  check_mode:
    support: full
    description: Reads only; a check-mode run reads the same.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
  platform:
    support: full
    platforms: posix
    description: Linux only.
"""
