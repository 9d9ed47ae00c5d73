#!/usr/bin/env bash
# Ten domains with identity from one master already on the host (issue 18's speed figures), three
# ways, measured in one run on a PRIVATE libvirtd (benchmarks/lib/private-libvirtd.sh; TCG):
#   cowherd    cowherd domain clone --domain golden --count 10 --hostname cw-%02d --cloud-init
#              (the master already a pool master: linked qcow2 clones, SMBIOS identity, one JVM)
#   virt-clone virt-clone --original golden-raw --name vc-NN --file vc-NN.raw, 10 times (full, sparse
#              copies: its default and its best; it gives no identity)
#   loop       the thesis prototype's shell loop, 10 times: qemu-img create -f qcow2 -b MASTER -F raw,
#              the source XML with the name, disk, a new MAC and an SMBIOS serial put in by sed,
#              virsh define
# And through the API (benchmarks' DefineDomains: two batches in one JVM, the second warm, as a
# management tool that embeds cowherd runs them).
# For each: the time until all 10 are defined (disks, identity, XML; not started), the time until
# all 10 run (cowherd: one `domain clone --start` of 10 more; the others: their define figure plus
# `virsh start` of their 10, whose share is printed), and the disk space the 10 clones use (du).
# The master: 1 GiB raw holding 300 MiB of random data (1 MiB in every 3 MiB), sparse.
# Prints ratios (virt-clone / cowherd, loop / cowherd) against the goals (>= 10x, >= 2x, defined).
#
# Usage (root, Debian 12 with libvirt-daemon-system, qemu-system-x86, qemu-utils; virtinst is
# installed with apt when missing): benchmarks/identity/run-ten-domains.sh
# Env: NO_BUILD=1 (use cli/target/cowherd.jar as it is), WORKDIR (default /var/tmp; needs ~4 GB
# free for virt-clone's copies), KEEP=1 (keep the scratch directory), COUNT (default 10).
# Takes 2 to 4 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
COWHERD=$SRC/cli/cowherd
COUNT=${COUNT:-10}
[ "$(id -u)" = 0 ] || { echo "run as root (a private libvirtd needs a mount namespace)" >&2; exit 2; }
if ! command -v virt-clone >/dev/null; then
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends virtinst >/dev/null
fi
for t in libvirtd virsh virt-clone qemu-system-x86_64 qemu-img unshare java python3 bc du; do
  command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done
now() { date +%s.%N; }
T_START=$(now)
say() { printf '[%6.1fs] %s\n' "$(echo "$(now) - $T_START" | bc)" "$*"; }
fail() { echo "FAILED: $*"; exit 1; }

# shellcheck source=../lib/private-libvirtd.sh
. "$SRC/benchmarks/lib/private-libvirtd.sh"
WORK=
trap private_libvirtd_cleanup EXIT
trap 'echo "FAILED: interrupted"; exit 130' INT TERM

jar=$SRC/cli/target/cowherd.jar
if [ "${NO_BUILD:-0}" != 1 ] && { [ ! -f "$jar" ] || [ -n "$(find "$SRC" -path '*/src/main/*' -type f -newer "$jar" \
    -not -path '*/target/*' -print -quit)" ]; }; then
  say "building the CLI"
  ./mvnw -q -B -DskipTests -pl cli,benchmarks -am package
fi
[ -f "$SRC/benchmarks/target/benchmarks.jar" ] || ./mvnw -q -B -DskipTests -pl benchmarks -am package

WORK=$(mktemp -d "${WORKDIR:-/var/tmp}/cowherd-ten.XXXXXX")
chmod 0755 "$WORK" # libvirt's QEMU (libvirt-qemu) must reach the disks
mkdir -m 0755 "$WORK/vc" "$WORK/loop"
MASTER=$WORK/master.raw
say "master: 1 GiB raw, 300 MiB of data"
python3 - "$MASTER" <<'PY'
import os, sys
with open(sys.argv[1], "wb") as f:
    f.truncate(1 << 30)
    for i in range(300):
        f.seek(i * 3 << 20)
        f.write(os.urandom(1 << 20))
