#!/usr/bin/env bash
# Print the path of a Python X.Y interpreter on this machine, or nothing (exit 1) when there is none.
#   tests/sanity/find-python.sh 3.12
# Looks on PATH, then in pyenv's versions (this project's development image has 3.12 and 3.13 there;
# a fresh Debian 12 has only 3.11).
set -uo pipefail
want=${1:?usage: find-python.sh X.Y}
if p=$(command -v "python$want" 2>/dev/null) && "$p" -c 'import venv' 2>/dev/null; then echo "$p"; exit 0; fi
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/"python$want"; do
  if [ -x "$p" ] && "$p" -c 'import venv' 2>/dev/null; then echo "$p"; exit 0; fi
done
exit 1
