#!/usr/bin/env bash
# Clone creation: cowherd against qemu-img in the same run, then the JMH microbenchmark.
# Usage: benchmarks/run-clone-benchmark.sh [N=1000] [SIZE=20G]   (needs qemu-utils)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
SIZE=${2:-20G}
./mvnw -q -B -DskipTests -pl benchmarks -am package
JAR=benchmarks/target/benchmarks.jar
java -cp "$JAR" io.cowherd.benchmarks.CloneVersusQemuImg "$N" "$SIZE"
java -jar "$JAR" CloneBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s
