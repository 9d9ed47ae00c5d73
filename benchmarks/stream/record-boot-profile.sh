#!/usr/bin/env bash
# Records the boot profile of a real boot: a seed on loopback ships DISK (raw) in a bundle, `cowherd
# fetch --serve --record-profile` exports it while it arrives, QEMU (TCG) boots a qcow2 clone on the
# export until the guest prints COWHERD-BOOTED on its serial console (the guest of
# scripts/build-debian-guest.sh does, once systemd, cloud-init and ssh are up), and the fetch writes
# every read the export served, in order, to OUT: the profile `bundle create --boot-profile` ships.
# Usage: benchmarks/stream/record-boot-profile.sh [DISK=/var/cache/cowherd/debian-guest/disk.raw] [OUT=boot-profile]
#   (as root; NO_BUILD=1 skips the build). The bundle's disk is named disk.raw, as the profile says.
set -euo pipefail
cd "$(dirname "$0")/../.."
DISK=${1:-/var/cache/cowherd/debian-guest/disk.raw}
OUT=$(realpath -m "${2:-boot-profile}")
WORK=$(mktemp -d /var/tmp/cowherd-profile.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${NO_BUILD:-}" ] || ./mvnw -q -B -DskipTests -pl cli -am package
COWHERD=$PWD/cli/cowherd
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cp --sparse=always "$DISK" "$WORK/disk.raw"
"$COWHERD" bundle create --into "$WORK/seed/golden" -f raw "$WORK/disk.raw" > /dev/null
"$COWHERD" seed "$WORK/seed/golden" --embedded-tracker "127.0.0.1:$port" --bind 127.0.5.1 --torrent "$WORK/golden.torrent" \
  --quiet > "$WORK/seed.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 600); do [ -f "$WORK/golden.torrent" ] && break; sleep 0.1; done
rm -f "$OUT"
"$COWHERD" fetch "$WORK/golden.torrent" --into "$WORK/in" --bind 127.0.5.2 --serve --record-profile "$OUT" --quiet \
  > "$WORK/fetch.out" 2>&1 &
fetch=$!; PIDS+=($fetch)
for _ in $(seq 3000); do grep -q '^serving disk.raw' "$WORK/fetch.out" 2>/dev/null && break; sleep 0.02; done
qemu-img create -q -f qcow2 -b "nbd+unix:///disk.raw?socket=$WORK/in/golden.sock" -F raw "$WORK/clone.qcow2"
t0=$(date +%s.%N)
qemu-system-x86_64 -machine q35 -accel tcg -m 1024 -smp 1 -display none -monitor none -serial "file:$WORK/console" \
  -drive "file=$WORK/clone.qcow2,if=virtio" -netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
  -smbios 'type=1,serial=ds=nocloud;i=profile;h=profile' &
qemu=$!; PIDS+=($qemu)
for _ in $(seq 6000); do grep -q COWHERD-BOOTED "$WORK/console" 2>/dev/null && break; sleep 0.1; done
grep -q COWHERD-BOOTED "$WORK/console" || { echo "the guest did not boot in 600 s:" >&2; tail -20 "$WORK/console" >&2; exit 1; }
boot=$(echo "$(date +%s.%N) - $t0" | bc)
kill "$qemu"; wait "$qemu" 2>/dev/null || true
kill "$fetch"; wait "$fetch" 2>/dev/null || true   # its shutdown writes the profile
for _ in $(seq 100); do [ -s "$OUT" ] && break; sleep 0.1; done
python3 - "$OUT" "$boot" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
spans = sorted((int(o), int(o) + int(n)) for _, o, n in rows)
covered, end = 0, -1
for a, b in spans:
    if b > end:
        covered += b - max(a, end); end = b
print(f"{sys.argv[1]}: {len(rows)} reads, {sum(int(n) for *_, n in rows) / 2**20:.1f} MiB read, "
      f"{covered / 2**20:.1f} MiB of the disk, recorded from a boot of {float(sys.argv[2]):.0f} s")
PY
