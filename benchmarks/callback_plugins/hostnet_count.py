# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Count what a run executed per host, for benchmarks/roles_bench.py (written as JSON to $HOSTNET_BENCH_COUNT)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: hostnet_count
type: aggregate
short_description: Count task results and module invocations per host (benchmark helper)
description:
  - Per host, the tasks that ran (ok or changed), changed, were skipped or failed, and the module invocations on the
    target (tasks whose action runs a module there, loop items counted one by one).
  - Writes the counts as JSON to the file named by the environment variable E(HOSTNET_BENCH_COUNT).
requirements:
  - enabled in callbacks_enabled
"""

import json
import os

from ansible.plugins.callback import CallbackBase

# actions that run on the controller only (no module is sent to the target)
LOCAL = frozenset(("include_tasks", "include_role", "import_tasks", "import_role", "set_fact", "assert", "debug", "meta",
                   "fail", "validate_argument_spec", "include_vars", "add_host", "group_by", "set_stats", "pause"))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "hostnet_count"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.hosts = {}

    def _count(self, result, outcome):
        empty = {"ran": 0, "skipped": 0, "failed": 0, "modules": 0, "changed": 0}
        host = self.hosts.setdefault(result._host.get_name(), empty)
        host[outcome] += 1
        host["changed"] += bool(outcome == "ran" and result._result.get("changed"))
        action = result._task.action.split(".")[-1]
        if outcome != "skipped" and action not in LOCAL:
            items = result._result.get("results")
            host["modules"] += len([i for i in items if not i.get("skipped")]) if isinstance(items, list) else 1

    def v2_runner_on_ok(self, result):
        self._count(result, "ran")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("HOSTNET_BENCH_COUNT")
        if path:
            with open(path, "w") as handle:
                json.dump(self.hosts, handle)
