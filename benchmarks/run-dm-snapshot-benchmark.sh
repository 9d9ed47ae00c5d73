#!/usr/bin/env bash
# dm-snapshot clones: cowherd (ioctls) against a bare shell loop of losetup + dmsetup create, and
# sequential reads through a clone against the master device, all in one User-mode Linux kernel run.
# Usage: benchmarks/run-dm-snapshot-benchmark.sh [N=200] [SIZE_MIB=256]
# Needs: scripts/install-test-peers.sh (user-mode-linux, kmod, gcc). Root.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200}
SIZE=${2:-256}
./mvnw -q -B -DskipTests -pl benchmarks,backend-dmsnapshot -am package
WORK=$(readlink -f benchmarks/target)/dm-bench
rm -rf "$WORK"; mkdir -p "$WORK"
CP=$(readlink -f benchmarks/target/benchmarks.jar):$(readlink -f backend-dmsnapshot/target/cowherd-backend-dmsnapshot-0.1.0-SNAPSHOT.jar)
TMPDIR="$WORK" bash core/src/test/resources/io/cowherd/testkit/kernel/run-in-uml.sh -m 3G -t 900 -- \
  java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CP" io.cowherd.benchmarks.DmSnapshotVersusDmsetup "$N" "$SIZE" "$WORK/run"
rm -rf "$WORK/run"
