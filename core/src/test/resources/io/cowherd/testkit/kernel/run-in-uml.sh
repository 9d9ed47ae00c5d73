#!/bin/bash
# run-in-uml.sh - cowherd's own copy of ../shared/testbeds/run-in-kernel.sh (so a clone of the
# project needs nothing beside it), plus xstate-shim.c: on hosts with a large XSAVE area (Intel
# AMX) UML 6.1 panics at boot ("ptrace set fp regs failed, errno = 14") without it.
# Unpacked from core's test-jar by io.cowherd.testkit.kernel.UserModeLinux (the dm-snapshot and LVM
# KernelHarnessTests); run in place by benchmarks/run-dm-snapshot-benchmark.sh and run-lvm-benchmark.sh.
#
# (original description follows) run-in-kernel.sh - run a command inside a REAL Linux kernel (Debian's User-mode Linux 6.1.x)
# that has device-mapper (snapshot, snapshot-origin, snapshot-merge, thin-pool, thin, ...),
# loop and LVM. Needs no KVM, no /dev/mapper on the host, no network, no image to build.
#
# One-time setup (root, Debian 12 "bookworm"):
#   apt-get install -y --no-install-recommends user-mode-linux kmod lvm2 thin-provisioning-tools
#   (kmod provides modprobe, used inside the guest; add e.g. openjdk-17-jdk-headless for Java)
#
# Usage:  run-in-kernel.sh [-m MEM] [-t SECONDS] [-d HOSTFILE]... [--] COMMAND [ARG...]
#         run-in-kernel.sh 'shell code; more shell code'      (a single argument runs via sh)
#   -m MEM      guest RAM (default 2G). Backed by a sparse deleted file in $TMPDIR if set, else
#               /dev/shm (Docker's default 64 MiB /dev/shm is too small: set TMPDIR=/some/dir).
#   -t SECONDS  wall-clock limit for the whole boot+run (default 600)
#   -d FILE     attach host FILE as a guest block device: 1st -> /dev/ubda, 2nd -> /dev/ubdb ...
#   RIK_VERBOSE=1 prints the guest kernel log (stderr) afterwards.
# The guest's root filesystem is the host's "/" via hostfs, READ-WRITE (same paths, binaries,
# JDK, files). The command runs as root in the caller's current directory, with the caller's
# PATH and JAVA_HOME. Guest-private: /proc /sys /dev (devtmpfs) /dev/shm /run (tmpfs), and
# /etc/lvm (bind of a throw-away dir: LVM metadata backups never touch the host's /etc/lvm).
# No udev runs: DM_DISABLE_UDEV=1 plus lvm.conf udev_sync=0/udev_rules=0, so libdevmapper and
# LVM create /dev/mapper/* and /dev/VG/LV themselves. dm + loop modules are preloaded and the
# kernel's module auto-loader points at the UML module tree (any dm target autoloads).
# Loop devices inside the guest work on host files (losetup FILE); O_DIRECT on host files
# (hostfs) does NOT work, O_DIRECT on /dev/loopN and /dev/mapper/* does.
# Output: the command's stdout+stderr stream to this script's stdout (stdin is /dev/null).
# Exit status: the command's; 124 = timeout; 125 = guest gave no status (panic, UML failed).
# Host needs: x86-64 Linux, ptrace allowed (UML runs guest processes as ptraced host processes).
set -u
MEM=2G; TMO=600; DISKS=()
while getopts "m:t:d:" o; do
  case $o in m) MEM=$OPTARG;; t) TMO=$OPTARG;; d) DISKS+=("$(readlink -f "$OPTARG")");;
             *) echo "usage: $0 [-m MEM] [-t SEC] [-d FILE]... [--] CMD [ARG...]" >&2; exit 2;; esac
