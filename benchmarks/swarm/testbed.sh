#!/usr/bin/env bash
# testbed.sh - cowherd's own multi-host testbed: host 0 (the seed, a management server) and
# hosts 1..N (virtualization hosts), each a network namespace with one veth into a bridge that
# sits in a namespace of its own. No interface is added to the root namespace and no namespace
# has a default route, so no packet leaves the machine. Each host's uplink and downlink are
# shaped with an HTB class (the rate) over a short pfifo.
#
#   testbed.sh up N RATE [--racks 2 [--inter RATE2]]   e.g. testbed.sh up 8 100mbit
#   testbed.sh exec I CMD...      run CMD inside host I
#   testbed.sh addr I             host I's address (as assigned in its namespace)
#   testbed.sh rack I             host I's rack: A or B (A for every host with one rack)
#   testbed.sh inter              bytes sent over the inter-rack link so far: "A_TO_B B_TO_A"
#   testbed.sh down N
# One rack (the default): every host on one bridge, host I at NET.(I+1)/24.
# Two racks (--racks 2): two bridges (rack A: host 0 and the even hosts; rack B: the odd hosts,
# so the fetches a benchmark starts in order alternate between racks) joined by a veth pair, the
# inter-rack link, shaped each way with HTB at RATE2 (default 100mbit). All hosts share one /16
# bridged at L2 (no routing): rack A hosts at NET16.1.(I+1), rack B at NET16.2.(I+1), so the
# third octet (the /24) names the rack for the tracker's longest-prefix locality.
# Env: TB_PREFIX (namespace prefix, default cwh), TB_NET (first three octets, default 10.78.0;
# two are enough: TB_NET=10.79 puts one rack at 10.79.0.x, two racks at 10.79.1.x and 10.79.2.x).
set -euo pipefail
P=${TB_PREFIX:-cwh}; NET=${TB_NET:-10.78.0}; BR=${P}br
IFS=. read -r o1 o2 o3 _ <<< "$NET"
NET16=$o1.$o2; NET24=$o1.$o2.${o3:-0}

limit() {  # limit NAMESPACE DEVICE RATE [HTB class options]
  tc -n "$1" qdisc replace dev "$2" root handle 1: htb default 1 r2q 100
  tc -n "$1" class replace dev "$2" parent 1: classid 1:1 htb rate "$3" ceil "$3" burst 32k cburst 32k "${@:4}"
  tc -n "$1" qdisc replace dev "$2" parent 1:1 handle 2: pfifo limit 300
}

case "${1:-}" in
  up)
    n=${2:-8}; rate=${3:-100mbit}; racks=1; inter=100mbit; shift $(($# < 3 ? $# : 3))
    while [ $# -gt 0 ]; do
      case "$1" in
        --racks) racks=$2; shift 2 ;;
        --inter) inter=$2; shift 2 ;;
        *) echo "testbed.sh up: unknown option $1" >&2; exit 1 ;;
      esac
    done
    case "$racks" in 1 | 2) ;; *) echo "testbed.sh up: --racks is 1 or 2" >&2; exit 1 ;; esac
    ip netns add "$BR"
    ip -n "$BR" link set lo up
    # no IPv6 on the bridge ports: no router solicitations or MLD reports crossing the inter-rack link
    ip netns exec "$BR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$BR" link add br0 type bridge stp_state 0 forward_delay 0
    ip -n "$BR" link set br0 up
    if [ "$racks" = 2 ]; then
      ip -n "$BR" link add br1 type bridge stp_state 0 forward_delay 0
      ip -n "$BR" link set br1 up
      # the inter-rack link: what br0 sends into ab goes A->B, what br1 sends into ba goes B->A
      ip -n "$BR" link add ab type veth peer name ba
      ip -n "$BR" link set ab master br0 up
      ip -n "$BR" link set ba master br1 up
      # a quantum of its own: rate/r2q is over HTB's 200000 above 160mbit (a warning; one class shares nothing)
      limit "$BR" ab "$inter" quantum 60000
      limit "$BR" ba "$inter" quantum 60000
    fi
    for i in $(seq 0 "$n"); do
      ip netns add "$P$i"
      ip -n "$P$i" link set lo up
      ip netns exec "$P$i" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
      ip -n "$BR" link add "p$i" type veth peer name eth0 netns "$P$i"
      if [ "$racks" = 2 ] && [ $((i % 2)) = 1 ]; then
        ip -n "$BR" link set "p$i" master br1 up
        ip -n "$P$i" addr add "$NET16.2.$((i + 1))/16" dev eth0
      elif [ "$racks" = 2 ]; then
        ip -n "$BR" link set "p$i" master br0 up
        ip -n "$P$i" addr add "$NET16.1.$((i + 1))/16" dev eth0
      else
        ip -n "$BR" link set "p$i" master br0 up
        ip -n "$P$i" addr add "$NET24.$((i + 1))/24" dev eth0
      fi
      ip -n "$P$i" link set eth0 up
      limit "$P$i" eth0 "$rate"   # uplink
      limit "$BR" "p$i" "$rate"   # downlink
    done
    if [ "$racks" = 2 ]; then
      echo "testbed: hosts ${P}0..$P$n at $rate each way in two racks: A (host 0 and the even hosts, $NET16.1.0/24)" \
           "and B (the odd hosts, $NET16.2.0/24), one L2 /16 joined by an inter-rack link at $inter each way"
    else
      echo "testbed: hosts ${P}0..$P$n on $NET24.0/24 at $rate each way"
    fi ;;
  exec) i=$2; shift 2; exec ip netns exec "$P$i" "$@" ;;
  addr) ip -n "$P$2" -4 -o addr show dev eth0 | awk '{ split($4, a, "/"); print a[1]; exit }' ;;
  rack) if ip -n "$BR" link show ab > /dev/null 2>&1 && [ $(($2 % 2)) = 1 ]; then echo B; else echo A; fi ;;
  inter)
    ip -n "$BR" link show ab > /dev/null 2>&1 || { echo "testbed.sh inter: no inter-rack link (up ... --racks 2)" >&2; exit 1; }
    # tx of each end: frames (with their Ethernet, IP and TCP headers) the HTB let through to the other rack
    echo $(ip netns exec "$BR" cat /sys/class/net/ab/statistics/tx_bytes /sys/class/net/ba/statistics/tx_bytes) ;;
  down)
    n=${2:-8}
    for i in $(seq 0 "$n"); do ip netns del "$P$i" 2>/dev/null || true; done
    ip netns del "$BR" 2>/dev/null || true ;;
  *) sed -n '2,21p' "$0"; exit 1 ;;
esac
