#!/usr/bin/env bash
# The guest-identity test with real guests (issue 18): three clones of one SEALED master, made by
# cowherd's own CLI, boot as three different machines. The master is the sealed Debian 12 guest of
# scripts/build-debian-guest.sh (empty /etc/machine-id, no SSH host keys, cloud-init state cleared,
# NoCloud allowed). A golden domain XML whose writable disk is that master goes to
#   cowherd domain clone --connect URI --xml golden.xml --count 3 --name-pattern clone-%d
#     --hostname web-%02d --cloud-init --seed-disk --user-script SCRIPT --pool POOL --start --output=json
# which imports the master into a qcow2 pool, makes three linked clones and defines and starts three
# domains on a PRIVATE libvirtd (its own configuration, state and socket under the scratch
# directory, in its own mount namespace, as the tests' PrivateLibvirtd does: the host's libvirt is
# not used). Each guest (TCG, 1 vCPU, 1 GiB, q35, user-mode NIC: no bridge, no traffic off the host)
# prints its identity on its serial console (a file), and the script checks:
#   - machine-ids non-empty and distinct (each also reported against its SMBIOS UUID),
#   - hostnames web-01, web-02, web-03 (set by cloud-init from the NoCloud serial; the systemd
#     credential system.hostname is delivered too, but Debian 12's systemd 252 does not read it),
#   - every SSH host key fingerprint distinct across the clones (same key types on each),
#   - DHCP client ids distinct, MACs distinct and the ones cowherd chose,
#   - SMBIOS UUIDs distinct and cowherd's clone UUIDs; SMBIOS serials ds=nocloud;i=UUID;h=HOSTNAME,
#   - cloud-init found each clone's NoCloud seed disk (label CIDATA) and ran its user script, which
#     prints the clone's name and index,
#   - the master file's sha256 unchanged, the pool master's content equal to it (qemu-img compare),
#   - each clone a qcow2 file backed by the pool master, holding only its own writes (du),
# prints a table of the identities and the timings, and ends with `VERDICT: three distinct machines`
# (exit 0) or `VERDICT: FAILED (reasons)` (exit 1). Domains, the private libvirtd and the scratch
# directory are removed on exit, also on failure or Ctrl-C (KEEP=1 keeps the scratch directory).
#
# Usage (root, Debian 12 with libvirt-daemon-system, qemu-system-x86, qemu-utils, python3):
#   benchmarks/identity/run-three-clones.sh
# Env: BOOT_TIMEOUT (s, default 420), GUEST_DISK (a sealed raw master; default: build or reuse
# scripts/build-debian-guest.sh's), NO_BUILD=1 (use cli/target/cowherd.jar as it is; otherwise it is
# built when missing or older than a source file), WORKDIR (parent of the scratch dir, default
# /var/tmp), KEEP=1.
# Takes 2.5 to 3.5 minutes on 2 cores with the guest image cached and the CLI built (two runs: 149
# and 198 s): the clone command about 5-6 s (JVM start, the master's import into the pool about
# 1 s, define and start about 1 s per clone), then the three guests boot together under TCG, 2 to
# 3 minutes (one guest alone boots in about a minute). Building the guest image first adds several minutes and ~300 MB of
# downloads.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=$PWD
COWHERD=$SRC/cli/cowherd
BOOT_TIMEOUT=${BOOT_TIMEOUT:-420}
COUNT=3
[ "$(id -u)" = 0 ] || { echo "run as root (a private libvirtd needs a mount namespace)" >&2; exit 2; }
for t in libvirtd virsh qemu-system-x86_64 qemu-img unshare java python3 jq bc sha256sum; do
  command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 2; }
done

say() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $T_START" | bc)" "$*"; }
fail() { echo "VERDICT: FAILED ($*)"; exit 1; }
T_START=$(date +%s.%N)

# shellcheck source=../lib/private-libvirtd.sh
. "$SRC/benchmarks/lib/private-libvirtd.sh"
WORK=
trap private_libvirtd_cleanup EXIT
trap 'echo "VERDICT: FAILED (interrupted)"; exit 130' INT TERM

