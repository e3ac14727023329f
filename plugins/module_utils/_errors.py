# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one error type.

Every private helper raises HostnetError with a message that names the object,
the problem and the fix; modules catch it once (_runner.run) and call fail_json(msg=str(err)) with the
rc, stdout and stderr of the program that failed, when one did (_proc.run).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class HostnetError(Exception):
    """A failure a user can act on; str(err) is the whole message."""

    def __init__(self, msg, rc=None, stdout=None, stderr=None):
        super(HostnetError, self).__init__(msg)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def details(self):
        """rc/stdout/stderr of the program that failed, for fail_json (empty when no program was involved)."""
        return dict((key, value) for key, value in (("rc", self.rc), ("stdout", self.stdout), ("stderr", self.stderr))
                    if value is not None)
