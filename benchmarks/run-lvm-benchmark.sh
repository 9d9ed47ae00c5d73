#!/usr/bin/env bash
# LVM clones (classic and thin): cowherd against a bare lvcreate loop, clone time as a master gathers
# 1, 10 and 50 clones, and sequential write throughput into a clone of each kind, in one User-mode
# Linux kernel run on loop-backed PVs.
# Usage: benchmarks/run-lvm-benchmark.sh [N=50] [SIZE_MIB=64]
# Needs: scripts/install-test-peers.sh (user-mode-linux, kmod, gcc, lvm2, thin-provisioning-tools). Root.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-50}
SIZE=${2:-64}
./mvnw -q -B -o -DskipTests -pl benchmarks,backend-lvm -am package
WORK=$(readlink -f benchmarks/target)/lvm-bench
rm -rf "$WORK"; mkdir -p "$WORK"
CP=$(readlink -f benchmarks/target/benchmarks.jar):$(readlink -f backend-lvm/target/cowherd-backend-lvm-0.1.0-SNAPSHOT.jar)
TMPDIR="$WORK" bash core/src/test/resources/io/cowherd/testkit/kernel/run-in-uml.sh -m 3G -t 1200 -- \
  java -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$CP" io.cowherd.benchmarks.LvmVersusLvcreate "$N" "$SIZE" "$WORK/run"
rm -rf "$WORK/run"
