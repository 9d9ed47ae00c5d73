#!/usr/bin/env bash
# Installs, with apt, the JDK and the real peers cowherd's tests run against (Debian 12, as root):
#   qemu-utils                 qemu-img and qemu-io judge every qcow2 image we write and make the ones we read
#   libvirt0, libvirt-clients  libvirt's test:///default driver for domain definitions (no daemon)
#   libvirt-daemon-system, libvirt-daemon-driver-qemu, qemu-system-x86
#                              a real libvirtd (qemu:///system) with a dir pool, started by the tests
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  openjdk-17-jdk-headless curl ca-certificates \
  qemu-utils \
  libvirt0 libvirt-clients libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86
