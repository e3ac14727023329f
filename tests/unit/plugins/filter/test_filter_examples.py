# -*- coding: utf-8 -*-
"""Every filter's EXAMPLES run as written, through ansible-playbook on the controller (the filters are controller-side;
the modules' examples run in scenario host, tests/lab/examples.py)."""

import glob
import os

import pytest
import yaml

from ansible_collections.hostnet.qemu.plugins.filter import guest, host, network
from conftest import ROOT, run_playbook

DOCS = sorted(glob.glob(os.path.join(ROOT, "plugins", "filter", "*.yml")))


def test_every_filter_has_its_documentation():
    names = set()
    for module in (guest, host, network):
        names |= set(module.FilterModule().filters())
    assert sorted(names) == sorted(os.path.basename(p)[:-4] for p in DOCS)


@pytest.mark.parametrize("doc", DOCS, ids=[os.path.basename(p)[:-4] for p in DOCS])
def test_the_examples_run_as_written(doc, tmp_path):
    with open(doc) as handle:
        tasks = yaml.safe_load(yaml.safe_load(handle)["EXAMPLES"])
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]
    rc, results, stats = run_playbook(yaml.safe_dump(play), tmp_path, diff=False)
    failed = dict((name, r.get("msg")) for name, r in results.items() if r.get("failed"))
    assert rc == 0 and not failed and stats["failures"] == 0, failed
    assert stats["ok"] == len(tasks)
    for name, result in results.items():
        assert result.get("msg") not in (None, "", [], {}), name  # each example shows something