PY
POOL=$WORK/pool
"$COWHERD" clone -q -f raw --into "$POOL" --name golden --count 1 --name-pattern warm-%d "$MASTER" >/dev/null
POOL_MASTER=$POOL/golden.qcow2
[ -f "$POOL_MASTER" ] || fail "no pool master at $POOL_MASTER"

private_libvirtd_start "$WORK/libvirtd" || fail "private libvirtd did not answer"
say "private libvirtd on $URI"
domain_xml() { # NAME DISK FORMAT
  cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='$3'/><source file='$2'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><mac address='52:54:00:00:00:01'/><model type='virtio'/></interface>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}
domain_xml golden "$POOL_MASTER" qcow2 > "$WORK/golden.xml"
domain_xml golden-raw "$MASTER" raw > "$WORK/golden-raw.xml"
virsh -q -c "$URI" define "$WORK/golden.xml" >/dev/null
virsh -q -c "$URI" define "$WORK/golden-raw.xml" >/dev/null

start_all() { # PREFIX: virsh start each of its COUNT domains
  for i in $(seq -f %02g 1 "$COUNT"); do virsh -q -c "$URI" start "$1-$i" >/dev/null; done
}
stop_all() { # PREFIX
  for i in $(seq -f %02g 1 "$COUNT"); do virsh -q -c "$URI" destroy "$1-$i" >/dev/null 2>&1 || true; done
}
running() { virsh -q -c "$URI" list --name | grep -c "^$1-" || true; }
defined() { virsh -q -c "$URI" list --all --name | grep -c "^$1-" || true; }
sync

# --- cowherd --------------------------------------------------------------------------------------
say "cowherd: domain clone of $COUNT (defined)"
t0=$(now)
"$COWHERD" domain clone -q --connect "$URI" --domain golden --count "$COUNT" --name-pattern 'cw-%02d' \
  --hostname 'cw-%02d' --cloud-init --pool "$POOL" > "$WORK/cw.out"
CW_DEF=$(echo "$(now) - $t0" | bc)
[ "$(defined cw)" = "$COUNT" ] || fail "cowherd defined $(defined cw) domains"
say "cowherd: domain clone of $COUNT more with --start"
t0=$(now)
"$COWHERD" domain clone -q --connect "$URI" --domain golden --count "$COUNT" --name-pattern 'cs-%02d' \
  --hostname 'cs-%02d' --cloud-init --pool "$POOL" --start > "$WORK/cs.out"
CW_RUN=$(echo "$(now) - $t0" | bc)
[ "$(running cs)" = "$COUNT" ] || fail "cowherd started $(running cs) domains"
stop_all cs
t0=$(now)
start_all cs
CW_STARTS=$(echo "$(now) - $t0" | bc) # a start of the same 10 again: QEMU's own share
stop_all cs
CW_DU=$(du -sk "$POOL"/cw-*-vda.qcow2 | awk '{s += $1} END {print s}')

# The same work through the API, as a management tool that embeds cowherd does it: JVM and
# connection already there; a first batch in a fresh JVM, a second warm.
say "cowherd API: two batches of $COUNT in one JVM (defined)"
API=$(java -XX:+UseSerialGC -cp "$SRC/benchmarks/target/benchmarks.jar" io.cowherd.benchmarks.DefineDomains "$URI" "$POOL" \
  golden "$COUNT" api 2>/dev/null)
API_FIRST=$(sed -n 's/.*batch-a \([0-9.]*\).*/\1/p' <<< "$API")
API_WARM=$(sed -n 's/.*batch-b \([0-9.]*\).*/\1/p' <<< "$API")
[ -n "$API_WARM" ] || fail "the API run printed '$API'"

# --- virt-clone -----------------------------------------------------------------------------------
say "virt-clone: $COUNT full copies (defined)"
t0=$(now)
for i in $(seq -f %02g 1 "$COUNT"); do
  virt-clone -q --connect "$URI" --original golden-raw --name "vc-$i" --file "$WORK/vc/vc-$i.raw" >/dev/null
