#!/usr/bin/env bash
# ansible-test sanity (empty ignore files) once per ansible-core version in ansible-core-versions.txt, each from
# its own venv (.venv-sanity-VERSION, made by .ci/setup with the controller Python the file names).
# ansible-test needs the collection under ansible_collections/NS/NAME: it gets a copy of what git would ship.
# A version whose Python this machine lacks is skipped, and the skip names the reason; any failure fails.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tree=$repo/.cache/sanity/ansible_collections/hostnet/qemu
cd "$repo"
rm -rf "$tree" && mkdir -p "$tree"
git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$tree/"
(cd "$tree" && git init -q && git add -A)
ran=() skipped=()
read -ra extra <<< "${SANITY_ARGS:-}"  # e.g. SANITY_ARGS="--test pylint"

while read -r v py <&3; do
  case $v in ''|'#'*) continue ;; esac
  venv=$repo/.venv-sanity-$v
  if [ ! -x "$venv/bin/ansible-test" ]; then
    echo "=== SKIPPED ansible-test sanity, ansible-core $v: no Python $py on this machine (tests/sanity/find-python.sh)"
    skipped+=("$v")
    continue
  fi
  echo "=== ansible-test sanity, ansible-core $v, Python $py"
  (cd "$tree" && PATH=$venv/bin:$PATH "$venv/bin/ansible-test" sanity --color no --local --python "$py" \
    --requirements "${extra[@]}")
  ran+=("$v")
done 3< tests/sanity/ansible-core-versions.txt
echo "=== sanity passed for ansible-core ${ran[*]:-none}${skipped:+; skipped (no Python): ${skipped[*]}}"
[ "${#ran[@]}" -gt 0 ]
