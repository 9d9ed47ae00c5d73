# benchmarks/lib/wait.sh: waiting inside the shell, without starting a process (source it; bash 5).
# The benchmarks put many hosts on two cores, where a fork+exec costs 3-6 ms of CPU: a loop of
# `grep; sleep 0.02` per host took 10 ms every 20 ms, and eight of them asked for more CPU than the
# machine has, CPU the hosts being measured then lacked. These helpers use only builtins.

# a pipe that no one writes: read's timeout on it is a sleep without a process
exec {NAP_FD}<> <(:)

# nap SECONDS: sleep (fractions allowed)
nap() { read -r -t "$1" -u "$NAP_FD" _ || true; }

# wait_for_line FILE PATTERN [PID]: until FILE, read as it grows, has a line that matches PATTERN (a
# glob, e.g. 'serving *' or '*complete*'; tried on a line as soon as a part of it is written, so it
# must not rely on where the line ends). Status 1 if process PID has ended and FILE has no such line.
wait_for_line() {
  local file=$1 pattern=$2 pid=${3:-} fd part line=
  until [ -e "$file" ]; do
    [ -z "$pid" ] || kill -0 "$pid" 2>/dev/null || return 1
    nap 0.02
  done
  exec {fd}< "$file"
  local ended=
  while :; do
    if IFS= read -r -u "$fd" part; then
      line+=$part
      [[ $line == $pattern ]] && break
      line=
      continue
    fi
    line+=$part  # the end of what is written so far, perhaps inside a line
    [[ $line == $pattern ]] && break
    [ -z "$ended" ] || { exec {fd}<&-; return 1; }
    # once it has ended, one more pass reads what it wrote last
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then ended=1; continue; fi
    nap 0.02
  done
  exec {fd}<&-
}
