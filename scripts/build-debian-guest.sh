#!/usr/bin/env bash
# Builds a small, sealed, bootable Debian 12 (bookworm) guest disk from Debian's packages only, for
# the tests that clone and boot real guests (identity, boot profiles). The disk boots by itself: an
# MBR (syslinux's mbr.bin), partition 1 a small FAT holding syslinux, vmlinuz and initrd.img, and
# partition 2 the ext4 root, so a boot reads the kernel, the initramfs and the root through the disk.
# Nothing is mounted or loop-attached to build it: the root comes from mmdebstrap into a directory,
# `mkfs.ext4 -d` turns that into a file system image, mtools and `syslinux --install` fill the FAT,
# and both are copied into the partitioned sparse raw image at their offsets.
#
# The guest is sealed: /etc/machine-id empty, /var/lib/dbus/machine-id a link to it, no SSH host keys,
# no /etc/hostname, cloud-init's state cleared, with `datasource_list: [ NoCloud, None ]`, so the
# SMBIOS serial `ds=nocloud;i=<id>;h=<hostname>` (or a seed disk labelled cidata) gives each clone
# its instance, hostname and new SSH host keys. DHCP on the first NIC by systemd-networkd. Once up,
# the unit cowherd-id.service prints to the serial console one `COWHERD-ID key=value` line per fact
# (machine-id, hostname, ssh-host-key-<type>, nic, mac, dhcp-client-id, ipv4, smbios-serial,
# smbios-uuid) and then `COWHERD-BOOTED`.
#
# Usage (root, Debian 12): scripts/build-debian-guest.sh     prints the image's path when done.
# Output: /var/cache/cowherd/debian-guest/disk.raw (sparse raw, 768 MiB) and disk.raw.inputs (the hash
# of this script and its settings); a rerun with the same inputs does nothing. Downloaded .debs are
# kept in /var/cache/cowherd/debian-guest/debs, so a rebuild downloads nothing new.
# Environment: COWHERD_GUEST_DIR (output folder), COWHERD_GUEST_KERNEL (kernel package, default
# linux-image-cloud-amd64: Debian's kernel for virtual machines, a third of linux-image-amd64's size),
# COWHERD_GUEST_SIZE_MIB (disk size, default 768: the root holds about 400 MiB), COWHERD_GUEST_MIRROR, FORCE=1 (rebuild anyway).
# Boot it (TCG):  qemu-img create -f qcow2 -b disk.raw -F raw /tmp/x.qcow2 &&
#   qemu-system-x86_64 -machine q35 -accel tcg -m 1024 -nographic -drive file=/tmp/x.qcow2,if=virtio \
#     -netdev user,id=n0 -device virtio-net-pci,netdev=n0 -smbios 'type=1,serial=ds=nocloud;i=test-1;h=clone-1'
set -euo pipefail

# --- inside mmdebstrap: customize the root (called as a hook, with the root's path) ------------------
if [ "${1:-}" = --customize ]; then
  root=$2 root_uuid=$3
  cat > "$root/etc/fstab" <<EOF
UUID=$root_uuid / ext4 errors=remount-ro 0 1
EOF
  # Root by UUID needs udev and the block driver in the initramfs; list them even though MODULES=most
  # takes them already (the cloud kernel builds some of them in).
  printf '%s\n' virtio_pci virtio_blk virtio_scsi virtio_net ext4 >> "$root/etc/initramfs-tools/modules"
  cat > "$root/etc/initramfs-tools/conf.d/cowherd.conf" <<'EOF'
MODULES=most
RESUME=none
FSTYPE=ext4
EOF
  chroot "$root" update-initramfs -u -k all
  # The initramfs must find the root: virtio PCI, virtio block and ext4, as modules or built in.
  for kver in $(ls "$root/lib/modules"); do
    list=$(chroot "$root" lsinitramfs "/boot/initrd.img-$kver")
    for m in virtio_pci virtio_blk ext4; do
      grep -q "/$m\.ko" <<< "$list" || grep -q "/$m\.ko" "$root/lib/modules/$kver/modules.builtin" ||
        { echo "initramfs of $kver lacks $m" >&2; exit 1; }
    done
  done
  # Network: DHCP on the first (any) Ethernet NIC; cloud-init leaves the network alone.
  cat > "$root/etc/systemd/network/20-dhcp.network" <<'EOF'
[Match]
Type=ether
Name=en* eth*