# --- the sealed master and the CLI ------------------------------------------------------------------
if [ -n "${GUEST_DISK:-}" ]; then
  MASTER=$(readlink -f "$GUEST_DISK")
else
  say "guest image: scripts/build-debian-guest.sh (reused when cached)"
  MASTER=$(scripts/build-debian-guest.sh | tail -1)
fi
[ -f "$MASTER" ] || fail "no guest image at $MASTER"
jar=$SRC/cli/target/cowherd.jar
if [ "${NO_BUILD:-0}" != 1 ] && { [ ! -f "$jar" ] || [ -n "$(find "$SRC" -path '*/src/main/*' -type f -newer "$jar" \
    -not -path '*/target/*' -print -quit)" ]; }; then
  say "building the CLI"
  ./mvnw -q -B -DskipTests -pl cli -am package
fi
[ -f "$jar" ] || fail "no $jar"

WORK=$(mktemp -d "${WORKDIR:-/var/tmp}/cowherd-identity.XXXXXX")
chmod 0755 "$WORK" # libvirt's QEMU (libvirt-qemu) must reach the pool and the consoles
POOL=$WORK/pool
mkdir -m 0755 "$WORK/consoles"

say "master $MASTER: sha256 before"
SHA_BEFORE=$(sha256sum < "$MASTER" | cut -d' ' -f1)

# --- a private libvirtd (benchmarks/lib/private-libvirtd.sh) -----------------------------------------
private_libvirtd_start "$WORK/libvirtd" || fail "private libvirtd did not answer"
say "private libvirtd (pid $LVD_PID) on $URI"

# --- the golden domain: never defined; its writable disk is the sealed master ------------------------
cat > "$WORK/golden.xml" <<EOF
<domain type='qemu'>
  <name>golden</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v qemu-system-x86_64)</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$MASTER'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'>
      <mac address='52:54:00:00:00:01'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$WORK/consoles/golden.log'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF

# --- the clones, by cowherd's CLI ---------------------------------------------------------------------
# Each clone's NoCloud seed disk carries this script; cloud-init runs it once (runcmd) with the
# clone's name and index: the proof that cloud-init found the seed disk and read its user data.
printf '#!/bin/sh\necho "COWHERD-ID seed-script=$1/$2" > /dev/ttyS0\n' > "$WORK/seed-script.sh"
say "cowherd domain clone --count $COUNT --hostname web-%02d --cloud-init --start"
T_CLONE0=$(date +%s.%N)
set +e
COWHERD_JAVA_OPTS="-Dorg.slf4j.simpleLogger.showDateTime=true -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS" \
  "$COWHERD" domain clone --verbose --connect "$URI" --xml "$WORK/golden.xml" --count "$COUNT" \
  --name-pattern 'clone-%d' --hostname 'web-%02d' --cloud-init --seed-disk --user-script "$WORK/seed-script.sh" \
  --pool "$POOL" --start --output=json \
  > "$WORK/clone.json" 2> "$WORK/clone.log"
rc=$?
set -e
T_CLONE1=$(date +%s.%N)
if [ $rc != 0 ]; then
  cat "$WORK/clone.log" "$WORK/clone.json"
  fail "cowherd domain clone exited with $rc"
