#!/usr/bin/env bash
# Build the real-guest image: Debian 12 with a kernel, systemd, cloud-init, openssh-server and
# qemu-guest-agent, bootable through firmware (GRUB on the disk) for BIOS and for UEFI.
#
#   tests/image/build.sh [OUTDIR]        (default: <repo>/.cache/image; writes OUTDIR/debian12.qcow2)
#
# Made from Debian's packages only, with no loop device and no mount:
#   1. debootstrap (minbase) into a directory;
#   2. `mke2fs -d` writes that tree as an ext4 file system straight into partition 2 of a raw disk
#      (`-E offset=`);
#   3. partition 1 is an EFI system partition (MBR type 0xef, which OVMF reads): vfat made by
#      mkfs.vfat, filled by mtools, holding GRUB for UEFI as EFI/BOOT/BOOTX64.EFI (grub-mkstandalone);
#   4. for BIOS, GRUB's boot.img goes into the MBR and its core.img into the gap before partition 1,
#      with the one field grub-bios-setup would patch (the length of core.img's block list) set here.
# Both GRUBs carry the same embedded configuration: find the root file system by its label, boot
# /vmlinuz with console=ttyS0. cloud-init looks only for NoCloud (a `cidata` seed), so a guest without
# a seed does not wait on network data sources.
#
# Cached: OUTDIR/stamp holds the hash of this script; when it matches, nothing is rebuilt.
# Needs root (debootstrap), and: debootstrap grub-pc-bin grub-efi-amd64-bin dosfstools mtools fdisk
# e2fsprogs qemu-utils (.ci/apt-packages.txt).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/.cache/image}
image=$out/debian12.qcow2
suite=bookworm
packages=(linux-image-cloud-amd64 systemd-sysv udev dbus cloud-init openssh-server qemu-guest-agent
          ifupdown isc-dhcp-client
          python3-netaddr python3-pyroute2 python3-pytest sudo  # the VLAN kernel test runs inside rg1 (scenario realguest)
          python3-cffi-backend)  # debootstrap does not resolve virtual packages (cryptography needs this one)
disk_mib=2048      # the virtual disk; the qcow2 holds only what is written
esp_mib=32         # partition 1 (EFI system partition), from 1 MiB
label=hostnet-root

log() { printf 'image-build: %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f s", b - a}'; }
t0=$(now)
[ "$(id -u)" = 0 ] || { log "run as root (debootstrap)"; exit 1; }

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
stamp="src=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)"
if [ -s "$image" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  log "up to date ($stamp)"
  exit 0
fi

# The mirror: the one the lab image uses (same lookup, same override).
# shellcheck source=tests/lab/mirror.sh
source "$repo/tests/lab/mirror.sh"
mirror=${HOSTNET_LAB_MIRROR:-$(mirror_for "$suite")}
[ -n "$mirror" ] || { log "no apt source for '$suite' in /etc/apt/sources.list*; set HOSTNET_LAB_MIRROR"; exit 1; }

work=$(mktemp -d "$out/work.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r || true); do umount -l "$m" || true; done
  rm -rf --one-file-system "$work" || log "could not remove $work"
}
trap cleanup EXIT

t=$(now)
include=$(IFS=,; echo "${packages[*]}")
if ! debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ ! -f "$rootfs/debootstrap/debootstrap.log" ] || tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
  log "debootstrap failed"
  exit 1
fi
log "debootstrap: $(since "$t")"
for m in $(findmnt -rn -o TARGET | grep -F "$rootfs/" | sort -r || true); do umount -l "$m"; done

# --- the guest's own configuration ---------------------------------------------------------------
echo "deb $mirror $suite main" > "$rootfs/etc/apt/sources.list"
rm -f "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*_Packages
: > "$rootfs/etc/machine-id"
rm -f "$rootfs"/etc/ssh/ssh_host_*          # every guest makes its own (cloud-init, first boot)
echo debian > "$rootfs/etc/hostname"
printf 'LABEL=%s / ext4 errors=remount-ro 0 1\n' "$label" > "$rootfs/etc/fstab"
printf 'auto lo\niface lo inet loopback\nsource /etc/network/interfaces.d/*\n' > "$rootfs/etc/network/interfaces"
cat > "$rootfs/etc/cloud/cloud.cfg.d/90-hostnet.cfg" <<'EOF'
# hostnet.qemu test image: only a NoCloud seed configures this guest; no network data source is probed.
datasource_list: [NoCloud, None]
# one host key type: RSA key generation is slow under TCG
ssh_genkeytypes: [ed25519]
# minbase has no locales package (update-locale): keep the C.UTF-8 default
locale: false
EOF
# Timers a test guest does not need (they would compete for the CPU during the test).
for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$u"
done
# The guest agent starts when its virtio-serial port appears (udev), as packaged.

# --- GRUB, one configuration for both firmwares ----------------------------------------------------
cat > "$work/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=0
search --no-floppy --label $label --set=root
linux /vmlinuz root=LABEL=$label ro console=tty0 console=ttyS0,115200n8
initrd /initrd.img
boot
EOF
grub_modules="part_msdos ext2 search search_label linux serial terminal echo test normal"
grub-mkstandalone -O x86_64-efi --modules="$grub_modules" -o "$work/BOOTX64.EFI" "boot/grub/grub.cfg=$work/grub.cfg"
# shellcheck disable=SC2086  # a word list
grub-mkimage -O i386-pc -o "$work/core.img" -c "$work/grub.cfg" -p /boot/grub biosdisk $grub_modules

# --- the disk -------------------------------------------------------------------------------------
t=$(now)
raw=$work/disk.raw
truncate -s "${disk_mib}M" "$raw"
root_start=$(( (1 + esp_mib) * 2048 ))     # sectors
sfdisk --quiet --label dos "$raw" <<EOF
2048,$(( esp_mib * 2048 )),ef
$root_start,,83
EOF
mkfs.vfat -n HOSTNET-ESP -C "$work/esp.img" $(( esp_mib * 1024 )) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
dd if="$work/esp.img" of="$raw" bs=1M seek=1 conv=notrunc status=none
root_bytes=$(( (disk_mib - 1 - esp_mib) * 1024 * 1024 ))
mke2fs -q -t ext4 -L "$label" -d "$rootfs" -E offset=$(( root_start * 512 )) "$raw" $(( root_bytes / 1024 ))k
# BIOS: boot.img's code (not the partition table) into the MBR; core.img from sector 1. boot.img loads
# sector 1 (its default); core.img's first sector then loads the rest from sector 2 onwards, whose
# count is the 16-bit field at offset 0x1fc of that first sector.
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
[ "$core_sectors" -lt 2048 ] || { log "core.img does not fit before partition 1"; exit 1; }
dd if=/usr/lib/grub/i386-pc/boot.img of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
printf '%b' "$(printf '\\x%02x\\x%02x' $(( (core_sectors - 1) & 255 )) $(( (core_sectors - 1) >> 8 )))" \
  | dd of="$raw" bs=1 seek=$(( 512 + 0x1fc )) conv=notrunc status=none
log "disk: $(since "$t")"

qemu-img convert -O qcow2 "$raw" "$work/debian12.qcow2"
mv -f "$work/debian12.qcow2" "$image"
echo "$stamp" > "$out/stamp"
log "built $image ($(du -m "$image" | cut -f1) MiB on disk) in $(since "$t0")"
