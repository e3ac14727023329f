# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Every module that changes the host: the plan is computed against the live state, and check mode and diff
    # come from it. A module may override one attribute's description with its own `attributes:` entry.
    # (ansible-test reads these as string literals: no string built from parts.)
    DOCUMENTATION = r"""
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

    # The device modules, which change devices through the netlink engine (plugins/module_utils/_engine.py);
    # used beside the default fragment (a fragment must document options or attributes: this one the platform).
    NETLINK = r"""
requirements:
  - pyroute2 (Python library, on the target)
  - netaddr (Python library, on the target)
notes:
  - Runs as root (CAP_NET_ADMIN) on the target.
attributes:
  platform:
    support: full
    platforms: posix
    description: Linux only (netlink, /dev/net/tun, systemd).
"""

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