fi
say "cowherd domain clone done in $(echo "$T_CLONE1 - $T_CLONE0" | bc) s"
mapfile -t NAMES < <(python3 -c 'import json,sys; [print(d["name"]) for d in json.load(open(sys.argv[1]))]' "$WORK/clone.json")
[ ${#NAMES[@]} = "$COUNT" ] || fail "domain clone reported ${#NAMES[@]} clones, not $COUNT"
declare -A CONSOLE DISK
for n in "${NAMES[@]}"; do virsh -c "$URI" dumpxml "$n" > "$WORK/$n.xml"; done
while IFS=$'\t' read -r n console disk; do CONSOLE[$n]=$console; DISK[$n]=$disk; done < <(
  python3 - "$WORK" "${NAMES[@]}" <<'PY'
import os, sys, xml.etree.ElementTree as E
for n in sys.argv[2:]:
    d = E.parse(os.path.join(sys.argv[1], n + ".xml")).getroot()
    print("\t".join([n, d.find("devices/serial/source").get("path"), d.find("devices/disk/source").get("file")]))
PY
)
{ for n in "${NAMES[@]}"; do printf '%s\t%s\n' "$n" "$(du -k "${DISK[$n]}" | cut -f1)"; done; } > "$WORK/size-at-clone"
{ for n in "${NAMES[@]}"; do printf '%s\t%s\n' "$n" "${CONSOLE[$n]}"; done; } > "$WORK/consoles.tsv"

# --- wait for the three boots -------------------------------------------------------------------------
say "waiting for COWHERD-BOOTED on ${NAMES[*]} (at most $BOOT_TIMEOUT s)"
declare -A BOOTED
deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
while :; do
  pending=0
  for n in "${NAMES[@]}"; do
    [ -n "${BOOTED[$n]:-}" ] && continue
    if grep -qa COWHERD-BOOTED "${CONSOLE[$n]}" 2>/dev/null && grep -qa 'COWHERD-ID seed-script=' "${CONSOLE[$n]}"; then
      BOOTED[$n]=$(date +%s.%N)
      say "$n booted"
      continue
    fi
    pending=$((pending + 1))
    state=$(virsh -c "$URI" domstate "$n" 2>/dev/null || echo gone)
    if [ "$state" != running ]; then
      tail -20 "${CONSOLE[$n]}" 2>/dev/null | tr -d '\r' >&2
      fail "$n is '$state' before it booted"
    fi
  done
  [ $pending = 0 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    for n in "${NAMES[@]}"; do
      [ -n "${BOOTED[$n]:-}" ] || { echo "--- last console lines of $n:" >&2; tail -15 "${CONSOLE[$n]}" | tr -d '\r' >&2; }
    done
    fail "$pending clone(s) did not boot within $BOOT_TIMEOUT s"
  fi
  sleep 0.5
done
T_ALL=$(date +%s.%N)
{ for n in "${NAMES[@]}"; do printf '%s\t%s\n' "$n" "${BOOTED[$n]}"; done; } > "$WORK/booted"

# --- stop the guests; then the disks -------------------------------------------------------------------
sleep 2 # the clones' last writes (the identity unit has just run)
for n in "${NAMES[@]}"; do virsh -c "$URI" destroy "$n" >/dev/null; done
{ for n in "${NAMES[@]}"; do
    info=$(qemu-img info -U --output=json "${DISK[$n]}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "${DISK[$n]}" "$(du -k "${DISK[$n]}" | cut -f1)" \
      "$(stat -c %s "${DISK[$n]}")" "$(jq -r .format <<< "$info")" \
      "$(jq -r '."full-backing-filename" // ."backing-filename" // ""' <<< "$info")"
  done; } > "$WORK/sizes"
mapfile -t others < <(find "$POOL" -maxdepth 1 -name '*.qcow2' | grep -vxF -f <(printf '%s\n' "${DISK[@]}"))
[ ${#others[@]} = 1 ] || fail "expected one master in pool $POOL besides the clones, found: ${others[*]:-none}"
POOL_MASTER=${others[0]}
say "master $MASTER: sha256 after; pool master $POOL_MASTER: qemu-img compare with it"
SHA_AFTER=$(sha256sum < "$MASTER" | cut -d' ' -f1)
if qemu-img compare -U -q -f raw -F qcow2 "$MASTER" "$POOL_MASTER"; then POOL_SAME=yes; else POOL_SAME=no; fi

# --- the verdict -----------------------------------------------------------------------------------------
set +e
python3 - "$WORK" "$MASTER" "$SHA_BEFORE" "$SHA_AFTER" "$POOL_MASTER" "$POOL_SAME" "$(du -k "$MASTER" | cut -f1)" \
  "$(du -k "$POOL_MASTER" | cut -f1)" "$T_CLONE0" "$T_CLONE1" "$T_ALL" "${NAMES[@]}" <<'PY'
import datetime, json, os, re, sys
def broke(t, e, tb):
    __import__("traceback").print_exception(t, e, tb)
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(2)
sys.excepthook = broke
(work, master, sha_before, sha_after, pool_master, pool_same, master_kib, pool_master_kib,
 t0, t1, t_all), names = sys.argv[1:12], sys.argv[12:]
t0, t1, t_all = float(t0), float(t1), float(t_all)
clones = {d["name"]: d for d in json.load(open(os.path.join(work, "clone.json")))}
booted = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(work, "booted")))
at_clone = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(work, "size-at-clone")))
sizes = {l.split("\t")[0]: l.rstrip("\n").split("\t")[1:] for l in open(os.path.join(work, "sizes"))}
consoles = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(work, "consoles.tsv")))

