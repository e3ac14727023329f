# -*- coding: utf-8 -*-
"""_proc.run, the collection's one way to run a program, and the rc/stdout/stderr a HostnetError carries."""

import os

import pytest

from ansible_collections.hostnet.qemu.plugins.module_utils import _proc, _runner
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError


def test_a_missing_program_names_the_object_and_the_fix():
    with pytest.raises(HostnetError) as err:
        _proc.run(["/nonexistent/hostnet-no-such-tool", "x"], "network 'lan'", hint="install nftables")
    assert str(err.value) == ("network 'lan': cannot run /nonexistent/hostnet-no-such-tool: No such file or directory;"
                              " install nftables")
    assert err.value.details() == {}


def test_a_failing_program_carries_rc_stdout_and_stderr():
    with pytest.raises(HostnetError) as err:
        _proc.run(["sh", "-c", "echo partial; echo broken >&2; exit 3"], "guest 'vm1'")
    assert str(err.value) == "guest 'vm1': sh -c echo partial; echo broken >&2; exit 3 failed: broken"
    assert err.value.details() == {"rc": 3, "stdout": "partial\n", "stderr": "broken\n"}


def test_failed_replaces_the_command_line_in_the_message():
    with pytest.raises(HostnetError) as err:
        _proc.run(["sh", "-c", "exit 1"], "guests", failed="useradd hq-vm1 failed")
    assert str(err.value) == "guests: useradd hq-vm1 failed: "
    assert err.value.rc == 1


def test_unchecked_returns_the_process_and_reads_no_stdin():
    proc = _proc.run(["sh", "-c", "cat; echo done; exit 4"], "x", check=False)
    assert (proc.returncode, proc.stdout) == (4, "done\n")


class _Module(object):
    """What _runner.run uses of AnsibleModule: params, _diff, fail_json, exit_json."""
    params = {}
    _diff = False

    def fail_json(self, **kwargs):
        raise SystemExit(("fail", kwargs))

    def exit_json(self, **kwargs):
        raise SystemExit(("exit", kwargs))


def test_the_runner_passes_rc_and_stderr_to_fail_json():
    def work():
        _proc.run(["sh", "-c", "echo no >&2; exit 2"], "thing", failed="tool failed")
    with pytest.raises(SystemExit) as out:
        _runner.run(_Module(), work, libs=False)
    assert out.value.code == ("fail", {"msg": "thing: tool failed: no", "rc": 2, "stdout": "", "stderr": "no\n"})


def test_in_child_answers_from_a_forked_child_that_cannot_touch_the_parent():
    seen = []

    def work():
        seen.append("child")  # the child's copy of the list
        return {"pid": os.getpid(), "answer": [1, "two"]}

    answer = _proc.in_child(work)
    assert answer["ok"]["answer"] == [1, "two"] and answer["ok"]["pid"] != os.getpid()
    assert seen == []


@pytest.mark.parametrize("work, want", [
    (lambda: 1 / 0, "division by zero"),
    (object, "is not JSON serializable"),
])
def test_in_child_reports_what_went_wrong_instead_of_raising_in_the_child(work, want):
    answer = _proc.in_child(work)
    assert list(answer) == ["error"] and want in answer["error"], answer
