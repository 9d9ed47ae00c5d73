#!/usr/bin/env bash
# Sparse- and zero-aware convert against qemu-img convert, in one run: 2 GiB raw sources (a hole,
# 10% scattered data among holes, the same among written zeros) to qcow2 and to VHD; median times,
# the ratio cowherd/qemu-img and the bytes each output allocates.
# Usage: benchmarks/run-sparse-benchmark.sh [WORKDIR] [SIZE_GIB=2] [ROUNDS=5]   (needs qemu-utils; ~5 GiB free)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d /var/tmp/cowherd-sparse.XXXXXX)}
./mvnw -q -B -DskipTests -pl benchmarks -am package
java -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp benchmarks/target/benchmarks.jar \
  io.cowherd.benchmarks.SparseConvertVersusQemuImg "$WORK" "${2:-2}" "${3:-5}"
rm -rf "$WORK"
