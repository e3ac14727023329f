# -*- coding: utf-8 -*-
"""The collection as users get it: the tarball `ansible-galaxy collection build` makes, installed into an empty
collections path and used with nothing else (no collection from the `ansible` package, no checkout on the path).

- the tarball ships the collection, its docs, changelog and unit tests, and none of the lab;
- `ansible-doc` renders every module, filter and role of the installed copy without a warning;
- the collection playbooks resolve every task's action (`ansible-playbook hostnet.qemu.site --list-tasks`);
- ansible-builder accepts an execution environment that installs the tarball, with the collection's own
  requirements.txt and bindep.txt taken from meta/execution-environment.yml;
- galaxy-importer (what Galaxy runs on an upload, with ansible-lint) accepts it.
"""

import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml
from conftest import ROOT

BIN = os.path.dirname(sys.executable)
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules")) if name.endswith(".py"))
FILTERS = sorted(name[:-4] for name in os.listdir(os.path.join(ROOT, "plugins", "filter")) if name.endswith(".yml"))
ROLES = sorted(os.listdir(os.path.join(ROOT, "roles")))


@pytest.fixture(scope="module", autouse=True)
def _no_config(tmp_path_factory):
    """An empty ansible.cfg: not this checkout's (it points at the checkout)."""
    path = tmp_path_factory.mktemp("cfg") / "ansible.cfg"
    path.write_text("[defaults]\n")
    os.environ["HOSTNET_TEST_EMPTY_CFG"] = str(path)
    yield
    del os.environ["HOSTNET_TEST_EMPTY_CFG"]


def _env(collections):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": collections,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "False",  # not the `ansible` package's collections
        "ANSIBLE_CONFIG": os.environ["HOSTNET_TEST_EMPTY_CFG"],
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",  # the cryptography package's, not ours
        "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    return env


def _run(argv, env, cwd=None, timeout=300):
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(argv), proc.returncode, proc.stdout[-3000:],
                                                              proc.stderr[-3000:])
    return proc


def _ansible_warnings(text):
    return [line for line in text.splitlines() if "[WARNING]" in line or "[DEPRECATION WARNING]" in line]


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(out), ROOT],
         _env(os.devnull), cwd=ROOT)
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    path = out / ("hostnet-qemu-%s.tar.gz" % version)
    assert path.exists()
    return path


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory):
    path = tmp_path_factory.mktemp("collections")
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "-p", str(path), str(tarball)],
         _env(str(path)))
    assert (path / "ansible_collections" / "hostnet" / "qemu" / "MANIFEST.json").exists()
    assert sorted(os.listdir(path / "ansible_collections")) == ["hostnet"]  # nothing else came along
    return str(path)


def test_the_tarball_ships_the_collection_and_none_of_the_lab(tarball):
    with tarfile.open(str(tarball)) as tar:
        names = set(tar.getnames())
    for wanted in ("LICENSE", "README.md", "CONTRIBUTING.md", "requirements.txt", "bindep.txt",
                   "meta/runtime.yml", "meta/execution-environment.yml", "playbooks/site.yml",
                   "playbooks/teardown.yml", "playbooks/lab_report.yml", "changelogs/changelog.yaml",
                   "docs/design.md", "tests/unit/plugins/module_utils/test_plan.py"):
        assert wanted in names, wanted
    for module in MODULES:
        assert "plugins/modules/%s.py" % module in names
    for role in ROLES:
        assert "roles/%s/meta/argument_specs.yml" % role in names
    top = set(name.split("/")[0] for name in names)
    for unwanted in ("molecule", "benchmarks", "inventories", "Makefile", "ansible.cfg", "site.yml", ".ci",
                     ".config", ".ansible-lint", ".venv", ".cache", ".collections"):
        assert unwanted not in top, unwanted
    for unwanted in ("tests/lab", "tests/guest", "tests/kernel", "tests/sanity", "tests/run-molecule.sh"):
        assert not any(name == unwanted or name.startswith(unwanted + "/") for name in names), unwanted


