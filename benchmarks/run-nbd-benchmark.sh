#!/usr/bin/env bash
# cowherd's NBD server against qemu-nbd: sequential reads of a complete 1 GiB file by the same
# clients (nbdcopy to null:, qemu-img convert to the null-co driver); median times, MiB/s and the
# ratio of throughputs (goal: cowherd >= 0.8x qemu-nbd).
# Usage: benchmarks/run-nbd-benchmark.sh [WORKDIR] [SIZE_MIB=1024] [ROUNDS=3]
#   (needs qemu-utils and libnbd-bin, see scripts/install-test-peers.sh; ~SIZE free in WORKDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d /var/tmp/cowherd-nbd.XXXXXX)}
./mvnw -q -B -DskipTests -pl benchmarks -am package
java -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp benchmarks/target/benchmarks.jar \
  io.cowherd.benchmarks.NbdVersusQemuNbd "$WORK" "${2:-1024}" "${3:-3}"
rm -rf "$WORK"