done
sync
VC_DEF=$(echo "$(now) - $t0" | bc)
[ "$(defined vc)" = "$COUNT" ] || fail "virt-clone defined $(defined vc) domains"
t0=$(now)
start_all vc
VC_STARTS=$(echo "$(now) - $t0" | bc)
[ "$(running vc)" = "$COUNT" ] || fail "virt-clone's domains: $(running vc) running"
stop_all vc
VC_DU=$(du -sk "$WORK"/vc | awk '{print $1}')

# --- the prototype's loop -------------------------------------------------------------------------
say "loop: qemu-img create -b + sed + virsh define, $COUNT times (defined)"
t0=$(now)
for i in $(seq -f %02g 1 "$COUNT"); do
  n=lp-$i
  qemu-img create -q -f qcow2 -b "$MASTER" -F raw "$WORK/loop/$n.qcow2"
  mac=$(printf '52:54:00:%02x:%02x:%02x' $((RANDOM % 256)) $((RANDOM % 256)) $((RANDOM % 256)))
  uuid=$(cat /proc/sys/kernel/random/uuid)
  sed -e "s|<name>golden-raw</name>|<name>$n</name><uuid>$uuid</uuid><sysinfo type='smbios'><system><entry name='serial'>ds=nocloud;i=$uuid;h=$n</entry></system></sysinfo>|" \
      -e "s|<os>|<os><smbios mode='sysinfo'/>|" \
      -e "s|<driver name='qemu' type='raw'/><source file='[^']*'/>|<driver name='qemu' type='qcow2'/><source file='$WORK/loop/$n.qcow2'/>|" \
      -e "s|52:54:00:00:00:01|$mac|" "$WORK/golden-raw.xml" > "$WORK/loop/$n.xml"
  virsh -q -c "$URI" define "$WORK/loop/$n.xml" >/dev/null
done
LP_DEF=$(echo "$(now) - $t0" | bc)
[ "$(defined lp)" = "$COUNT" ] || fail "the loop defined $(defined lp) domains"
t0=$(now)
start_all lp
LP_STARTS=$(echo "$(now) - $t0" | bc)
[ "$(running lp)" = "$COUNT" ] || fail "the loop's domains: $(running lp) running"
stop_all lp
LP_DU=$(du -sk "$WORK"/loop/*.qcow2 | awk '{s += $1} END {print s}')

VC_RUN=$(echo "$VC_DEF + $VC_STARTS" | bc)
LP_RUN=$(echo "$LP_DEF + $LP_STARTS" | bc)
r() { echo "scale=2; $1 / $2" | bc; }
echo
echo "$COUNT domains with identity from a 1 GiB master (300 MiB of data), private libvirtd, TCG"
printf '%-11s %12s %12s %22s %12s\n' way "defined (s)" "running (s)" "of which starts (s)" "disk (MiB)"
printf '%-11s %12.2f %12.2f %22.2f %12.1f\n' cowherd "$CW_DEF" "$CW_RUN" "$CW_STARTS" "$(echo "scale=1; $CW_DU / 1024" | bc)"
printf '%-11s %12.2f %12.2f %22.2f %12.1f\n' virt-clone "$VC_DEF" "$VC_RUN" "$VC_STARTS" "$(echo "scale=1; $VC_DU / 1024" | bc)"
printf '%-11s %12.2f %12.2f %22.2f %12.1f\n' loop "$LP_DEF" "$LP_RUN" "$LP_STARTS" "$(echo "scale=1; $LP_DU / 1024" | bc)"
echo "(cowherd's starts: its $COUNT domains started again with virsh after the run, QEMU's share of its running figure)"
printf '%-11s %12.2f   (first batch in a fresh JVM; %.2f s warm, as in a long-running management tool)\n' "cowherd API" \
  "$API_FIRST" "$API_WARM"
echo
echo "defined: virt-clone / cowherd = $(r "$VC_DEF" "$CW_DEF")x (goal >= 10), loop / cowherd = $(r "$LP_DEF" "$CW_DEF")x (goal >= 2)"
echo "defined through the API (warm): virt-clone / API = $(r "$VC_DEF" "$API_WARM")x, loop / API = $(r "$LP_DEF" "$API_WARM")x"
echo "running: virt-clone / cowherd = $(r "$VC_RUN" "$CW_RUN")x, loop / cowherd = $(r "$LP_RUN" "$CW_RUN")x"
