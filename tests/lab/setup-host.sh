#!/usr/bin/env bash
# Make this machine able to run hostnet lab containers (rootful podman, real systemd inside).
#
#   tests/lab/setup-host.sh
#
# 1. apt: podman, runc, debootstrap (only the missing ones; `apt-get update` only when installing).
# 2. /etc/containers/containers.conf.d/50-hostnet-lab.conf (a drop-in we own; podman 4.3 with
#    containers-common 0.50 reads it after /etc/containers/containers.conf, so other settings stay):
#      [engine]     runtime = "runc"      crun fails here: "cgroups in hybrid mode not supported"
#      [containers] default_ulimits       without them: "setrlimit RLIMIT_NOFILE: Operation not permitted"
# Idempotent: a second run changes nothing and says so.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
log() { printf 'lab-setup: %s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }

pkgs=(podman runc debootstrap)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 -qq update
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "packages present: ${pkgs[*]}"
fi

dropin=/etc/containers/containers.conf.d/50-hostnet-lab.conf
want='# Managed by hostnet.qemu tests/lab/setup-host.sh: rootful lab containers with systemd.
[engine]
runtime = "runc"

[containers]
default_ulimits = ["nofile=20000:20000", "nproc=8192:8192"]'
if [ "$(cat "$dropin" 2>/dev/null)" = "$want" ]; then
  log "$dropin up to date"
else
  mkdir -p "$(dirname "$dropin")"
  printf '%s\n' "$want" > "$dropin.tmp" && mv -f "$dropin.tmp" "$dropin"
  log "wrote $dropin"
fi
rt=$(podman info --format '{{.Host.OCIRuntime.Name}}')
[ "$rt" = runc ] || { log "podman uses OCI runtime '$rt', expected runc: is $dropin read?"; exit 1; }
log "podman OCI runtime: $rt"
