# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the hostnet.qemu.host role; the logic lives in plugins/plugin_utils/_hostcheck.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.plugin_utils import _hostcheck


def host_settings(variables, host=None):
    """The host role's variables, validated against their spec and the host; the normalised values."""
    try:
        return _hostcheck.settings(variables, host)
    except HostnetError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"host_settings": host_settings}