done
shift $((OPTIND-1))
[ $# -ge 1 ] || { echo "$0: no command given" >&2; exit 2; }
UML=${UML:-$(command -v linux.uml || echo /usr/bin/linux)}
KVER=$(ls /usr/lib/uml/modules 2>/dev/null | sort -V | tail -n1)
[ -x "$UML" ] && [ -n "$KVER" ] || { echo "$0: apt-get install user-mode-linux" >&2; exit 125; }
command -v modprobe >/dev/null || [ -x /sbin/modprobe ] || { echo "$0: apt-get install kmod" >&2; exit 125; }

R=$(mktemp -d "${TMPDIR:-/tmp}/rik.XXXXXX") || exit 125
trap 'rm -rf "$R"' EXIT
# The XSAVE shim (see xstate-shim.c): built here, preloaded into the UML binary only.
SHIM=
if command -v cc >/dev/null; then
  cc -O2 -shared -fPIC -o "$R/xstate-shim.so" "$(dirname "$(readlink -f "$0")")/xstate-shim.c" -ldl \
    && SHIM="$R/xstate-shim.so" || echo "$0: could not build xstate-shim.so; UML may panic on AMX hosts" >&2
else
  echo "$0: no C compiler (apt-get install gcc): UML may panic on hosts with AMX" >&2
fi
# --- everything the guest needs is prepared here on the host (each guest exec costs ~0.1 s) ---
if [ $# -eq 1 ]; then printf '%s\n' "$1" > "$R/cmd"; else printf '%q ' "$@" > "$R/cmd"; echo >> "$R/cmd"; fi
{ printf 'export PATH=%q JAVA_HOME=%q HOME=%q LANG=C.UTF-8 DM_DISABLE_UDEV=1\n' \
    "$PATH" "${JAVA_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}" "${HOME:-/root}"
  printf 'cd %q || exit 126\n' "$PWD"; } > "$R/env"
mkdir -p "$R/mods/lib/modules" "$R/lvm/backup" "$R/lvm/archive"
# The host's command profiles (lvm2 ships lvmdbusd's, which cowherd's lvm shell uses) stay visible.
[ -d /etc/lvm/profile ] && cp -r /etc/lvm/profile "$R/lvm/profile"
ln -s "/usr/lib/uml/modules/$KVER" "$R/mods/lib/modules/$KVER"
printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$R/mods" > "$R/modprobe"
chmod +x "$R/modprobe"
cat > "$R/lvm/lvm.conf" <<'EOF'
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" use_devicesfile = 0 }
activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 0 monitoring = 0 }
global { use_lvmlockd = 0 use_lvmpolld = 0 event_activation = 0 thin_check_executable = "/usr/sbin/thin_check" }
backup { backup = 1 archive = 0 }
EOF
cat > "$R/fstab" <<EOF
proc   /proc     proc   defaults 0 0
sysfs  /sys      sysfs  defaults 0 0
devpts /dev/pts  devpts X-mount.mkdir 0 0
tmpfs  /dev/shm  tmpfs  X-mount.mkdir 0 0
tmpfs  /run      tmpfs  mode=755 0 0
$R/lvm /etc/lvm  none   bind 0 0
EOF
cat > "$R/init" <<EOF
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -a -T $R/fstab; echo "<2>rik: mounted" > /dev/kmsg
echo $R/modprobe > /proc/sys/kernel/modprobe
$R/modprobe -a loop dm_mod dm_snapshot dm_thin_pool dm_zero fuse
echo "<2>rik: modules loaded" > /dev/kmsg; stty -F /dev/tty1 raw -echo; echo "<2>rik: start cmd" > /dev/kmsg
( . $R/env; exec sh $R/cmd ) </dev/null >/dev/tty1 2>&1
echo \$? > $R/rc
sync
echo o > /proc/sysrq-trigger
sleep 60
EOF
chmod +x "$R/init"

UBD=(); i=0; for f in "${DISKS[@]}"; do UBD+=("ubd$i=$f"); i=$((i+1)); done
# con0 (kernel console) -> log file; con1 (= /dev/tty1 in the guest) -> fd 3 = our stdout.
# (the { } 2>/dev/null only hides bash's "Aborted" notice: UML occasionally aborts while powering off)
{ LD_PRELOAD=$SHIM timeout -k 5 "$TMO" "$UML" mem="$MEM" root=/dev/root rootfstype=hostfs rootflags=/ rw \
    init="$R/init" quiet printk.time=1 ssl=null pty.legacy_count=0 zswap.enabled=0 \
    con=null con0=null,fd:4 con1=fd:3 "${UBD[@]}" \
    3>&1 4>"$R/console.log" </dev/null >>"$R/console.log" 2>&1; } 2>/dev/null
urc=$?
[ "${RIK_VERBOSE:-0}" = 1 ] && { cat "$R/console.log"; echo "(UML exit status $urc)"; } >&2
if [ -s "$R/rc" ]; then exit "$(cat "$R/rc")"; fi
[ $urc -eq 124 ] && { echo "$0: timed out after ${TMO}s" >&2; exit 124; }
echo "$0: guest gave no exit status (UML rc=$urc); kernel log:" >&2; tail -n 40 "$R/console.log" >&2
exit 125