[Link]
RequiredForOnline=yes

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  cat > "$root/etc/cloud/cloud.cfg.d/90_dpkg.cfg" <<'EOF'
# to update this file, run dpkg-reconfigure cloud-init
datasource_list: [ NoCloud, None ]
EOF
  cat > "$root/etc/cloud/cloud.cfg.d/99_cowherd.cfg" <<'EOF'
datasource_list: [ NoCloud, None ]
network: {config: disabled}
ssh_genkeytypes: [rsa, ecdsa, ed25519]
locale: C.UTF-8
EOF
  # sshd waits for cloud-init's new host keys, and makes its own when cloud-init did not run.
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  cat > "$root/etc/systemd/system/ssh.service.d/cowherd.conf" <<'EOF'
[Unit]
After=cloud-init.service
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
  cat > "$root/usr/local/sbin/cowherd-id" <<'EOF'
#!/bin/sh
# Prints this guest's identity to the serial console, one "COWHERD-ID key=value" line per fact, then
# "COWHERD-BOOTED" (read by cowherd's tests).
out=/dev/ttyS0
[ -w "$out" ] || out=/dev/console
nic=
for d in /sys/class/net/*; do
  [ -e "$d/device" ] && [ "$(cat "$d/type")" = 1 ] && { nic=${d##*/}; break; }
done
ipv4=
if [ -n "$nic" ]; then
  for _ in $(seq 60); do
    ipv4=$(ip -4 -o addr show dev "$nic" scope global | awk '{print $4; exit}')
    [ -n "$ipv4" ] && break
    sleep 0.5
  done
