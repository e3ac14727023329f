#!/usr/bin/env bash
# Build the lab host image localhost/hostnet-lab:bookworm: Debian 12 with systemd, Python and QEMU.
#
#   tests/lab/build-image.sh [--force]
#
# debootstrap (variant minbase) from the Debian mirror this machine's apt already uses (or
# $HOSTNET_LAB_MIRROR), then `tar | podman import`. Cached: skipped when the image exists and its
# label org.hostnet.lab.hash equals the hash of this script. Run tests/lab/setup-host.sh first.
# Needs root. The rootfs is built under <repo>/.cache/lab/ and always removed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
image=${HOSTNET_LAB_IMAGE:-localhost/hostnet-lab:bookworm}
suite=bookworm
# dnsmasq-base: the network role's DHCP/DNS (the binary only, no system-wide dnsmasq service);
# busybox: udhcpc and nslookup for the DHCP/DNS tests' netns clients; isc-dhcp-client: dhclient -6, the stateful
# DHCPv6 client of the netns guests (busybox has no udhcpc6 in Debian).
# genisoimage: cloud-init seeds; ovmf, swtpm: UEFI and TPM guests; openssh-client: the real-guest SSH proof;
# frr, frr-pythontools: BGP EVPN for spanned networks (its unit disabled below: the network role enables it where
# a network needs it, as on a host where the package was installed for something else).
# network-manager: the uplink NIC that NetworkManager manages (scenario network starts it on its host; disabled
# below, as is the udev it pulls in: a lab container has never run udev, and udevd in a privileged container
# would act on the host's devices). libpam-systemd: the logind that its polkitd needs (debootstrap does not
# resolve virtual packages).
packages=(systemd systemd-sysv dbus python3 python3-pyroute2 python3-netaddr iproute2 kmod procps
          iputils-ping nftables sudo libcap2-bin qemu-system-x86 qemu-utils qemu-system-common
          dnsmasq-base busybox isc-dhcp-client genisoimage openssh-client ovmf swtpm swtpm-tools frr frr-pythontools
          network-manager libpam-systemd)
label=org.hostnet.lab.hash
hash=$(cat "${BASH_SOURCE[0]}" "$here/mirror.sh" | sha256sum | cut -c1-16)

log() { printf 'lab-image: %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f s", b - a}'; }
t0=$(now)
[ "$(id -u)" = 0 ] || { log "run as root (debootstrap and rootful podman)"; exit 1; }

# One build at a time: scenarios started together wait here, then find the image up to date.
# (Running containers keep the image they were started from; the new one only replaces the tag.)
mkdir -p "$repo/.cache/lab"
exec 9>"$repo/.cache/lab/.lock"
flock 9

if [ "${1:-}" != --force ]; then
  have=$(podman image inspect --format "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null || true)
  if [ "$have" = "$hash" ]; then
    log "$image is up to date ($label=$hash)"
    exit 0
  fi
  [ -z "$have" ] || log "$image has $label=$have, want $hash: rebuilding"
fi

# --- the mirror: the first Debian source for $suite that apt on this machine already uses ----
# shellcheck source=tests/lab/mirror.sh
source "$here/mirror.sh"
mirror=${HOSTNET_LAB_MIRROR:-$(mirror_for "$suite")}
[ -n "$mirror" ] || { log "no apt source for '$suite' in /etc/apt/sources.list*; set HOSTNET_LAB_MIRROR"; exit 1; }
security=$(mirror_for "$suite-security")
log "mirror $mirror${security:+ (security: $security)}"

# --- debootstrap -------------------------------------------------------------------------------
mkdir -p "$repo/.cache/lab"
rootfs=$(mktemp -d "$repo/.cache/lab/rootfs.XXXXXX")
cleanup() {
  # debootstrap mounts proc/sys inside the target; never rm -rf through a mount.
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r || true); do umount -l "$m" || true; done
  rm -rf --one-file-system "$rootfs" || log "could not remove $rootfs"
}
trap cleanup EXIT
t=$(now)
include=$(IFS=,; echo "${packages[*]}")
if ! debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -n 30 "$rootfs.log" >&2
  [ ! -f "$rootfs/debootstrap/debootstrap.log" ] || tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
  rm -f "$rootfs.log"
  log "debootstrap failed"
  exit 1
fi
rm -f "$rootfs.log"
log "debootstrap: $(since "$t")"

# --- tidy: apt sources like the host's, no cached debs, a fresh machine-id per container ------
{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -z "$security" ] || echo "deb $security $suite-security main"
} > "$rootfs/etc/apt/sources.list"
rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin
rm -f "$rootfs"/etc/systemd/system/*.wants/frr.service
rm -f "$rootfs"/etc/systemd/system/*.wants/NetworkManager*.service "$rootfs"/etc/systemd/system/dbus-org.freedesktop.NetworkManager.service
for unit in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket; do
  ln -sfn /dev/null "$rootfs/etc/systemd/system/$unit"
done
# and udev's device node permissions at boot (/dev/net/tun 0666...): the lab host's /dev stays as it was without udev
ln -sfn /dev/null "$rootfs/etc/tmpfiles.d/static-nodes-permissions.conf"
: > "$rootfs/etc/machine-id"
echo hostnet-lab > "$rootfs/etc/hostname"

# --- import ------------------------------------------------------------------------------------
t=$(now)
tar --numeric-owner --xattrs --acls -C "$rootfs" -c . \
  | podman import --quiet \
      --change "LABEL $label=$hash" \
      --change 'CMD ["/sbin/init"]' \
      --change 'STOPSIGNAL SIGRTMIN+3' \
      - "$image" >/dev/null
log "podman import: $(since "$t")"
# The image this one replaced, if no container uses it any more.
podman image prune -f --filter "label=$label" >/dev/null || true
log "built $image ($(podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MiB", $1 / 1048576}')) in $(since "$t0")"
