#!/usr/bin/env bash
# The launcher cli/cowherd and its class-data archive (AppCDS) for seed and fetch: a first run lists
# the classes it loads, the next one dumps an archive from the lists of ended runs and maps it, and
# later runs map it; --help lists nothing; a list still being written is not used; a dump cut short
# (its lock and half-written file left behind) is redone; while another launcher dumps, a run goes
# without; the files of another jar are replaced; launchers started together leave one archive and
# say nothing; the JVM's messages never reach the output; the command's PID is the JVM's (exec), so
# a kill reaches it. Runs a copy of the launcher and the built jar in a scratch directory with its
# own cache (XDG_CACHE_HOME), a seed on loopback.
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
[ -z "$(archives seed)" ] || fail "--help wrote a class list: $(archives seed)"
dir=$XDG_CACHE_HOME/cowherd
maps_archive() { grep -q "cds-$1-.*\.jsa$" "/proc/$2/maps"; }

# a first run: no archive to map; it lists the classes it loads (after SIGTERM too)
seed_run "$T/s1.out"
[ "$(tr '\0' '\n' < "/proc/$SEED/cmdline" | head -1)" != sh ] || fail "the launcher did not exec the JVM"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s1.out"
first=$(archives seed)
[[ $first == cds-seed-*.classlist."$SEED" ]] || fail "the first run wrote no class list named after its PID: '$first'"
base=${first%.classlist.*}
grep -q '^io/cowherd/cli/SeedCommand$' "$dir/$first" || fail "the list lacks the command's class"
cp "$dir/$first" "$T/list"

# the next run dumps the archive from it and maps it; the list is gone
seed_run "$T/s2.out"
maps_archive seed "$SEED" || fail "the second run does not map an archive"
[ "$(archives seed)" = "$base.jsa" ] || fail "after the dump: $(archives seed)"
# a static archive (magic 0xf00baba2), not a dynamic one (0xf00baba8): JDK 17 writes the methods a
# run's compiler had queued into a dynamic archive as queued for good (JDK-8306460)
[ "$(od -An -tx4 -N4 "$dir/$base.jsa" | tr -d ' ')" = f00baba2 ] || fail "the archive is not a static one"
kill -9 "$SEED"; wait "$SEED" 2>/dev/null || true  # kill -9 reaches the JVM: no JVM left behind
! kill -0 "$SEED" 2>/dev/null || fail "kill -9 of the command left its JVM"
no_jvm_messages "$T/s2.out"
seed_run "$T/s3.out"
maps_archive seed "$SEED" || fail "a later run does not map the archive"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s3.out"

# a dump cut short: its launcher's lock (a PID that has ended) and a half-written archive; the next run dumps again
true & dead1=$!; true & dead2=$!; wait "$dead1" "$dead2" || true
rm -f "$dir/$base.jsa"; cp "$T/list" "$dir/$base.classlist.$dead1"; echo "$dead2" > "$dir/$base.lock"
head -c 65536 /dev/urandom > "$dir/$base.dump.jsa"
seed_run "$T/s4.out"
maps_archive seed "$SEED" || fail "no archive after a dump cut short"
[ "$(archives seed)" = "$base.jsa" ] || fail "after a dump cut short: $(archives seed)"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s4.out"
! ls hs_err_pid* "$T"/hs_err_pid* > /dev/null 2>&1 || fail "a JVM crash report was left behind"

# another launcher dumps (its lock names a live process): this run maps nothing and lists nothing
rm -f "$dir/$base.jsa"; cp "$T/list" "$dir/$base.classlist.$dead1"; echo $$ > "$dir/$base.lock"
seed_run "$T/s5.out"
! maps_archive seed "$SEED" || fail "a run mapped an archive while another launcher dumped"
kill "$SEED"; wait "$SEED" || true
[ "$(archives seed | tr '\n' ' ')" = "$base.classlist.$dead1 $base.lock " ] || fail "while another dumped: $(archives seed)"
rm -f "$dir/$base.lock" "$dir/$base.classlist.$dead1"

