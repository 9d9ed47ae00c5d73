#!/usr/bin/env bash
# Streaming a master to HOSTS hosts of the namespace testbed (benchmarks/swarm/testbed.sh, links
# shaped by tc): how soon each host has read a "boot set" through a clone on `cowherd fetch --serve`
# while the master arrives, against the same reads from the local file after a full download; and
# whether serving slows the download. Host 0 seeds; in each round, one variant after another, hosts
# 1..HOSTS all start at once:
#   profile  fetch --serve of a bundle that carries the boot profile; as soon as the export is
#            served, a qcow2 clone is made on it and qemu-io replays the boot set through the clone
#   plain    the same with a bundle of the same disk without a profile (on-demand only)
#   download fetch without --serve, then qemu-io replays the boot set from the local file
#   seedkill as profile, from a seed of its own (its tracker apart) that is killed once every host
#            has read its boot set and every piece has left it once (its log says so; the hosts then
#            hold every piece between them); SEEDKILL=boots kills it as soon as the boot sets
#            are read, whatever the hosts hold. This seed is an initial seed (--initial-seeding: it
#            sends every piece once before any twice, so the hosts hold all of them between them
#            before any holds all; a plain seed sends many twice first), the boot profile first. The hosts keep serving until all have ended. Prints
#            when the seed was killed, how many hosts had the whole disk then, and what each fetch did: finish
#            byte-identical from the others, or fail after its no-peer timeout naming the pieces no
#            source had (the guests' reads of those would fail with an I/O error, never zeros)
# The boot set is a boot profile (PROFILE=FILE: one recorded from a real boot of DISK, see
# docs/nbd.md) or, without one, scattered reads of 64 KiB-1 MiB, BOOT_MIB in all, whose profile a
# first streamed run records. Prints each host's seconds and the ratios the issue asks for:
# boot set <= 0.25x download-then-read (median over hosts and rounds), <= 2x the bound for moving
# the boot set at the link rate; download with the stream <= 1.1x without.
# Usage: benchmarks/stream/run-stream-benchmark.sh [SIZE_MIB=256] [RATE=100mbit] [BOOT_MIB=24] [ROUNDS=3]
#   env: HOSTS=8; DISK=FILE (a raw disk to ship instead of SIZE_MIB random bytes); PROFILE=FILE (its
#   boot profile; its disk must be the bundle's disk.raw); VARIANTS="profile plain download"; NO_BUILD=1;
#   SEED_ARGS (added to every seed; default --initial-seeding, the best measured for streaming fleets
#   (docs/nbd.md); SEED_ARGS= for a plain seed; seedkill's seed is an initial one either way);
#   PROFILE_SEED_ARGS (added to the seed of the bundle with the profile only, e.g. --piece-size 128K, or -v for its log:
#   the download-then-read baseline keeps the plain bundle's own piece size);
#   FETCH_ARGS (added to the streamed fetches, e.g. -v); KEEP=1 keeps the work directory and its logs
#   (as root; needs qemu-utils, see scripts/install-test-peers.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-256}
RATE=${2:-100mbit}
BOOT_MIB=${3:-24}
ROUNDS=${4:-3}
HOSTS=${HOSTS:-8}
VARIANTS=${VARIANTS:-profile plain download seedkill}
SEED_ARGS=${SEED_ARGS---initial-seeding}
export TB_PREFIX=${TB_PREFIX:-cst} TB_NET=${TB_NET:-10.76.0}
TB=$PWD/benchmarks/swarm/testbed.sh
WORK=$(mktemp -d /var/tmp/cowherd-stream.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$TB" down "$HOSTS" > /dev/null 2>&1 || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
[ -n "${NO_BUILD:-}" ] || ./mvnw -q -B -DskipTests -pl cli -am package
COWHERD=$PWD/cli/cowherd
"$TB" down "$HOSTS" > /dev/null 2>&1 || true
"$TB" up "$HOSTS" "$RATE" > /dev/null
addr() { "$TB" addr "$1"; }
now() { echo "$EPOCHREALTIME"; }
# the waits below poll with builtins only (nap, wait_for_line): forks cost the hosts' CPU
source benchmarks/lib/wait.sh
# no measured run lists classes or dumps the launcher's class-data archive
source benchmarks/lib/warm-launcher.sh
warm_launcher "$COWHERD" "$WORK/warm" || exit 1

if [ -n "${DISK:-}" ]; then
  cp --sparse=always "$DISK" "$WORK/disk.raw"
else
  head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/disk.raw"
fi
SIZE=$(stat -c %s "$WORK/disk.raw")
# the boot set as qemu-io commands (one per line, read from stdin), from the profile or made up
if [ -n "${PROFILE:-}" ]; then
  cp "$PROFILE" "$WORK/boot-profile"
  awk -F'\t' 'NR > 1 { print "read -q " $2 " " $3 }' "$PROFILE" > "$WORK/reads"
else
  python3 - "$SIZE" "$BOOT_MIB" > "$WORK/reads" <<'PY'
import random, sys
size, boot = int(sys.argv[1]), int(sys.argv[2]) << 20
r = random.Random(42); total = 0
while total < boot:
    n = r.choice([64, 128, 256, 512, 1024]) << 10
    off = r.randrange(0, size - n) // 4096 * 4096
    print(f"read -q {off} {n}"); total += n
PY
fi

seed() {  # seed BUNDLE_DIR PORT TORRENT [ARGS...]
  local dir=$1 port=$2 torrent=$3; shift 3
  # shellcheck disable=SC2086 # SEED_ARGS is a list of options
  "$TB" exec 0 "$COWHERD" seed "$dir" --embedded-tracker "$(addr 0):$port" --bind "$(addr 0)" --torrent "$torrent" $SEED_ARGS --quiet "$@" \
    > "$torrent.seed.out" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 600); do [ -f "$torrent" ] && break; nap 0.1; done
}

