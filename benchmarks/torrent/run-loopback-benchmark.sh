#!/usr/bin/env bash
# run-loopback-benchmark.sh [RUNS] [SIZE_MIB] [ENGINE]
# One seed and one peer on loopback through the cowherd command: `cowherd seed` (embedded
# tracker) on 127.0.0.2, `cowherd fetch` on 127.0.0.3, SIZE_MIB (default 1024) of random data,
# RUNS times (default 3), both with --engine ENGINE (libtorrent or ttorrent; default: $ENGINE, else the
# command's default). Prints the engine, how long the seed took to start sharing (a seed that
# re-hashed its data would show it here), each run's MB/s (whole fetch command: JVM start,
# announce, transfer, every piece verified, rename) and the median, against issue 16's goal of
# 300 MB/s. SEED_ARGS adds options to the seed command (e.g. --initial-seeding), FETCH_ARGS to
# the fetch (e.g. --tune maxOutRequests=32, the queue of a fetch with --serve). Needs cli/target/cowherd.jar (./mvnw -B -q -DskipTests package).
set -euo pipefail
RUNS=${1:-3}; MIB=${2:-1024}; ENGINE=${3:-${ENGINE:-}}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
COWHERD=$ROOT/cli/cowherd  # the launcher operators use
JAR=$ROOT/cli/target/cowherd.jar; WORK=${WORK:-/tmp/cowherd-loopback}
[ -f "$JAR" ] || { echo "build first: ./mvnw -B -q -DskipTests package" >&2; exit 1; }
SEED=""
EOPT=(); [ -n "$ENGINE" ] && EOPT=(--engine "$ENGINE")
trap '[ -n "$SEED" ] && kill "$SEED" 2>/dev/null || true' EXIT
rm -rf "$WORK"; mkdir -p "$WORK/seed/payload"
# no measured run lists classes or dumps the launcher's class-data archive
source "$ROOT/benchmarks/lib/wait.sh"; source "$ROOT/benchmarks/lib/warm-launcher.sh"
warm_launcher "$COWHERD" "$WORK/warm" || exit 1
head -c $((MIB << 20)) /dev/urandom > "$WORK/seed/payload/image.raw"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
s0=$(date +%s.%N)
"$COWHERD" seed "$WORK/seed/payload" "${EOPT[@]}" --embedded-tracker "127.0.0.1:$PORT" --bind 127.0.0.2 \
    --torrent "$WORK/t.torrent" ${SEED_ARGS:-} > "$WORK/seed.log" 2>&1 & SEED=$!
until grep -q '^seeding' "$WORK/seed.log" 2>/dev/null; do kill -0 "$SEED" 2>/dev/null || { cat "$WORK/seed.log" >&2; exit 1; }; sleep 0.1; done
s1=$(date +%s.%N)
grep '^engine' "$WORK/seed.log" || echo "engine unknown (a jar that does not print its engine)"
grep '^seeding' "$WORK/seed.log"
printf 'seed start: %.2f s from the command to sharing (metainfo hashed once by the command; the engine re-hashes nothing)\n' "$(echo "$s1 - $s0" | bc)"
RATES=()
for r in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/peer"; mkdir -p "$WORK/peer"
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086 # FETCH_ARGS is a list of options
  "$COWHERD" fetch "$WORK/t.torrent" "${EOPT[@]}" --into "$WORK/peer" --bind 127.0.0.3 --quiet ${FETCH_ARGS:-} > "$WORK/fetch.log"
  t1=$(date +%s.%N)
  cmp -s "$WORK/seed/payload/image.raw" "$WORK/peer/payload/image.raw" || { echo "bytes differ" >&2; exit 1; }
  rate=$(echo "$MIB * 1.048576 / ($t1 - $t0)" | bc -l)
  printf 'run %d: %d MiB in %.2f s = %.1f MB/s\n' "$r" "$MIB" "$(echo "$t1 - $t0" | bc)" "$rate"
  RATES+=("$rate")
done
med=$(printf '%s\n' "${RATES[@]}" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}')
printf 'median %.1f MB/s with engine %s (goal 300 MB/s: %.2fx of it)\n' "$med" "${ENGINE:-default}" "$(echo "$med / 300" | bc -l)"