# When cowherd's log says each clone was started (HH:mm:ss.SSS, local time, the day of t0).
day = datetime.datetime.fromtimestamp(t0).replace(hour=0, minute=0, second=0, microsecond=0)
def stamp(hms):
    s = (datetime.datetime.combine(day.date(), datetime.time.fromisoformat(hms))).timestamp()
    return s + 86400 if s < t0 - 60 else s
started, imported = {}, None
for line in open(os.path.join(work, "clone.log"), errors="replace"):
    m = re.match(r"(\d\d:\d\d:\d\d\.\d{3}) .*imported .* as master", line)
    if m:
        imported = stamp(m.group(1))
    m = re.match(r"(\d\d:\d\d:\d\d\.\d{3}) .*cloned '[^']*' into '([^']+)'", line)
    if m:
        started[m.group(2)] = stamp(m.group(1))

ids = {}
for n in names:
    facts = {}
    text = open(consoles[n], errors="replace").read() if os.path.exists(consoles[n]) else ""
    for line in text.replace("\r", "").splitlines():
        m = re.search(r"COWHERD-ID ([a-z0-9-]+)=(.*)$", line)
        if m:
            facts[m.group(1)] = m.group(2).strip()
    facts["booted"] = "COWHERD-BOOTED" in text
    ids[n] = facts

fails = []
def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        fails.append(what)
def distinct(key, pred=lambda v: bool(v)):
    vals = [ids[n].get(key, "") for n in names]
    return all(pred(v) for v in vals) and len(set(vals)) == len(vals)

