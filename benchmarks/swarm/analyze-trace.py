#!/usr/bin/env python3
"""analyze-trace.py PREFIX [SEED_ADDRESS]

Reads the traces a swarm run wrote with -Dcowherd.libtorrent.trace=PREFIX (one file per host,
PREFIX.ADDRESS; see LibtorrentTrace) and prints where the seed's upload went:

  - how much the seed sent, and how much of it was a block it had already sent (a duplicate),
    split by whether some host had already finished that piece when the duplicate left;
  - how many other hosts held the piece when a duplicate left (many: the request waited long);
  - when every block had left the seed once, and when each host finished its pieces;
  - what each host got from the seed, and the seed's rate and new-data rate per 3 s.

Example: JAVA_TOOL_OPTIONS=-Dcowherd.libtorrent.trace=/tmp/tr KINDS=libtorrent \\
         benchmarks/swarm/run-swarm-benchmark.sh 1 && benchmarks/swarm/analyze-trace.py /tmp/tr
"""
import collections
import glob
import sys

BLOCK = 16384


def main():
    prefix = sys.argv[1]
    seed_addr = sys.argv[2] if len(sys.argv) > 2 else "10.78.0.1"
    files = {f[len(prefix) + 1:]: f for f in glob.glob(prefix + ".*")}
    if seed_addr not in files:
        sys.exit("no trace %s.%s (the seed's)" % (prefix, seed_addr))
    sent = [l.split() for l in open(files[seed_addr]) if " up " in l]
    if not sent:
        sys.exit("the seed's trace has no uploads")
    have = {}  # (host, piece) -> time
    first_have = {}
    for host, f in files.items():
        if host == seed_addr:
            continue
        for line in open(f):
            x = line.split()
            if x[1] == "have":
                t, p = float(x[0]), int(x[2])
                have[(host, p)] = t
                first_have[p] = min(first_have.get(p, t), t)
    hosts = sorted(h for h in files if h != seed_addr)
    t0 = float(sent[0][0])

    times_sent = collections.Counter()
    kinds = collections.Counter()
    holders = collections.Counter()
    first_sends = []
    per_host = collections.Counter()
    rate = collections.Counter()
    new = collections.Counter()
    for x in sent:
        t, piece, block, host = float(x[0]), int(x[2]), int(x[3]), x[4]
        key = (piece, block)
        per_host[host] += 1
        rate[int((t - t0) / 3)] += 1
        if times_sent[key]:
            done = first_have.get(piece, float("inf")) < t
            kinds["piece already finished by some host" if done else "piece still in flight"] += 1
            holders[sum(1 for h in hosts if h != host and have.get((h, piece), float("inf")) < t)] += 1
        else:
            first_sends.append(t - t0)
            new[int((t - t0) / 3)] += 1
        times_sent[key] += 1

    mb = lambda blocks: blocks * BLOCK / 1e6
    print("seed sent %.1f MB: %.1f MB once, %.1f MB again" % (mb(len(sent)), mb(len(first_sends)),
                                                            mb(len(sent) - len(first_sends))))
    for k in sorted(kinds):
        print("  again, %s: %.1f MB" % (k, mb(kinds[k])))
    print("  other hosts holding the piece when a block left again: %s" % dict(sorted(holders.items())))
    n = len(first_sends)
    print("every block left the seed once by %.1f s (half by %.1f s, 90%% by %.1f s), from its first upload"
          % (first_sends[-1], first_sends[n // 2], first_sends[9 * n // 10]))
    for h in hosts:
        done = sorted(t for (host, _), t in have.items() if host == h)
        if done:
            print("  %s: %.0f MB from the seed, last piece at %.1f s" % (h, mb(per_host[h]), done[-1] - t0))
    print("seed MB/s per 3 s (all / new): " + " ".join(
        "%d:%.1f/%.1f" % (b * 3, mb(rate[b]) / 3, mb(new[b]) / 3) for b in sorted(rate)))


if __name__ == "__main__":
    main()