# one_streamed I TORRENT D [ARGS...]: host I fetches with --serve; as soon as the export is served a
# qcow2 clone is made on it and qemu-io replays the boot set through the clone. Writes to D.times:
# "SERVED BOOT FULL" (seconds from the fetch's start to: served, boot set read, download complete).
one_streamed() {
  local i=$1 torrent=$2 d=$3; shift 3
  local t0 served boot full
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2086 # FETCH_ARGS is a list of options
  "$TB" exec "$i" "$COWHERD" fetch "$torrent" --into "$d" --bind "$(addr "$i")" --serve --quiet ${FETCH_ARGS:-} "$@" > "$d.out" 2>&1 &
  local fpid=$!
  wait_for_line "$d.out" 'serving disk.raw*' "$fpid" || { echo "host $i: the fetch ended before it served:" >&2; tail -3 "$d.out" >&2; exit 1; }
  served=$(echo "$EPOCHREALTIME - $t0" | bc)
  qemu-img create -q -f qcow2 -b "nbd+unix:///disk.raw?socket=$d/golden.sock" -F raw "$d.clone.qcow2" "$SIZE"
  qemu-io -f qcow2 "$d.clone.qcow2" < "$WORK/reads" > /dev/null
  boot=$(echo "$EPOCHREALTIME - $t0" | bc)
  touch "$d.booted"
  while [ ! -f "$d/golden/disk.raw" ] && kill -0 "$fpid" 2>/dev/null; do nap 0.05; done
  full=$(echo "$EPOCHREALTIME - $t0" | bc)
  touch "$d.ended"
  # HOLD=FILE: keep serving (the others may still need this host's pieces) until FILE exists
  while [ -n "${HOLD:-}" ] && [ ! -f "$HOLD" ] && kill -0 "$fpid" 2>/dev/null; do nap 0.1; done
  kill "$fpid" 2>/dev/null || { echo "host $i: the fetch ended before the download did:" >&2; tail -3 "$d.out" >&2; }
  wait "$fpid" 2>/dev/null || true
  echo "$served $boot $full" > "$d.times"
}

# one_download I TORRENT D: host I fetches, then replays the boot set from the local file. D.times: "FULL READ".
one_download() {
  local i=$1 torrent=$2 d=$3 t0 full
  t0=$EPOCHREALTIME
  "$TB" exec "$i" "$COWHERD" fetch "$torrent" --into "$d" --bind "$(addr "$i")" --quiet > "$d.out" 2>&1
  full=$(echo "$EPOCHREALTIME - $t0" | bc)
  qemu-io -r -f raw "$d/golden/disk.raw" < "$WORK/reads" > /dev/null
  echo "$full $(echo "$EPOCHREALTIME - $t0" | bc)" > "$d.times"
}

# on_all FUNCTION TORRENT TAG [ARGS...]: FUNCTION on hosts 1..HOSTS at once; checks every copy
on_all() {
  local fn=$1 torrent=$2 tag=$3; shift 3
  local pids=()
  for i in $(seq "$HOSTS"); do
    "$fn" "$i" "$torrent" "$WORK/$tag-$i" "$@" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  for i in $(seq "$HOSTS"); do
    cmp -s "$WORK/$tag-$i/golden/disk.raw" "$WORK/disk.raw" || { echo "$tag host $i: the fetched disk differs" >&2; exit 1; }
  done
}

"$COWHERD" bundle create --into "$WORK/seed/golden" -f raw "$WORK/disk.raw" > /dev/null
seed "$WORK/seed/golden" 6969 "$WORK/golden.torrent"
if [ -z "${PROFILE:-}" ]; then
  # the profile of the made-up boot set: one streamed run records its reads (written when the fetch stops)
  one_streamed 1 "$WORK/golden.torrent" "$WORK/record" --record-profile "$WORK/boot-profile"
  for _ in $(seq 100); do [ -f "$WORK/boot-profile" ] && break; nap 0.1; done
  rm -rf "$WORK/record"*
