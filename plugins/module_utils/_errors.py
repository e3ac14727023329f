# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one error type.

Every private helper raises HostnetError with a message that names the object,
the problem and the fix; modules catch it once and call fail_json(msg=str(err)).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HostnetError(Exception):
    """A failure a user can act on; str(err) is the whole message."""
