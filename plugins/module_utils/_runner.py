# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every device module's main() does: check libraries, normalise, converge, exit.

Modules stay thin: they declare their spec and docs and call run_devices().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError
from ansible_collections.hostnet.qemu.plugins.module_utils import _netlink, _validate


def require_libs(module):
    """Fail with Ansible's standard message when pyroute2 or netaddr is missing on the target."""
    if not _netlink.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=str(_netlink.PYROUTE2_IMPORT_ERROR))
    if not _validate.HAS_NETADDR:
        module.fail_json(msg=missing_required_lib("netaddr"), exception=str(_validate.NETADDR_IMPORT_ERROR))


def run(module, work, libs=True):
    """Call work() -> result dict; turn HostnetError into fail_json; exit_json otherwise. libs=False for the
    modules that need neither pyroute2 nor netaddr."""
    if libs:
        require_libs(module)
    try:
        result = work()
    except HostnetError as exc:
        module.fail_json(msg=str(exc), **exc.details())
    if not module._diff:
        result.pop("diff", None)
    result.setdefault("invocation", {"module_args": dict((key, _set_only(value)) for key, value in module.params.items())})
    module.exit_json(**result)


def _set_only(value):
    """value without its unset (None) suboptions, at every depth. AnsibleModule would echo every default of
    every list element: 430 KB for 1000 devices, which the target masks and the controller decodes and keeps."""
    if isinstance(value, dict):
        return dict((key, _set_only(item)) for key, item in value.items() if item is not None)
    if isinstance(value, list):
        return [_set_only(item) for item in value]
    return value
