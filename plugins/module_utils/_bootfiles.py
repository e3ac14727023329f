# -*- coding: utf-8 -*-
# Copyright: hostnet.qemu contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The boot-time CLI's files, derived from the code: the launcher and the import closure of _bootcli.

hostnet-qemu-network.service runs LIB_DIR/hostnet-qemu-network with the system's Python, without Ansible. It
needs _bootcli and every module of this package that _bootcli imports, directly or not, copied under
LIB_DIR/ansible_collections/hostnet/qemu/plugins/module_utils/. The list is not kept by hand: closure() follows
the `from ansible_collections.hostnet.qemu.plugins.module_utils ...` imports in the source, and refuses a
module that imports Ansible (the boot CLI runs where Ansible may not be installed).

The sources are read through the import system, so this works from a checkout, an installed collection and
inside an AnsiballZ payload (the module that imports this one makes Ansible pack the whole closure).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import hashlib
import importlib
import os

from ansible_collections.hostnet.qemu.plugins.module_utils import _bootcli  # imported: Ansible packs the closure
from ansible_collections.hostnet.qemu.plugins.module_utils._errors import HostnetError

PACKAGE = "ansible_collections.hostnet.qemu.plugins.module_utils"
ROOT = _bootcli.__name__.rsplit(".", 1)[-1]  # where the closure starts
CLI = "hostnet-qemu-network"
TREE = os.path.join("ansible_collections", "hostnet", "qemu", "plugins", "module_utils")
WHAT = "boot CLI"

LAUNCHER = '''#!/usr/bin/python3
# Managed by Ansible (hostnet.qemu.network): the boot-time CLI of hostnet-qemu-network.service.
# Its code is the copy of the collection's module_utils beside it (see _bootcli.py for what it does).
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ansible_collections.hostnet.qemu.plugins.module_utils import _bootcli  # noqa: E402

sys.exit(_bootcli.main(sys.argv))
'''


def _source(name):
    full = "%s.%s" % (PACKAGE, name)
    module = importlib.import_module(full)
    loader = getattr(module, "__loader__", None)
    text = None
    if loader is not None and hasattr(loader, "get_source"):
        try:
            text = loader.get_source(full)
        except ImportError:
            text = None
    if text is None:
        with open(module.__file__) as handle:
            text = handle.read()
    return text


def _imports(text, name):
    """(module_utils names this source imports, whether it imports ansible.*)."""
    found, ansible = set(), False
    for node in ast.walk(ast.parse(text, name)):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module[len(PACKAGE) + 1:].split(".")[0])
            elif node.module == "ansible" or node.module.startswith("ansible."):
                ansible = True
        elif isinstance(node, ast.Import):
            ansible = ansible or any(a.name == "ansible" or a.name.startswith("ansible.") for a in node.names)
            found.update(a.name[len(PACKAGE) + 1:].split(".")[0] for a in node.names if a.name.startswith(PACKAGE + "."))
    return found, ansible


def closure():
    """{module name: source} of _bootcli and everything it imports from this package."""
    todo, sources = [ROOT], {}
    while todo:
        name = todo.pop()
        if name in sources:
            continue
        sources[name] = _source(name)
        found, ansible = _imports(sources[name], name)
        if ansible:
            raise HostnetError("%s: module_utils/%s.py imports ansible; the boot CLI runs without Ansible" % (WHAT, name))
        todo.extend(sorted(found - set(sources)))
    return sources


def files(lib_dir):
    """{path: (text, mode)}: the launcher and the closure, as installed under lib_dir."""
    out = {os.path.join(lib_dir, CLI): (LAUNCHER, 0o755)}
    for name, text in closure().items():
        out[os.path.join(lib_dir, TREE, name + ".py")] = (text, 0o644)
    return out


def installed(lib_dir):
    """Paths of the files the CLI tree holds now (the launcher and the module_utils copy)."""
    found = []
    launcher = os.path.join(lib_dir, CLI)
    if os.path.lexists(launcher):
        found.append(launcher)
    tree = os.path.join(lib_dir, TREE)
    for dirpath, dirs, names in os.walk(tree):
        dirs[:] = [d for d in dirs if d != "__pycache__"]  # Python's own cache of what runs there
        found.extend(os.path.join(dirpath, n) for n in names)
    return found


def digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
