#!/usr/bin/env bash
# Build the hostnet test guest: OUTDIR/vmlinuz + OUTDIR/initrd.gz, from Debian packages only.
#
#   tests/guest/build.sh [OUTDIR]        (default: <repo>/.cache/guest)
#
# Kernel: the newest linux-image-6.1.0-N-<flavour> Debian has (flavour: $HOSTNET_GUEST_FLAVOUR,
# default cloud-amd64). Userland: busybox from busybox-static. Both are fetched with
# `apt-get download` (nothing is installed on the host). Cached: when OUTDIR/stamp matches the
# resolved package versions and the hash of tests/guest/*, nothing is rebuilt. Needs: apt-get,
# dpkg-deb, depmod (kmod), cpio, gzip, flock. See tests/guest/README.md for the guest's syntax.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.cache/guest}
flavour=${HOSTNET_GUEST_FLAVOUR:-cloud-amd64}
# Modules, in the order we ask for them; dependencies are added (first) from modules.dep, and
# modules the kernel does not have (built in, or not configured, e.g. e1000 on cloud) are skipped.
want_modules=(virtio_ring virtio failover net_failover virtio_pci_legacy_dev virtio_pci_modern_dev
              virtio_pci virtio_net e1000 evdev button)
apt_opts=(-o APT::Sandbox::User=root -o DPkg::Lock::Timeout=300 -qq)

log() { printf 'guest-build: %s\n' "$*" >&2; }
t0=$(date +%s.%N)

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

# --- resolve the inputs' versions -------------------------------------------------------------
resolve_kernel() {
  apt-cache pkgnames linux-image-6.1.0- 2>/dev/null \
    | grep -E "^linux-image-6\.1\.0-[0-9]+-${flavour}\$" | sort -V | tail -n 1
}
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }

updated=no
apt_update() {
  if [ "$updated" = no ]; then
    log "apt-get update"
    apt-get "${apt_opts[@]}" update
    updated=yes
  fi
}

kpkg=$(resolve_kernel)
bbver=$(candidate busybox-static)
if [ -z "$kpkg" ] || [ -z "$bbver" ] || [ "$bbver" = "(none)" ]; then
  if ! apt_update; then
    if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ]; then
      log "apt-get update failed and the package lists are empty: keeping the cached guest"
      exit 0
    fi
    exit 1
  fi
  kpkg=$(resolve_kernel)
  bbver=$(candidate busybox-static)
fi
[ -n "$kpkg" ] || { log "no linux-image-6.1.0-*-$flavour package in the apt lists"; exit 1; }
kver=$(candidate "$kpkg")
srchash=$(cd "$here" && cat build.sh files/* | sha256sum | cut -c1-16)
stamp="kernel=$kpkg=$kver busybox-static=$bbver src=$srchash"

if [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  log "up to date ($stamp)"
  exit 0
fi
log "building: $stamp"

# --- fetch and unpack -------------------------------------------------------------------------
debs="$out/debs"
mkdir -p "$debs"
fetch() { # fetch PKG VERSION -> path of the .deb (apt-get download names epochs as %3a)
  local pkg=$1 ver=$2 f
  for f in "$debs/${pkg}_"*.deb; do
    [ -e "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && { echo "$f"; return 0; }
  done
  (cd "$debs" && apt-get "${apt_opts[@]}" download "$pkg=$ver" >&2) \
    || { apt_update >&2 && (cd "$debs" && apt-get "${apt_opts[@]}" download "$pkg=$ver" >&2); }
  for f in "$debs/${pkg}_"*.deb; do
    [ -e "$f" ] && [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && { echo "$f"; return 0; }
  done
  log "could not download $pkg=$ver"; return 1
}
kdeb=$(fetch "$kpkg" "$kver") || exit 1
bbdeb=$(fetch busybox-static "$bbver") || exit 1
# Keep only the debs in use.
find "$debs" -name '*.deb' ! -path "$kdeb" ! -path "$bbdeb" -delete

work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kdeb" "$work/k"
dpkg-deb -x "$bbdeb" "$work/bb"
krel=$(ls "$work/k/lib/modules")
config="$work/k/boot/config-$krel"
depmod -b "$work/k" "$krel"
dep="$work/k/lib/modules/$krel/modules.dep"

# --- the initramfs tree -----------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc/hostnet,etc/acpi/PWRF,www,lib/modules,var/log}
ln -s ../run "$root/var/run"
cp "$work/bb/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/files/init" "$root/init"
install -m 0755 "$here/files/udhcpc.script" "$root/etc/hostnet/udhcpc.script"
install -m 0755 "$here/files/acpi-power" "$root/etc/acpi/PWRF/00000080"
printf 'root:x:0:0:root:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"

# Dependency order from modules.dep: a module's dependencies (depth first) before the module.
declare -A seen=()
order=()
add_module() {
  local name=$1 line path d
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  line=$(grep -E "/${name}\.ko(\.xz|\.zst|\.gz)?:" "$dep" || true)
  [ -n "$line" ] || return 1
  path=${line%%:*}
  # modules.dep lists dependencies so that the last one must be loaded first.
  for d in $(echo "${line#*:}" | tr ' ' '\n' | tac); do
    d=$(basename "$d"); add_module "${d%%.ko*}" || true
  done
  case "$path" in *.ko) ;; *) log "compressed module $path is not supported"; return 1 ;; esac
  cp "$work/k/lib/modules/$krel/$path" "$root/lib/modules/$name.ko"
  order+=("$name")
}
for m in "${want_modules[@]}"; do
  if ! add_module "$m"; then
    cfg=$(grep -E "^CONFIG_$(echo "$m" | tr '[:lower:]' '[:upper:]')=" "$config" || true)
    if grep -qE "/${m}\.ko\$" "$work/k/lib/modules/$krel/modules.builtin" 2>/dev/null; then
      log "module $m: built into the kernel"
    else
      log "module $m: not available in $kpkg ${cfg:-(not configured)}: skipped"
    fi
  fi
done
printf '%s\n' "${order[@]}" > "$root/etc/hostnet/modules"
acpi_button=$(grep -E '^CONFIG_ACPI_BUTTON=' "$config" || echo 'CONFIG_ACPI_BUTTON is not set')
log "modules (load order): ${order[*]}  [$acpi_button]"
{
  echo "kernel=$kpkg=$kver"
  echo "release=$krel"
  echo "busybox=$bbver"
  echo "modules=${order[*]}"
} > "$root/etc/hostnet/build-info"

# --- write the outputs atomically -------------------------------------------------------------
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet) \
  | gzip -9n > "$work/initrd.gz"
cp "$work/k/boot/vmlinuz-$krel" "$work/vmlinuz"
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.gz" "$out/initrd.gz"
cp "$root/etc/hostnet/build-info" "$out/build-info"
echo "$stamp" > "$out/stamp"
t1=$(date +%s.%N)
log "done in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s: $out/vmlinuz $out/initrd.gz ($(du -k "$out/initrd.gz" | cut -f1) KiB)"