fi
"$COWHERD" bundle create --into "$WORK/seed-p/golden" -f raw --boot-profile "$WORK/boot-profile" "$WORK/disk.raw" > /dev/null
# shellcheck disable=SC2086 # PROFILE_SEED_ARGS is a list of options
seed "$WORK/seed-p/golden" 6970 "$WORK/golden-p.torrent" ${PROFILE_SEED_ARGS:-}

if [[ " $VARIANTS " == *" seedkill "* ]]; then
  # the seed to kill announces to a tracker of its own on host 0, which outlives it; a first run of it
  # writes the torrent (the same info hash every time) for the tracker to track
  ktracker="http://$(addr 0):6980/announce"
  # SEED_ARGS too (e.g. --piece-size), with --initial-seeding once
  read -ra KILL_ARGS <<< "$(sed 's/--initial-seeding//g' <<< "$SEED_ARGS") --initial-seeding"
  "$TB" exec 0 "$COWHERD" seed "$WORK/seed-p/golden" --tracker "$ktracker" --bind "$(addr 0)" --torrent "$WORK/golden-k.torrent" \
    "${KILL_ARGS[@]}" --quiet > /dev/null 2>&1 &
  kpid=$!
  for _ in $(seq 600); do [ -f "$WORK/golden-k.torrent" ] && break; nap 0.1; done
  kill "$kpid"; wait "$kpid" 2>/dev/null || true
  "$TB" exec 0 "$COWHERD" tracker "$(addr 0):6980" "$WORK/golden-k.torrent" --quiet > "$WORK/tracker.out" 2>&1 &
  PIDS+=($!)
fi
tx0() { "$TB" exec 0 cat /sys/class/net/eth0/statistics/tx_bytes; }
# all_marked ROUND WHAT: whether every host of the seedkill round has its WHAT (booted, ended) mark
all_marked() { local f n=0; for f in "$WORK/k$1"-*."$2"; do [ -e "$f" ] && n=$((n + 1)); done; [ "$n" -ge "$HOSTS" ]; }
# seedkill_round ROUND: the seedkill variant's seed, and the watcher that kills it
seedkill_round() {
  local round=$1 spid sent0
  # -v: the seed logs when every piece has left it once (and so is on some host)
  "$TB" exec 0 "$COWHERD" -v seed "$WORK/seed-p/golden" --tracker "$ktracker" --bind "$(addr 0)" --torrent "$WORK/golden-k.torrent" \
    "${KILL_ARGS[@]}" > "$WORK/seed-k$round.out" 2>&1 &
  spid=$!; PIDS+=($spid)
  # the hosts start once the seed is up and has announced (else their first announce finds no peer and
  # they wait for the tracker's next interval)
  wait_for_line "$WORK/seed-k$round.out" 'seeding *' "$spid" || { echo "the seed to kill did not start:" >&2; tail -3 "$WORK/seed-k$round.out" >&2; exit 1; }
  sleep 1
  sent0=$(tx0)
  # the seed's log says when every piece has left it once
  ( wait_for_line "$WORK/seed-k$round.out" '*every piece has left once*' "$spid" && touch "$WORK/k$round.sent" ) &
  ( t0=$(now)
    until all_marked "$round" booted; do nap 0.1; done
    booted=$(echo "$(now) - $t0" | bc | xargs printf '%.2f')
    if [ "${SEEDKILL:-held}" = held ]; then
      until [ -e "$WORK/k$round.sent" ] || all_marked "$round" ended; do nap 0.1; done
    fi
    kill "$spid"
    done_hosts=$(find "$WORK" -path "$WORK/k$round-*/golden/disk.raw" 2>/dev/null | wc -l)
    echo "round $round seedkill: boot sets read at $booted s; seed killed at $(echo "$(now) - $t0" | bc | xargs printf '%.2f') s," \
      "after sending $(( ($(tx0) - sent0) >> 20 )) MiB;" \
      "$(grep -q 'every piece has left once' "$WORK/seed-k$round.out" && echo "every piece had left it once" || echo "not every piece had left it");" \
      "$done_hosts of $HOSTS hosts had the whole disk then"
    until all_marked "$round" ended; do nap 0.2; done
    touch "$WORK/k$round.release"
  ) &
  local wpid=$! pids=()
  for i in $(seq "$HOSTS"); do
    HOLD="$WORK/k$round.release" one_streamed "$i" "$WORK/golden-k.torrent" "$WORK/k$round-$i" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  wait "$wpid" 2>/dev/null || true
  kill "$spid" 2>/dev/null || true
  for i in $(seq "$HOSTS"); do
    if cmp -s "$WORK/k$round-$i/golden/disk.raw" "$WORK/disk.raw"; then
      echo "round $round seedkill host $i: finished byte-identical"
    else
      echo "round $round seedkill host $i: did not finish: $(grep -o 'no verified piece.*' "$WORK/k$round-$i.out" | cut -c1-300)"
    fi
  done
}