def test_the_manifest_declares_no_dependency_and_the_tested_ansible(tarball):
    with tarfile.open(str(tarball)) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))
        runtime = yaml.safe_load(tar.extractfile("meta/runtime.yml"))
        ee = yaml.safe_load(tar.extractfile("meta/execution-environment.yml"))
    info = manifest["collection_info"]
    assert info["dependencies"] == {}
    assert info["license"] == ["GPL-3.0-or-later"]
    with open(os.path.join(ROOT, "tests", "sanity", "ansible-core-versions.txt")) as handle:
        tested = sorted(tuple(int(p) for p in line.split()[0].split(".")) for line in handle
                        if line.strip() and not line.startswith("#"))
    oldest = "%d.%d" % tested[0]
    assert runtime["requires_ansible"] == ">=%s.0" % oldest
    for role in ROLES:
        with open(os.path.join(ROOT, "roles", role, "meta", "main.yml")) as handle:
            assert yaml.safe_load(handle)["galaxy_info"]["min_ansible_version"] == oldest, role
    assert ee["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}


def test_ansible_doc_renders_every_plugin_and_role_without_warnings(installed):
    env = _env(installed)
    for kind, names in (("module", MODULES), ("filter", FILTERS), ("role", ROLES)):
        proc = _run([os.path.join(BIN, "ansible-doc"), "-t", kind, "--json"]
                    + ["hostnet.qemu." + name for name in names], env)
        docs = json.loads(proc.stdout)
        assert sorted(docs) == sorted("hostnet.qemu." + name for name in names), kind
        assert _ansible_warnings(proc.stderr) == [], proc.stderr
        for name in names:  # and as text, the way a user reads it
            text = _run([os.path.join(BIN, "ansible-doc"), "-t", kind, "hostnet.qemu." + name], env)
            assert _ansible_warnings(text.stderr) == [], (name, text.stderr)
            assert "hostnet.qemu." + name in text.stdout


@pytest.mark.parametrize("playbook", ["site", "teardown", "lab_report"])
def test_collection_playbooks_resolve_with_only_ansible_core_and_the_tarball(installed, tmp_path, playbook):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("qemu_hosts:\n  hosts:\n    qemu1:\n      ansible_connection: local\n")
    proc = _run([os.path.join(BIN, "ansible-playbook"), "-i", str(inventory), "--list-hosts", "--list-tasks",
                 "hostnet.qemu." + playbook], _env(installed), cwd=str(tmp_path))
    assert _ansible_warnings(proc.stderr) == [], proc.stderr
    assert "qemu1" in proc.stdout
    if playbook == "site":  # every role's tasks, their actions resolved
        for role in ROLES:
            assert "hostnet.qemu.%s : " % role in proc.stdout, role


def test_ansible_builder_accepts_an_execution_environment_with_the_tarball(tarball, tmp_path):
    definition = tmp_path / "execution-environment.yml"
    (tmp_path / "requirements.yml").write_text("collections:\n  - name: %s\n    type: file\n" % tarball)
    definition.write_text(
        "version: 3\n"
        "images:\n  base_image:\n    name: registry.invalid/ee-minimal:latest\n"
        "dependencies:\n  galaxy: requirements.yml\n  ansible_core:\n    package_pip: ansible-core>=2.18\n"
        "  ansible_runner:\n    package_pip: ansible-runner\n")
    _run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(definition), "-c", str(tmp_path / "context")],
         _env(os.devnull), cwd=str(tmp_path))
    assert (tmp_path / "context" / "Containerfile").exists()


def test_galaxy_importer_accepts_the_tarball(tarball, tmp_path):
    config = tmp_path / "galaxy-importer.cfg"
    config.write_text("[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n")
    env = _env(os.devnull)
    env["GALAXY_IMPORTER_CONFIG"] = str(config)
    proc = _run([sys.executable, "-m", "galaxy_importer.main", str(tarball)], env, cwd=str(tmp_path), timeout=600)
    out = proc.stdout + proc.stderr
    assert "Importer processing completed successfully" in out
    assert [line for line in out.splitlines() if line.startswith("WARNING") or line.startswith("ERROR")] == [], out
