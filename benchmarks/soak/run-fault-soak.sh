#!/usr/bin/env bash
# run-fault-soak.sh [RUNS=30] [ENGINES="ttorrent libtorrent"]
# Runs the torrent fault tests (TorrentFaultTest; TorrentSwarmTest too unless CLASSES says
# otherwise) RUNS times in a row per engine, never rerunning a failure (the project's rule: a
# flaky test is a bug). Builds distribution and what it needs once (-am, so this worktree's code
# is tested, not a SNAPSHOT from ~/.m2), then runs each engine's RUNS repetitions in one JVM
# (benchmarks/soak/FaultSoak.java on the JUnit launcher). Prints a line per run, then per engine
# "N/RUNS passed" and, for each failure, the test and the first line of its assertion.
# An entry of ENGINES may name several engines, comma-separated ("libtorrent,ttorrent"): tests
# that mix engines (TorrentSwarmTest.enginesMixInOneSwarm) run only under such an entry.
# Test logs: $WORK/<engine>.log (default WORK=/tmp/cowherd-fault-soak).
# Env: CLASSES (default "TorrentFaultTest TorrentSwarmTest"), FORK=1 for one JVM per run,
# SOAK_JAVA_OPTS for the test JVM (e.g. -Dorg.slf4j.simpleLogger.log.com.turn=debug).
set -uo pipefail
RUNS=${1:-30}; ENGINES=${2:-ttorrent libtorrent}
CLASSES=${CLASSES:-TorrentFaultTest TorrentSwarmTest}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/cowherd-fault-soak}; mkdir -p "$WORK"
cd "$ROOT" || exit 1
echo "building distribution (-am) and its test classpath..."
./mvnw -B -q -pl distribution -am test-compile dependency:build-classpath \
    -Dmdep.includeScope=test -Dmdep.outputFile=target/soak.classpath > "$WORK/build.log" 2>&1 \
    || { tail -40 "$WORK/build.log" >&2; exit 1; }
D=$ROOT/distribution/target
CP=$D/test-classes:$D/classes:$(cat "$D/soak.classpath")
JOPTS=(-Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS ${SOAK_JAVA_OPTS:-})
FQ=(); for c in $CLASSES; do FQ+=("io.cowherd.distribution.torrent.$c"); done
SUMMARY=(); rc=0
for e in $ENGINES; do
  echo "== $e: $RUNS runs of $CLASSES =="
  : > "$WORK/$e.log"
  if [ "${FORK:-0}" = 1 ]; then
    ok=0; fails=()
    for r in $(seq 1 "$RUNS"); do
      out=$(java "${JOPTS[@]}" -Dcowherd.test.engines="$e" -cp "$CP" "$HERE/FaultSoak.java" 1 "$e" "${FQ[@]}" 2>>"$WORK/$e.log")
      if [ $? = 0 ]; then ok=$((ok + 1)); echo "$e run $r: passed"
      else echo "$e run $r: FAILED"; fails+=("$(grep '^  run' <<<"$out" | sed "s/^  run 1/  run $r/")"); fi
    done
    SUMMARY+=("$e: $ok/$RUNS passed"); for f in "${fails[@]}"; do SUMMARY+=("$f"); done
    [ "$ok" = "$RUNS" ] || rc=1
  else
    java "${JOPTS[@]}" -Dcowherd.test.engines="$e" -cp "$CP" "$HERE/FaultSoak.java" "$RUNS" "$e" "${FQ[@]}" \
        2>>"$WORK/$e.log" | tee "$WORK/$e.out"
    [ "${PIPESTATUS[0]}" = 0 ] || rc=1
    SUMMARY+=("$(sed -n '/: [0-9]*\/[0-9]* passed$/,$p' "$WORK/$e.out")")
  fi
done
echo "== summary =="
printf '%s\n' "${SUMMARY[@]}"
exit $rc
