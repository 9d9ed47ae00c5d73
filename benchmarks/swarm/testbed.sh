#!/usr/bin/env bash
# testbed.sh - cowherd's own multi-host testbed: host 0 (the seed, a management server) and
# hosts 1..N (virtualization hosts), each a network namespace with one veth into a bridge that
# sits in a namespace of its own. No interface is added to the root namespace and no namespace
# has a default route, so no packet leaves the machine. Each host's uplink and downlink are
# shaped with an HTB class (the rate) over a short pfifo.
#
#   testbed.sh up N RATE          e.g. testbed.sh up 8 100mbit
#   testbed.sh exec I CMD...      run CMD inside host I
#   testbed.sh addr I             host I's address
#   testbed.sh down N
# Env: TB_PREFIX (namespace prefix, default cwh), TB_NET (first three octets, default 10.78.0).
set -euo pipefail
P=${TB_PREFIX:-cwh}; NET=${TB_NET:-10.78.0}; BR=${P}br

limit() {  # limit NAMESPACE DEVICE RATE
  tc -n "$1" qdisc replace dev "$2" root handle 1: htb default 1 r2q 100
  tc -n "$1" class replace dev "$2" parent 1: classid 1:1 htb rate "$3" ceil "$3" burst 32k cburst 32k
  tc -n "$1" qdisc replace dev "$2" parent 1:1 handle 2: pfifo limit 300
}

case "${1:-}" in
  up)
    n=${2:-8}; rate=${3:-100mbit}
    ip netns add "$BR"
    ip -n "$BR" link set lo up
    ip -n "$BR" link add br0 type bridge stp_state 0 forward_delay 0
    ip -n "$BR" link set br0 up
    for i in $(seq 0 "$n"); do
      ip netns add "$P$i"
      ip -n "$P$i" link set lo up
      ip netns exec "$P$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
      ip -n "$BR" link add "p$i" type veth peer name eth0 netns "$P$i"
      ip -n "$BR" link set "p$i" master br0 up
      ip -n "$P$i" addr add "$NET.$((i + 1))/24" dev eth0
      ip -n "$P$i" link set eth0 up
      limit "$P$i" eth0 "$rate"   # uplink
      limit "$BR" "p$i" "$rate"   # downlink
    done
    echo "testbed: hosts ${P}0..$P$n on $NET.0/24 at $rate each way" ;;
  exec) i=$2; shift 2; exec ip netns exec "$P$i" "$@" ;;
  addr) echo "$NET.$(($2 + 1))" ;;
  down)
    n=${2:-8}
    for i in $(seq 0 "$n"); do ip netns del "$P$i" 2>/dev/null || true; done
    ip netns del "$BR" 2>/dev/null || true ;;
  *) sed -n '2,14p' "$0"; exit 1 ;;
esac
