#!/usr/bin/env bash
# Run molecule scenarios, JOBS at a time, each its full `molecule test` sequence.
#
#   tests/run-molecule.sh JOBS SCENARIO...
#
# Each scenario's output goes to .cache/molecule/NAME.log; a failed scenario's log tail is printed.
# The lab image and the test guest are built once before the scenarios start (their dependency steps then
# find them cached). Exits non-zero if any scenario failed, or if none was given. The last lines printed name
# each failed scenario's failing task and its message (a CI log is often read from its tail only).
set -uo pipefail

jobs=${1:?usage: run-molecule.sh JOBS SCENARIO...}
shift
[ $# -gt 0 ] || { echo "run-molecule: no scenario given: failing on purpose" >&2; exit 1; }
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
logs=$repo/.cache/molecule
mkdir -p "$logs"
cd "$repo" || exit 1

bash tests/lab/setup-host.sh && bash tests/lab/build-image.sh && bash tests/guest/build.sh || exit 1

# shellcheck disable=SC2317  # run_one is called through xargs
run_one() { # run_one NAME: one scenario, one line of result
  local name=$1 log=$logs/$1.log start rc
  start=$(date +%s)
  molecule test -s "$name" >"$log" 2>&1
  rc=$?
  # molecule's destroy can report success while podman still holds a container that was stopping (seen once with
  # realguest): nothing of a scenario is left behind, and a leftover is said in the log
  local c
  while read -r c; do
    if podman container exists "$c" 2>/dev/null; then
      echo "run-molecule: container $c left after the scenario; removing it" >>"$log"
      podman rm -f "$c" >/dev/null 2>&1 || true
    fi
  done < <(sed -n 's/^  - name: //p' "molecule/$name/molecule.yml")
  printf '=== molecule %-14s %s in %ds (log: %s)\n' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" \
    $(( $(date +%s) - start )) "${log#"$repo"/}"
  if [ "$rc" -ne 0 ]; then tail -n 60 "$log" | sed "s/^/  $name| /"; fi
  return "$rc"
}
# failed_task LOG: the task that failed the play (the last fatal/failed before the last recap with failed>0)
failed_task() {
  sed 's/\x1b\[[0-9;]*m//g; s/^ *[│|] \{0,1\}//' "$1" | awk '
    /^TASK \[/ { task = $0; n = 0 }
    /^(fatal|failed):/ { hit = task "\n" ; keep = 1; n = 0 }
    keep && /^$/ { keep = 0 }
    keep && n < 14 { hit = hit $0 "\n"; n++ }
    /^PLAY RECAP/ { keep = 0 }
    /failed=[1-9]/ { out = hit }
    END { printf "%s", out }' | head -n 16
}
export -f run_one
export logs repo

# realguest (two real distribution guests booting under TCG, about 10 min) starts first, beside the scenarios with
# few or no guests; the ones with many TCG guests (multihost: three lab hosts; default) come last, when realguest's
# boots are over. Measured: default beside realguest's boots missed its 300 s guest deadline.
order=()
for name in realguest network host bridge_helper macvtap user_icmp socket reboot multihost default; do
  for arg in "$@"; do [ "$arg" != "$name" ] || order+=("$name"); done
done
for arg in "$@"; do
  case " ${order[*]} " in *" $arg "*) ;; *) order+=("$arg") ;; esac
done

printf '%s\n' "${order[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {}
rc=$?
if [ $rc -eq 0 ]; then echo "=== molecule: all $# scenario(s) passed"; exit 0; fi
for name in "$@"; do
  grep -q 'Executed: Failed' "$logs/$name.log" 2>/dev/null || continue
  echo "=== molecule $name: failing task"
  failed_task "$logs/$name.log" | sed "s/^/  $name| /"
done
echo "=== molecule: some scenario FAILED"
exit $rc
