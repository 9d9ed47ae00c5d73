#!/usr/bin/env bash
# The launcher cli/cowherd and its class-data archive (AppCDS) for seed and fetch: a first run writes
# it, a later run checks, adopts and maps it (one of several written at once; the others dropped); --help writes none; an archive cut short or damaged is
# dropped (mapped, it would crash the JVM), one of another jar replaced; the JVM's messages never
# reach the output; the command's PID is the JVM's (exec), so a kill reaches it. Runs a copy of the launcher and the built jar in a
# scratch directory with its own cache (XDG_CACHE_HOME), a seed on loopback.
# Usage (after ./mvnw -B package): cli/src/test/launcher/test-launcher.sh
set -euo pipefail
cd "$(dirname "$0")/../../../.."
[ -f cli/target/cowherd.jar ] || { echo "build first: ./mvnw -B -q -DskipTests package" >&2; exit 2; }
source benchmarks/lib/wait.sh
T=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
cp cli/cowherd cli/target/cowherd.jar "$T/"
export XDG_CACHE_HOME=$T/cache
C=$T/cowherd
head -c $((4 << 20)) /dev/urandom > "$T/payload.raw"
PORT=$((20000 + RANDOM % 20000))  # the embedded tracker's
fail() { echo "FAIL: $*" >&2; exit 1; }
archives() { find "$XDG_CACHE_HOME/cowherd" -name "cds-$1-*" -printf '%f\n' 2>/dev/null | sort; }

# seed_run LOG: a seed on loopback until it says it seeds; its PID in SEED (the launcher's, then the JVM's)
seed_run() {
  "$C" seed "$T/payload.raw" --embedded-tracker "127.0.0.1:$PORT" --bind 127.0.0.1 --torrent "$T/p.torrent" > "$1" 2> "$1.err" &
  SEED=$!; PIDS+=("$SEED")
  wait_for_line "$1" 'seeding *' "$SEED" || fail "the seed did not start: $(cat "$1" "$1.err")"
}
# no_jvm_messages LOG: neither stream of a run has the JVM's own messages
no_jvm_messages() { ! grep -qiE '\[(warning|info|error)\]|cds|shared archive' "$1" "$1.err" || fail "JVM messages in $1: $(grep -hiE 'warning|cds|shared' "$1" "$1.err" | head -3)"; }

"$C" seed --help > "$T/help.out"
[ -z "$(archives seed)" ] || fail "--help wrote an archive: $(archives seed)"

# a first run: no archive to map; it writes one as it exits (after SIGTERM too)
seed_run "$T/s1.out"
[ "$(tr '\0' '\n' < "/proc/$SEED/cmdline" | head -1)" != sh ] || fail "the launcher did not exec the JVM"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s1.out"
first=$(archives seed)
[[ $first == cds-seed-*.jsa."$SEED" ]] || fail "the first run wrote no archive named after its PID: '$first'"
whole=$XDG_CACHE_HOME/cowherd/$first

# a dump cut short (a JVM that maps it dies of SIGBUS): the next run drops it, runs without, writes another
chmod u+w "$whole"; truncate -s 65536 "$whole"
seed_run "$T/s2.out"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s2.out"
[ "$(archives seed)" = "${first%.*}.$SEED" ] || fail "the cut archive was not replaced by the run's own: $(archives seed)"
! ls hs_err_pid* "$T"/hs_err_pid* > /dev/null 2>&1 || fail "a JVM crash report was left behind"
# and a damaged one (its checksums differ)
second=$XDG_CACHE_HOME/cowherd/$(archives seed)
chmod u+w "$second"; printf 'XXXXXXXXXXXXXXXX' | dd of="$second" bs=1 seek=$(( $(stat -c %s "$second") / 2 )) conv=notrunc 2> /dev/null
seed_run "$T/s3.out"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s3.out"
[ "$(archives seed)" = "${first%.*}.$SEED" ] || fail "the damaged archive was not replaced: $(archives seed)"

