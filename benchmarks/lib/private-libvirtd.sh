# A private libvirtd for benchmark scripts (sourced): the shell form of core's test helper
# PrivateLibvirtd. Its configuration, state, logs and socket live under a scratch directory, bound
# over /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt in a
# mount namespace of its own, so the host's libvirt (its domains, networks, autostart) is never
# touched; /dev/kvm is hidden (TCG, as on CI). Needs root.
#
#   private_libvirtd_start DIR   starts it under DIR; sets LVD_PID, LVD_DIR and URI
#   private_libvirtd_stop        destroys and undefines its domains, kills any QEMU it left, stops it
#   private_libvirtd_cleanup     for `trap private_libvirtd_cleanup EXIT`: stops it, then removes the
#                                scratch directory $WORK (kept with KEEP=1), keeping the exit code
#
# QEMU's stdout/stderr go to files (the host's virtlogd is not in the namespace).

LVD_PID=
LVD_DIR=
URI=

private_libvirtd_start() {
  local L=$1
  LVD_DIR=$L
  mkdir -p "$L"/{etc,run,lib,log,cache,sock}
  cat > "$L/libvirtd.conf" <<EOF
unix_sock_dir = "$L/sock"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
log_outputs = "3:file:$L/log/libvirtd.log"
EOF
  # The host's configuration, without its domains and without autostarting anything (a network
  # would make a bridge on the host).
  cp -a /etc/libvirt/. "$L/etc"
  find "$L/etc" -path '*/autostart/*' -delete
  rm -f "$L"/etc/qemu/*.xml
  echo 'stdio_handler = "file"' >> "$L/etc/qemu.conf"
  unshare --mount --propagation private sh -c "
    mount --bind '$L/etc' /etc/libvirt &&
    mkdir -p /run/libvirt &&
    mount --bind '$L/run' /run/libvirt &&
    mount --bind '$L/lib' /var/lib/libvirt &&
    mount --bind '$L/log' /var/log/libvirt &&
    mount --bind '$L/cache' /var/cache/libvirt &&
    { [ ! -e /dev/kvm ] || mount --bind /dev/null /dev/kvm; } &&
    exec libvirtd -f '$L/libvirtd.conf' -p '$L/run/libvirtd.pid'" > "$L/log/stdout.log" 2>&1 &
  LVD_PID=$!
  URI="qemu+unix:///system?socket=$L/sock/libvirt-sock"
  for _ in $(seq 300); do
    [ -S "$L/sock/libvirt-sock" ] && virsh -c "$URI" version >/dev/null 2>&1 && break
    kill -0 "$LVD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! virsh -c "$URI" version >/dev/null 2>&1; then
    cat "$L/log/stdout.log" >&2
    return 1
  fi
}

private_libvirtd_stop() {
  if [ -n "$URI" ] && [ -n "$LVD_PID" ] && kill -0 "$LVD_PID" 2>/dev/null; then
    for d in $(virsh -c "$URI" list --all --name 2>/dev/null); do
      virsh -c "$URI" destroy "$d" >/dev/null 2>&1
      virsh -c "$URI" undefine --nvram "$d" >/dev/null 2>&1 || virsh -c "$URI" undefine "$d" >/dev/null 2>&1
    done
  fi
  # Any QEMU the daemon left behind, by the pid files in its own /run/libvirt.
  if [ -n "$LVD_DIR" ]; then
    for f in "$LVD_DIR"/run/qemu/*.pid; do
      [ -f "$f" ] || continue
      p=$(cat "$f" 2>/dev/null) && [ -n "$p" ] && kill "$p" 2>/dev/null
    done
  fi
  if [ -n "$LVD_PID" ] && kill -0 "$LVD_PID" 2>/dev/null; then
    kill "$LVD_PID"
    for _ in $(seq 200); do kill -0 "$LVD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$LVD_PID" 2>/dev/null && kill -9 "$LVD_PID"
    wait "$LVD_PID" 2>/dev/null
  fi
  LVD_PID=
}

private_libvirtd_cleanup() {
  local rc=$?
  set +e
  private_libvirtd_stop
  if [ -n "${WORK:-}" ]; then
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf --one-file-system "$WORK"; fi
  fi
  exit "$rc"
}