# a list still being written (its JVM runs) is not dumped: the run lists its own
cp "$T/list" "$dir/$base.classlist.$$"
seed_run "$T/s6.out"
! maps_archive seed "$SEED" || fail "a list still being written was dumped"
kill "$SEED"; wait "$SEED" || true
[ "$(archives seed)" = "$(printf '%s\n' "$base.classlist.$$" "$base.classlist.$SEED" | sort)" ] || fail "with a list being written: $(archives seed)"
rm -f "$dir/$base.classlist.$$"
# once the archive is there, lists of runs that have ended since are removed
cp "$dir/$base.classlist.$SEED" "$dir/$base.classlist.$$"; cp "$T/list" "$dir/$base.classlist.$dead1"
seed_run "$T/s6b.out"
maps_archive seed "$SEED" || fail "no archive from the ended run's list"
kill "$SEED"; wait "$SEED" || true
cp "$T/list" "$dir/$base.classlist.$dead2"
seed_run "$T/s6c.out"
kill "$SEED"; wait "$SEED" || true
[ "$(archives seed)" = "$(printf '%s\n' "$base.classlist.$$" "$base.jsa" | sort)" ] || fail "lists left with the archive: $(archives seed)"
rm -f "$dir/$base.classlist.$$"

# another jar: its files are replaced by a new list under a new key
touch -d '2001-01-01' "$T/cowherd.jar"
seed_run "$T/s7.out"
kill "$SEED"; wait "$SEED" || true
no_jvm_messages "$T/s7.out"
now=$(archives seed)
[ "$(wc -l <<< "$now")" = 1 ] && [ "${now%.classlist.*}" != "$base" ] && [[ $now == *.classlist.$SEED ]] || fail "after the jar changed: '$now'"
rm -f "$dir/$now"

# launchers that start together find the same ended runs' lists: one dumps, the others go without, all quietly
key=${now%.classlist.*}; key=${key#cds-seed-}
for k in 1 2 3; do true & d=$!; wait "$d"; cp "$T/list" "$dir/cds-fetch-$key.classlist.$d"; done
pids=(); for k in 1 2 3 4; do "$C" fetch "$T/nosuch.torrent" --into "$T/n$k" > "$T/n$k.out" 2> "$T/n$k.out.err" & pids+=($!); done
wait "${pids[@]}" || true
! grep -h "mv:\|rm:\|cannot stat\|awk:" "$T"/n?.out.err || fail "a launcher that started with others complained (above)"
for k in 1 2 3 4; do no_jvm_messages "$T/n$k.out"; done
[ "$(archives fetch)" = "cds-fetch-$key.jsa" ] || fail "launchers started together left: $(archives fetch)"
find "$dir" -name 'cds-fetch-*' -delete

# the command's own output is untouched: a fetch of the seed's payload, then its JSON
seed_run "$T/s8.out"
"$C" fetch "$T/p.torrent" --into "$T/f" --bind 127.0.0.2 --output json > "$T/f.json" 2> "$T/f.json.err"
kill "$SEED"; wait "$SEED" || true
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/f.json" || fail "fetch --output json: $(head -c 300 "$T/f.json")"
cmp -s "$T/payload.raw" "$T/f/payload.raw" || fail "the fetched payload differs"
[[ $(archives fetch) == cds-fetch-*.classlist.* ]] || fail "the first fetch wrote no class list: $(archives fetch)"
"$C" fetch --engine nosuch "$T/p.torrent" --into "$T/g" > /dev/null 2>&1 && fail "a bad engine exited 0"
echo "launcher: ok (classes listed, dumped once from ended runs' lists, checked and mapped; a cut dump redone; no list in use dumped; one dump among launchers started together, quietly; renewed for another jar; output untouched)"