want_host = {n: clones[n].get("hostname") for n in names}
key_types = sorted({k for n in names for k in ids[n] if k.startswith("ssh-host-key-")})
rows = ["machine-id", "hostname"] + key_types + ["nic", "mac", "dhcp-client-id", "ipv4", "smbios-uuid", "smbios-serial"]
def short(v, w=30):
    return v if len(v) <= w else v[: w // 2 - 1] + "…" + v[-(w - w // 2):]
def same_or_distinct(k):
    vals = [ids[n].get(k, "") for n in names]
    return "all same" if len(set(vals)) == 1 else "distinct" if len(set(vals)) == len(vals) else "REPEATED"
print()
print("%-22s" % "" + "".join("%-32s" % n for n in names) + "across clones")
for k in rows:
    print("%-22s" % k + "".join("%-32s" % short(ids[n].get(k, "(none)")) for n in names) + same_or_distinct(k))
print("%-22s" % "clone UUID (cowherd)" + "".join("%-32s" % short(clones[n]["uuid"]) for n in names))
print("%-22s" % "clone MAC (cowherd)" + "".join("%-32s" % ",".join(clones[n]["macs"]) for n in names))
print("%-22s" % "disk at clone (du)" + "".join("%-32s" % (at_clone[n] + " KiB") for n in names))
print("%-22s" % "disk after boot (du)" + "".join("%-32s" % (sizes[n][1] + " KiB") for n in names))
print("%-22s" % "disk apparent size" + "".join("%-32s" % (sizes[n][2] + " B") for n in names))
print("%-22s" % "started (s after cmd)" + "".join("%-32s" % ("%.1f" % (started[n] - t0) if n in started else "?") for n in names))
print("%-22s" % "booted (s after cmd)" + "".join("%-32s" % ("%.1f" % (float(booted[n]) - t0)) for n in names))
print("%-22s" % "boot (s after start)" + "".join("%-32s" % ("%.1f" % (float(booted[n]) - started[n]) if n in started else "?") for n in names))
print()
print("timings: domain clone (JVM, import of the master, 3 clones defined and started) %.1f s%s; all three booted %.1f s "
      "after the command began (%.1f s after it returned)" % (t1 - t0,
      " (master imported %.1f s after start)" % (imported - t0) if imported else "", t_all - t0, t_all - t1))
print("master: %s, %s KiB allocated; pool master %s (%s KiB)" % (master, master_kib, pool_master, pool_master_kib))
print()
print("checks:")
check(all(ids[n]["booted"] for n in names),
      "all %d clones booted and reported their identity" % len(names))
check(distinct("machine-id", lambda v: re.fullmatch(r"[0-9a-f]{32}", v) is not None),
      "machine-ids non-empty (32 hex digits) and distinct")
check(all(ids[n].get("hostname") == want_host[n] for n in names) and [want_host[n] for n in names] ==
      ["web-%02d" % (i + 1) for i in range(len(names))], "hostnames are " + ", ".join("web-%02d" % (i + 1) for i in range(len(names))))
fps = [ids[n][k] for n in names for k in key_types if k in ids[n]]
check(bool(key_types) and all(all(k in ids[n] for k in key_types) for n in names) and len(set(fps)) == len(fps),
      "SSH host keys: %s on every clone, all %d fingerprints distinct" % (", ".join(t[13:] for t in key_types) or "none", len(fps)))
check(distinct("dhcp-client-id"), "DHCP client ids non-empty and distinct")
check(distinct("mac") and all(ids[n].get("mac", "").lower() in [m.lower() for m in clones[n]["macs"]] for n in names),
      "MACs distinct and the ones cowherd chose")
check(distinct("smbios-uuid") and all(ids[n].get("smbios-uuid", "").lower() == clones[n]["uuid"].lower() for n in names),
      "SMBIOS UUIDs distinct and the clones' UUIDs")
check(all(ids[n].get("smbios-serial") == "ds=nocloud;i=%s;h=%s" % (clones[n]["uuid"], want_host[n]) for n in names)
      and distinct("smbios-serial"), "SMBIOS serials distinct: ds=nocloud;i=<clone UUID>;h=<hostname>")
check(all(ids[n].get("seed-script") == "%s/%s" % (n, n.rsplit("-", 1)[1]) for n in names),
      "cloud-init read each clone's seed disk (label CIDATA) and ran its user script with the clone's name and index")
check(sha_before == sha_after, "master unchanged: sha256 %s before and %s after" % (sha_before[:16], sha_after[:16]))
check(pool_same == "yes", "pool master has the master's content (qemu-img compare)")
limit = min(64 * 1024, int(pool_master_kib) // 4)
check(all(sizes[n][3] == "qcow2" and os.path.realpath(sizes[n][4] or "/") == os.path.realpath(pool_master)
          and int(sizes[n][1]) < limit for n in names),
      "each clone a qcow2 on the pool master holding only its writes (%s KiB, under %d KiB)"
      % (", ".join(sizes[n][1] for n in names), limit))
info = ["machine-id %s SMBIOS UUID" % ("=" if ids[n].get("machine-id") == clones[n]["uuid"].replace("-", "").lower() else "!=")
        for n in names]
print("  info  " + "; ".join("%s: %s" % (n, i) for n, i in zip(names, info)))
print("  info  ipv4 and nic are the same on every clone by design: each user-mode (slirp) NIC is its own private NAT")
print()
print("VERDICT: %s" % ("three distinct machines" if not fails and len(names) == 3 else
                       "%d distinct machines" % len(names) if not fails else "FAILED (" + "; ".join(fails) + ")"))
sys.exit(1 if fails else 0)
PY
rc=$?
set -e
[ $rc -le 1 ] || fail "the analysis broke (exit $rc); KEEP=1 keeps $WORK"
exit $rc