fi
{
  echo "COWHERD-ID machine-id=$(cat /etc/machine-id)"
  echo "COWHERD-ID hostname=$(hostname)"
  for k in /etc/ssh/ssh_host_*_key.pub; do
    [ -e "$k" ] || continue
    t=${k#/etc/ssh/ssh_host_}; t=${t%_key.pub}
    echo "COWHERD-ID ssh-host-key-$t=$(ssh-keygen -E sha256 -lf "$k" | awk '{print $2}')"
  done
  if [ -n "$nic" ]; then
    echo "COWHERD-ID nic=$nic"
    echo "COWHERD-ID mac=$(cat "/sys/class/net/$nic/address")"
    lease=/run/systemd/netif/leases/$(cat "/sys/class/net/$nic/ifindex")
    [ -r "$lease" ] && echo "COWHERD-ID dhcp-client-id=$(sed -n 's/^CLIENTID=//p' "$lease")"
    echo "COWHERD-ID ipv4=$ipv4"
  fi
  echo "COWHERD-ID smbios-serial=$(cat /sys/class/dmi/id/product_serial 2>/dev/null)"
  echo "COWHERD-ID smbios-uuid=$(cat /sys/class/dmi/id/product_uuid 2>/dev/null)"
  echo "COWHERD-BOOTED"
} | tee /dev/stderr | sed 's/$/\r/' > "$out"
EOF
  chmod 0755 "$root/usr/local/sbin/cowherd-id"
  # DefaultDependencies=no, so multi-user.target is not ordered after it (cloud-final is after
  # multi-user.target and this unit after cloud-final).
  cat > "$root/etc/systemd/system/cowherd-id.service" <<'EOF'
[Unit]
Description=Print the guest's identity to the serial console (cowherd tests)
DefaultDependencies=no
Requires=sysinit.target
Wants=network-online.target
After=sysinit.target basic.target network-online.target ssh.service cloud-init.service cloud-config.service cloud-final.service
Conflicts=shutdown.target
Before=shutdown.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/cowherd-id
StandardOutput=journal

[Install]
WantedBy=multi-user.target
EOF
  chroot "$root" systemctl enable systemd-networkd.service cowherd-id.service
  chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
    e2scrub_reap.service systemd-firstboot.service
  chroot "$root" cloud-init clean --logs
  exit 0
fi

[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
self=$(readlink -f "$0")
out_dir=${COWHERD_GUEST_DIR:-/var/cache/cowherd/debian-guest}
kernel_pkg=${COWHERD_GUEST_KERNEL:-linux-image-cloud-amd64}
size_mib=${COWHERD_GUEST_SIZE_MIB:-768}
mirror=${COWHERD_GUEST_MIRROR:-http://deb.debian.org/debian}
boot_mib=128 # partition 1 (FAT) starts at 1 MiB; partition 2 (ext4 root) at 1 + boot_mib MiB
packages="systemd systemd-sysv udev dbus $kernel_pkg initramfs-tools zstd e2fsprogs cloud-init openssh-server \
  qemu-guest-agent iproute2 netbase procps sudo"
disk=$out_dir/disk.raw
inputs="script $(sha256sum < "$self" | cut -d' ' -f1) kernel=$kernel_pkg size=$size_mib mirror=$mirror"

mkdir -p "$out_dir"
exec 9> "$out_dir/.lock"
flock 9
if [ "${FORCE:-0}" != 1 ] && [ -f "$disk" ] && [ "$(cat "$disk.inputs" 2>/dev/null)" = "$inputs" ]; then
  echo "$disk"
  exit 0
fi

# Build tools, only the missing ones.
need=()
for t in mmdebstrap:mmdebstrap mkfs.ext4:e2fsprogs mkfs.fat:dosfstools mcopy:mtools syslinux:syslinux \
         sfdisk:fdisk qemu-img:qemu-utils; do
  command -v "${t%%:*}" >/dev/null || need+=("${t#*:}")
done
[ -f /usr/lib/syslinux/mbr/mbr.bin ] || need+=(syslinux-common)
if [ ${#need[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}"
fi

work=$out_dir/work
rm -rf --one-file-system "$work"
mkdir -p "$work" "$out_dir/debs"
trap 'rm -rf --one-file-system "$work"' EXIT
root=$work/root
root_uuid=$(cat /proc/sys/kernel/random/uuid)

suite=bookworm
mmdebstrap --variant=apt --skip=essential/unlink \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --include="$(echo $packages | tr ' ' ,)" \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
  --setup-hook="sync-in '$out_dir/debs' /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives '$out_dir/debs'" \
  --customize-hook="'$self' --customize \"\$1\" $root_uuid" \
  "$suite" "$root" \
  "deb $mirror $suite main" "deb $mirror $suite-updates main" \
  "deb ${mirror%/debian}/debian-security $suite-security main"
rm -f "$out_dir/debs/lock"; rm -rf "$out_dir/debs/partial"

# Seal (mmdebstrap already emptied /etc/machine-id and removed the apt lists and caches).
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
rm -f "$root"/etc/ssh/ssh_host_* "$root/etc/hostname" "$root/var/lib/systemd/random-seed" \
  "$root/var/lib/systemd/credential.secret"
rm -rf "$root"/var/lib/cloud/* "$root"/var/log/cloud-init* "$root"/tmp/* "$root"/var/tmp/*
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
find "$root/var/log" -type f -exec truncate -s 0 {} +

kver=$(ls "$root/lib/modules" | sort -V | tail -1)
vmlinuz=$root/boot/vmlinuz-$kver initrd=$root/boot/initrd.img-$kver

# Boot partition: FAT with syslinux, the kernel and the initramfs (copied; the root keeps its own).
boot_start=2048 boot_sectors=$((boot_mib * 2048))
root_start=$((boot_start + boot_sectors)) total_sectors=$((size_mib * 2048))
root_sectors=$((total_sectors - root_start))
cat > "$work/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT debian
PROMPT 0
TIMEOUT 0
LABEL debian
  KERNEL vmlinuz
  INITRD initrd.img
  APPEND root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200n8 systemd.firstboot=off
EOF
mkfs.fat -n COWBOOT -h "$boot_start" -C "$work/boot.img" $((boot_mib * 1024)) >/dev/null
mcopy -i "$work/boot.img" "$vmlinuz" ::vmlinuz
mcopy -i "$work/boot.img" "$initrd" ::initrd.img
mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::syslinux.cfg
syslinux --install "$work/boot.img"

# Root partition: ext4 made from the directory, inode tables and journal written now so the guest's
# kernel does not zero them in the background (writes that would land in every clone).
truncate -s $((root_sectors * 512)) "$work/root.img"
mkfs.ext4 -q -F -L cowroot -U "$root_uuid" -m 1 -E lazy_itable_init=0,lazy_journal_init=0 \
  -d "$root" "$work/root.img"

# The disk: MBR with syslinux's boot code, the two partitions copied in at their offsets, sparse.
truncate -s $((total_sectors * 512)) "$work/disk.raw"
sfdisk -q "$work/disk.raw" <<EOF
label: dos
unit: sectors
start=$boot_start, size=$boot_sectors, type=e, bootable
start=$root_start, size=$root_sectors, type=83
EOF
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek=$((boot_start / 2048)) conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek=$((root_start / 2048)) conv=notrunc,sparse status=none

mv "$work/disk.raw" "$disk"
echo "$inputs" > "$disk.inputs"
echo "built $disk: $(qemu-img info "$disk" | sed -n 's/^virtual size: //p') virtual, $(du -h "$disk" | cut -f1) allocated" >&2
echo "$disk"