for v in $VARIANTS; do : > "$WORK/$v.times"; done
for round in $(seq "$ROUNDS"); do
  for v in $VARIANTS; do
    case $v in
      profile) on_all one_streamed "$WORK/golden-p.torrent" "p$round" ;;
      plain) on_all one_streamed "$WORK/golden.torrent" "s$round" ;;
      download) on_all one_download "$WORK/golden.torrent" "f$round" ;;
      seedkill) seedkill_round "$round" ;;
    esac
    tag=$(case $v in profile) echo p ;; plain) echo s ;; download) echo f ;; seedkill) echo k ;; esac)
    for i in $(seq "$HOSTS"); do cat "$WORK/$tag$round-$i.times" >> "$WORK/$v.times"; done
    echo "round $round $v: $(for i in $(seq "$HOSTS"); do printf '[%s] ' "$(cat "$WORK/$tag$round-$i.times")"; done)"
    [ -z "${KEEP:-}" ] || { mkdir -p "$WORK/logs"; cp "$WORK/$tag$round-"*.out "$WORK/logs/"; }
    rm -rf "$WORK/$tag$round-"*
  done
done

# the figures: medians over hosts and rounds, the bound for the boot set, the ratios
# the pieces the boot set touches: in the profile bundle's torrent when there is one (a bundle
# with a boot profile gets smaller pieces), else the plain one's
torrent=$WORK/golden-p.torrent; [ -f "$torrent" ] || torrent=$WORK/golden.torrent
python3 - "$WORK" "$RATE" "$SIZE" "$HOSTS" "$ROUNDS" "$VARIANTS" "$torrent" <<'PY'
import os, re, statistics, sys
work, rate, size, hosts, rounds, variants = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6].split()
m = re.fullmatch(r"(\d+)(k|m|g)bit", rate)
bps = int(m.group(1)) * {"k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] / 8
reads = [tuple(map(int, l.split()[2:4])) for l in open(os.path.join(work, "reads"))]
# the boot set's bytes: the union of the ranges read
spans, covered, end = sorted((o, o + n) for o, n in reads), 0, -1
for a, b in spans:
    if b > end:
        covered += b - max(a, end); end = b
# the piece length the bundle's torrent chose, from its "piece length" key, and where the disk
# starts in it: after the files its list names before disk.raw (the manifest, the profile)
meta = open(sys.argv[7], "rb").read()
plen = int(re.search(rb"12:piece lengthi(\d+)e", meta).group(1))
start = 0
for f in re.finditer(rb"d6:lengthi(\d+)e4:pathl(\d+):", meta):
    if meta[f.end():f.end() + int(f.group(2))] == b"disk.raw":
        break
    start += int(f.group(1))
pieces = {p for o, n in reads for p in range((start + o) // plen, (start + o + n - 1) // plen + 1)}
bound = covered / bps
cols = {v: list(zip(*[tuple(map(float, l.split())) for l in open(os.path.join(work, v + ".times"))])) for v in variants}
med = lambda xs: statistics.median(xs)
print(f"disk {size / 2**20:.0f} MiB, {hosts} hosts, links at {rate}, median over {hosts} hosts x {rounds} rounds")
print(f"boot set: {len(reads)} reads, {covered / 2**20:.1f} MiB; bound for moving it at the link rate {bound:.2f} s; "
      f"it touches {len(pieces)} pieces of {plen >> 10} KiB ({len(pieces) * plen / 2**20:.1f} MiB, {len(pieces) * plen / bps:.2f} s)")
local = med(cols["download"][1]) if "download" in cols else None
full = med(cols["download"][0]) if "download" in cols else None
if local:
    print(f"download, then the reads from the local file: {local:.2f} s (download {full:.2f} s)")
for v, name in (("profile", "with the boot profile"), ("plain", "without a profile"),
                ("seedkill", "with the boot profile, seed killed after the boots")):
    if v not in cols:
        continue
    served, boot, fs = cols[v]
    line = f"boot set {name}: median {med(boot):.2f} s (max {max(boot):.2f}; served after {med(served):.2f} s), {med(boot) / bound:.2f}x the bound"
    if local:
        line += f", {med(boot) / local:.3f}x download-then-read"
    print(line + (" (goals: <= 0.25x, <= 2x the bound)" if v == "profile" else ""))
    if full:
        print(f"  download with the stream served {name}: {med(fs):.2f} s, {med(fs) / full:.3f}x without (goal <= 1.1)")
PY
