# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one door for nested inputs: a spec in Ansible's argument_spec form, validated level by level.

Each level goes through Ansible's own ArgumentSpecValidator (types, choices, required, defaults, unknown keys,
mutually_exclusive, required_if ...). Before it, a strict pass refuses what Ansible would silently convert: a
string where a list is expected (it would be split at commas or iterated), a list or mapping where a string is
expected (it would become its repr), a YAML boolean where a string or number is expected. After it, every string
is refused if it holds a control character, unless its entry says `multiline: true`, and the entry's own value
validator (`check: callable(value, what) -> value`, from _validate) runs.

The extra keys `check` and `multiline` are the collection's; they are removed before Ansible sees a spec.
Messages name the object, the field's path and the fix: "guest 'vm1': nics[0].vhost: 'maybe' is not a
boolean; use true or false".
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import (
    ArgumentTypeError, ArgumentValueError, ElementError, RequiredError, UnsupportedError)

from ansible_collections.hostnet.qemu.plugins.module_utils import _validate
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

OURS = ("check", "multiline")
_HINTS = {
    "bool": "use true or false",
    "int": "give a whole number",
    "float": "give a number",
    "list": "give a YAML list",
    "dict": "give a mapping",
    "str": "give a string",
    "path": "give a path",
}
_STRINGS = ("str", "path")
_WORDS = {"bool": "boolean", "int": "whole number", "float": "number", "str": "string", "path": "string"}


def _join(path, key, prefix=""):
    return "%s.%s" % (path, key) if path else prefix + key


def _at(path):
    return "%s: " % path if path else ""


def _type_name(entry):
    kind = entry.get("type", "str")
    return kind if isinstance(kind, str) else "raw"


def _strict(entry, value, where):
    """What ArgumentSpecValidator would accept by converting silently; None when the value may go on."""
    kind = _type_name(entry)
    if value is None or kind == "raw":
        return None
    if kind == "list":
        if not isinstance(value, list):
            if isinstance(value, str):
                return "%s: the string %r is not a list; write a YAML list (one '- item' per line, or [a, b])" % (
                    where, value)
            return "%s: %r is not a list; %s" % (where, value, _HINTS["list"])
        elements = "dict" if entry.get("options") else entry.get("elements")
        for index, item in enumerate(value):
            problem = _strict({"type": elements}, item, "%s[%d]" % (where, index)) if elements else None
            if problem:
                return problem
        return None
    if kind == "dict":
        return None if isinstance(value, dict) else "%s: %r is not a mapping; %s" % (where, value, _HINTS["dict"])
    if isinstance(value, (list, dict)):
        return "%s: %r is not a %s; %s" % (where, value, _WORDS.get(kind, kind), _HINTS.get(kind, ""))
    if isinstance(value, bool) and kind != "bool":
        return "%s: %r is a boolean, not a %s; %s%s" % (
            where, value, _WORDS.get(kind, kind), _HINTS.get(kind, ""), " (quote it in YAML)" if kind in _STRINGS else "")
    return None


def _level(spec, params, path, prefix=""):
    """Validate one mapping against one level of spec; recurse into nested options."""
    for key, entry in spec.items():
        problem = _strict(entry, params.get(key), _join(path, key, prefix))
        if problem:
            raise HostnetError(problem)
    ansible_spec = {}
    for key, entry in spec.items():
        ansible_spec[key] = dict((k, v) for k, v in entry.items() if k not in OURS + ("options",))
        if entry.get("options"):
            ansible_spec[key]["elements" if entry.get("type") == "list" else "type"] = "dict"
            if entry.get("type") == "list":
                ansible_spec[key]["type"] = "list"
    result = ArgumentSpecValidator(ansible_spec).validate(params)
    for error in result.errors:
        raise HostnetError(_describe(error, spec, params, path, prefix))
    out = result.validated_parameters
    for key, entry in spec.items():
        where, value = _join(path, key, prefix), out.get(key)
        if value is None:
            continue
        if entry.get("options"):
            if isinstance(value, list):
                out[key] = [_level(entry["options"], item, "%s[%d]" % (where, i)) for i, item in enumerate(value)]
            else:
                out[key] = _level(entry["options"], value, where)
            continue
        items = value if isinstance(value, list) else [value]
        names = ["%s[%d]" % (where, i) for i in range(len(value))] if isinstance(value, list) else [where]
        if not entry.get("multiline"):
            for item, name in zip(items, names):
                _validate.no_control(item, name)
        if entry.get("check"):
            checked = [entry["check"](item, name) for item, name in zip(items, names)]
            out[key] = checked if isinstance(value, list) else checked[0]
    return out


def _describe(error, spec, params, path, prefix=""):
    """A friendlier text for the common errors; Ansible's own text for the rest (mutually_exclusive ...)."""
    if isinstance(error, UnsupportedError):
        unknown = sorted(str(k) for k in params if k not in spec)
        return "%sunknown field(s) %s; known fields: %s" % (
            _at(path), ", ".join(prefix + k for k in unknown), ", ".join(prefix + k for k in sorted(spec)))
    if isinstance(error, ArgumentValueError) and "must be one" in error.msg:
        for key, entry in spec.items():
            choices = entry.get("choices")
            value = params.get(key)
            if not choices or value is None:
                continue
            bad = [v for v in value if v not in choices] if isinstance(value, list) else \
                [value] if value not in choices else []
            if bad:
                shown = ", ".join(str(v) for v in bad) if isinstance(value, list) else repr(value)
                return "%s: %s is not one of %s; use one of them" % (
                    _join(path, key, prefix), shown, ", ".join(str(c) for c in choices))
    if isinstance(error, (ArgumentTypeError, ElementError)):
        for key, entry in spec.items():
            kind = _type_name(entry)
            if ("'%s'" % key) in error.msg and kind in _HINTS:
                return "%s: %r is not a %s; %s" % (_join(path, key, prefix), params.get(key), _WORDS.get(kind, kind), _HINTS[kind])
    if isinstance(error, RequiredError):
        missing = sorted(k for k, e in spec.items() if e.get("required") and params.get(k) is None)
        if missing:
            return "%smissing required field(s) %s" % (_at(path), ", ".join(missing))
    return "%s%s" % (_at(path), error.msg)


def entry_label(raw, index, noun, listname):
    """How messages name one entry of a list: "guest 'vm1'" when its name is valid, else "LISTNAME[index]"."""
    name = raw.get("name") if isinstance(raw, dict) else None
    try:
        return "%s '%s'" % (noun, _validate.object_name(name, "name"))
    except HostnetError:
        return "%s[%d]" % (listname, index)


def plain(value):
    """`value` as builtin types only: dict, list, str, int, float, bool, None.

    Ansible 2.19 hands filters lazy, tagged containers whose deepcopy (ArgumentSpecValidator copies its input)
    carries the templating context along: about 0.3 s per guest. One copy here, before any validation, keeps the
    cost of a level to the data itself. Tuples become lists, as they would in YAML or JSON.
    """
    if isinstance(value, dict):
        return dict((plain(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    for kind in (bool, str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value


def validate(spec, params, label, prefix=""):
    """`params` (a mapping) checked against `spec`; returns the validated, converted copy.

    `label` names the object in every message ("guest 'vm1'"); `prefix` is put before the top-level field
    names (a role's variable prefix, "hostnet_guest_"). HostnetError on the first problem.
    """
    if not isinstance(params, dict):
        raise HostnetError("%s: %r is not a mapping; give a mapping of fields" % (label, params))
    try:
        return _level(spec, plain(params), "", prefix)
    except HostnetError as exc:
        raise HostnetError("%s: %s" % (label, exc))