# the next run adopts the good one and maps it
seed_run "$T/s4.out"
grep -q "cds-seed-.*\.jsa$" "/proc/$SEED/maps" || fail "the run does not map the archive"
[ "$(archives seed)" = "${first%.*}" ] || fail "the archive was not adopted: $(archives seed)"
kill -9 "$SEED"; wait "$SEED" 2>/dev/null || true  # kill -9 reaches the JVM: no JVM left behind
! kill -0 "$SEED" 2>/dev/null || fail "kill -9 of the command left its JVM"
no_jvm_messages "$T/s4.out"

# another jar: a new archive under a new key, the old one removed
touch -d '2001-01-01' "$T/cowherd.jar"
seed_run "$T/s5.out"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s5.out"
now=$(archives seed)
[ "$(wc -l <<< "$now")" = 1 ] && [ "${now%.*}" != "${first%.*}" ] || fail "after the jar changed: '$now'"

# first runs that started together each wrote one (archive.PID): a later run adopts one and drops
# the others whose writers have ended, also once the archive is in place; a writer's still running is kept
true & dead1=$!; true & dead2=$!; true & dead3=$!; wait "$dead1" "$dead2" "$dead3" || true
dir=$XDG_CACHE_HOME/cowherd
cp "$dir/$now" "$dir/${now%.*}.$dead1"; cp "$dir/$now" "$dir/${now%.*}.$dead2"; cp "$dir/$now" "$dir/${now%.*}.$$"
seed_run "$T/s6.out"
kill "$SEED"; wait "$SEED" || true
[ "$(archives seed | tr '\n' ' ')" = "${now%.*} ${now%.*}.$$ " ] || fail "after runs that started together: $(archives seed)"
cp "$dir/${now%.*}" "$dir/${now%.*}.$dead3"
seed_run "$T/s7.out"
kill "$SEED"; wait "$SEED" || true
[ "$(archives seed | tr '\n' ' ')" = "${now%.*} ${now%.*}.$$ " ] || fail "a late one was not dropped: $(archives seed)"

# launchers that start together find the same ended writers' archives: one adopts one, the others say nothing
key=${now%.*}; key=${key#cds-seed-}; key=${key%.jsa}
for k in 1 2 3; do true & d=$!; wait "$d"; cp "$dir/${now%.*}" "$dir/cds-fetch-$key.jsa.$d"; done
pids=(); for k in 1 2 3 4; do "$C" fetch "$T/nosuch.torrent" --into "$T/n$k" > "$T/n$k.out" 2> "$T/n$k.err" & pids+=($!); done
wait "${pids[@]}" || true
! grep -h "mv:\|rm:\|cannot stat" "$T"/n?.err || fail "a launcher that started with others complained (above)"
[ "$(archives fetch)" = "cds-fetch-$key.jsa" ] || fail "launchers started together left: $(archives fetch)"
find "$dir" -name 'cds-fetch-*' -delete

# the command's own output is untouched: a fetch of the seed's payload, then its JSON
seed_run "$T/s8.out"
"$C" fetch "$T/p.torrent" --into "$T/f" --bind 127.0.0.2 --output json > "$T/f.json" 2> "$T/f.json.err"
kill "$SEED"; wait "$SEED" || true
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/f.json" || fail "fetch --output json: $(head -c 300 "$T/f.json")"
cmp -s "$T/payload.raw" "$T/f/payload.raw" || fail "the fetched payload differs"
[[ $(archives fetch) == cds-fetch-*.jsa.* ]] || fail "the first fetch wrote no archive: $(archives fetch)"
"$C" fetch --engine nosuch "$T/p.torrent" --into "$T/g" > /dev/null 2>&1 && fail "a bad engine exited 0"
echo "launcher: ok (archive written on exit, checked, adopted and mapped, quietly by one of several started together; cut or damaged ones dropped; renewed for another jar; output untouched)"
