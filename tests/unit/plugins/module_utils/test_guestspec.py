# -*- coding: utf-8 -*-
"""The guest schema (module_utils/_guestspec.py) and the role's meta/argument_specs.yml describe the same fields."""

import os

import pytest
import yaml

from ansible_collections.hostnet.qemu.plugins.module_utils import _guestspec
from conftest import ROOT

SPEC = os.path.join(ROOT, "roles", "guest", "meta", "argument_specs.yml")


def _role_options():
    with open(SPEC) as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def _pairs(python, documented, path):
    """(path, python entry, documented entry) for every field of both, recursively."""
    assert sorted(python) == sorted(documented), "%s: fields differ: code %s, argument_specs %s" % (
        path, sorted(set(python) - set(documented)), sorted(set(documented) - set(python)))
    for key in sorted(python):
        yield "%s.%s" % (path, key), python[key], documented[key]
        if python[key].get("options"):
            yield from _pairs(python[key]["options"], documented[key].get("options") or {}, "%s.%s" % (path, key))


def _kind(entry):
    return {"path": "str"}.get(entry.get("type", "str"), entry.get("type", "str"))


@pytest.mark.parametrize("path, python, documented", list(_pairs(
    _guestspec.GUEST, _role_options()["hostnet_guest_guests"]["options"], "hostnet_guest_guests")))
def test_guest_fields_agree(path, python, documented):
    assert _kind(python) == _kind(documented), path
    assert python.get("elements") == documented.get("elements"), path
    assert sorted(python.get("choices") or []) == sorted(documented.get("choices") or []), path
    assert bool(python.get("required")) == bool(documented.get("required")), path
    if "default" in python:
        assert python["default"] == documented.get("default"), path


INTERNAL = ("launcher", "python", "run_dir", "log_dir", "socket_localaddr")


@pytest.mark.parametrize("key", sorted(k for k in _guestspec.SETTINGS if k not in INTERNAL))
def test_settings_agree_with_role_defaults(key):
    option = _role_options()["hostnet_guest_" + key]
    entry = _guestspec.SETTINGS[key]
    assert option.get("default") == entry.get("default") and _kind(option) == _kind(entry), key
    assert sorted(option.get("choices") or []) == sorted(entry.get("choices") or []), key
