#!/usr/bin/env bash
# Installs, with apt, the JDK and the real peers cowherd's tests run against (Debian 12, as root):
#   qemu-utils                 qemu-img and qemu-io judge every qcow2 image we write and make the ones we read
#   libvirt0, libvirt-clients  libvirt's test:///default driver for domain definitions (no daemon)
#   libvirt-daemon-system, libvirt-daemon-driver-qemu, qemu-system-x86
#                              a real libvirtd (qemu:///system) with a dir pool, started by the tests
#   libvhdi-utils, fuse3       vhdiinfo judges every VHD we write; vhdimount (FUSE) reads our differencing chains
#   user-mode-linux, kmod, lvm2, thin-provisioning-tools, gcc
#                              a real Linux 6.1 kernel with the device mapper and loop devices, in which
#                              the dm-snapshot and LVM tests run (core test kit: run-in-uml.sh; gcc builds the
#                              XSAVE shim that UML needs on hosts with Intel AMX)
#   aria2                      a real BitTorrent peer: fetches what cowherd seeds, seeds what cowherd fetches
#   opentracker                a real external tracker (Debian's tracks whitelisted info hashes only)
#   mktorrent                  torrents made by another tool (single- and multi-file) that cowherd must fetch
#   iproute2, bc               network namespaces and tc for the namespace swarm (benchmarks/swarm), its arithmetic
#   libnbd-bin                 nbdinfo and nbdcopy, libnbd's NBD clients, read the NBD exports we serve
#   dosfstools, mtools         fsck.vfat and mtype check and read the NoCloud seed images cowherd writes (FAT)
#   asciidoctor                turns the man pages cowherd writes (AsciiDoc) into man(1) pages, as install-cowherd.sh does
#   linux-image-amd64, busybox-static (downloaded and unpacked into /var/cache/cowherd/guest, not installed)
#                              a guest for the streaming boot and guest identity tests: Debian's kernel, its
#                              virtio and FAT modules and a static busybox, from which the tests build an initramfs; the machine's own
#                              /boot stays as it is
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# A freshly booted machine runs its daily apt jobs: wait for their locks (up to 10 minutes) instead
# of failing at once. DPkg::Lock::Timeout covers dpkg's lock; 'update' takes the lists lock, so it
# is retried while another apt holds that.
apt="apt-get -o DPkg::Lock::Timeout=600"
for i in $(seq 60); do
  if out=$($apt update -q 2>&1); then break; fi
  if ! grep -q "Could not get lock" <<<"$out" || [ "$i" = 60 ]; then echo "$out" >&2; exit 1; fi
  sleep 10
done
$apt install -y -q --no-install-recommends \
  openjdk-17-jdk-headless curl ca-certificates \
  qemu-utils \
  libvhdi-utils fuse3 \
  libvirt0 libvirt-clients libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 \
  user-mode-linux kmod lvm2 thin-provisioning-tools gcc libc6-dev \
  aria2 opentracker mktorrent iproute2 bc asciidoctor libnbd-bin dosfstools mtools

guest=/var/cache/cowherd/guest
if [ ! -f "$guest/vmlinuz" ] || [ ! -f "$guest/vfat.ko" ]; then
  kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image/ {print $2; exit}')
  tmp=$(mktemp -d)
  chmod 777 "$tmp"  # apt's sandbox user (_apt) writes the downloads
  (cd "$tmp" && $apt download -q "$kernel" busybox-static)
  rm -rf "$guest.new"
  mkdir -p "$tmp/x" "$guest.new"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
  cp "$tmp"/x/boot/vmlinuz-* "$guest.new/vmlinuz"
  cp "$tmp/x/bin/busybox" "$guest.new/busybox"
  for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk \
      fat vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859-1; do
    find "$tmp"/x/lib/modules -name "$m.ko" -exec cp {} "$guest.new/" \;
  done
  rm -rf "$tmp" "$guest"
  mv "$guest.new" "$guest"
fi
