#!/usr/bin/env bash
# The lab: the main job on the embedded default.
#   lab.sh up      build (cached) the lab image and the test guest, start the lab host container(s)
#   lab.sh run     ansible-playbook site.yml against inventories/lab, then the report
#   lab.sh report  per guest: unit, state, user, MACs (from QEMU), addresses (from the guest), and the ping/TCP
#                  checks that passed (playbooks/lab_report.yml)
#   lab.sh teardown  remove the lab's guests and networks from the lab host(s) (playbooks/teardown.yml)
#   lab.sh down    remove the lab host container(s)
#   lab.sh all     up + run (what `make lab` does)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
export PATH="$here/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$here/.collections"
image=localhost/hostnet-lab:bookworm
hosts=(hostnet-lab1)

up() {
  bash tests/lab/setup-host.sh
  bash tests/lab/build-image.sh
  bash tests/guest/build.sh
  for h in "${hosts[@]}"; do
    # not running, or a container podman still calls running whose init is gone (exec fails): start it afresh
    if [ "$(podman inspect -f '{{.State.Running}}' "$h" 2>/dev/null)" != "true" ] || ! podman exec "$h" true >/dev/null 2>&1; then
      podman rm -f "$h" >/dev/null 2>&1 || true
      podman run -d --name "$h" --hostname "$h" --privileged --systemd=always "$image" /sbin/init >/dev/null
    fi
    for _ in $(seq 1 60); do
      state=$(podman exec "$h" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 1
    done
    echo "lab host $h: systemd $state"
    podman exec "$h" mkdir -p /var/lib/hostnet-qemu/images
    podman cp .cache/guest/vmlinuz "$h":/var/lib/hostnet-qemu/images/vmlinuz
    podman cp .cache/guest/initrd.gz "$h":/var/lib/hostnet-qemu/images/initrd.gz
  done
}

run() {
  ansible-playbook -i inventories/lab site.yml "$@"
  report
}

report() {
  ansible-playbook -i inventories/lab playbooks/lab_report.yml
}

teardown() {
  ansible-playbook -i inventories/lab playbooks/teardown.yml
}

down() {
  for h in "${hosts[@]}"; do
    if podman rm -f "$h" >/dev/null 2>&1; then echo "removed $h"; fi
  done
}

case "${1:-all}" in
  up) up ;;
  run) shift; run "$@" ;;
  report) report ;;
  teardown) teardown ;;
  down) down ;;
  all) shift || true; up; run "$@" ;;
  *) echo "usage: $0 up|run|report|teardown|down|all" >&2; exit 2 ;;
esac
