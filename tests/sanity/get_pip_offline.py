"""A stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test bootstraps pip in each sanity venv by downloading get-pip from a CI file host that this
project's machines cannot reach. This does the same job with what they can reach: it runs the pip wheel
bundled with the interpreter (ensurepip) to install the pip version ansible-test asks for from PyPI.
.ci/setup puts it where ansible-test looks for its cached copy; the ignore files stay empty.
"""

import glob
import os
import sys

import ensurepip

wheel = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))[-1]
sys.path.insert(0, wheel)

from pip._internal.cli.main import main as pip_main  # noqa: E402  (imported from the wheel just added)

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(pip_main(["install", "--upgrade", "--force-reinstall"] + args))
