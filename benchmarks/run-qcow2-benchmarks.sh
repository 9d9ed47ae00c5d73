#!/usr/bin/env bash
# The qcow2 engine's benchmark job: every figure side by side with QEMU's own tools, in one run.
#   1. chain read to raw and flatten to qcow2 (2 GiB master, clone rewrote 10%) vs qemu-img convert and cat
#   2. scattered 4 KiB reads and writes vs qemu-img bench, then the JMH RandomIoBenchmark
#   3. the SIGKILL fault-injection test with 1,000 runs (CI runs 200)
# Usage: benchmarks/run-qcow2-benchmarks.sh [WORKDIR]   (needs qemu-utils; several GiB free in WORKDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${1:-$(mktemp -d /var/tmp/cowherd-bench.XXXXXX)}
./mvnw -q -B -DskipTests -pl benchmarks -am install
JAR=benchmarks/target/benchmarks.jar
java -Xmx256m -cp "$JAR" io.cowherd.benchmarks.ChainReadVersusQemuImg "$WORK/chain" 2 3
java -Xmx256m -cp "$JAR" io.cowherd.benchmarks.RandomIoVersusQemuImg "$WORK/randio" 200000 3
java -jar "$JAR" RandomIoBenchmark -f 1 -wi 2 -i 3
./mvnw -q -B -pl backend-qcow2 test -Dtest=CrashSafetyTest -Dcowherd.crash.runs=1000 -Dsurefire.failIfNoSpecifiedTests=false
grep -h "kills" backend-qcow2/target/surefire-reports/io.cowherd.qcow2.CrashSafetyTest-output.txt || true
rm -rf "$WORK"
