package io.cowherd.distribution.torrent.tracker;

import io.cowherd.distribution.internal.Locality;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The peers of one torrent on the {@link EmbeddedTracker}, and the answer to an announce. With
 * locality the answer is rack-aware: every peer in the asker's rack ({@link Locality#sameRack}: the
 * same /24, or /64 for IPv6), longest common prefix first, and only {@link #FAR_PEERS} others, so a
 * host's traffic stays on its own switch and the racks still reach each other. Without locality
 * every fresh peer is equally near: a random few, as a plain tracker answers (for comparison, e.g.
 * the two-rack swarm benchmark). Never the requester itself, and only peers heard from within
 * {@link #FRESH_NANOS}.
 */
final class TrackedSwarm {
    /** Peers per answer unless the client asks for fewer (ttorrent's tracker gave 30 too). */
    static final int ANSWER_PEERS = 30;
    /** A peer not heard from for this long is left out of answers, then forgotten. */
    static final long FRESH_NANOS = 30_000_000_000L;
    /**
     * Peers outside the asker's rack in a locality answer. Few, because a fetch connects to every
     * peer it is told of and asks each for pieces, so every far peer draws traffic across the
     * racks' link (with all of them, as when the answer held up to 200 peers, 24 hosts in two racks
     * moved 10 copies of the data across it, not the 1-2 needed). Not one: two keep a rack joined to
     * the rest when one of them leaves or stalls, and a rack of k hosts so has about 4k links to
     * other racks (its own picks and theirs), plenty to carry each piece across once.
     */
    static final int FAR_PEERS = 2;

    /** One peer as it last announced; {@code idHash}: its id hashed with the swarm's salt, for {@link #farFew}. */
    record Peer(byte[] peerId, byte[] ip, int port, boolean seed, long seenNanos, long idHash) {
    }

    private final Map<String, Peer> peers = new ConcurrentHashMap<>();
    private final boolean locality;
    /** Seeds the far peers' ranks: the same asker gets the same far peers, other swarms others. */
    private final long salt = ThreadLocalRandom.current().nextLong();

    TrackedSwarm(boolean locality) {
        this.locality = locality;
    }

    /** Records an announce ({@code stopped}: the peer leaves). */
    void announce(byte[] peerId, byte[] ip, int port, boolean seed, boolean stopped, long now) {
        String key = key(peerId);
        if (stopped) {
            peers.remove(key);
        } else {
            peers.put(key, new Peer(peerId, ip, port, seed, now, hash(salt, peerId)));
        }
    }

    /** Forgets peers not heard from for twice {@link #FRESH_NANOS}. */
    void expire(long now) {
        peers.values().removeIf(p -> now - p.seenNanos() > 2 * FRESH_NANOS);
    }

    /** Fresh seeds and fresh other peers: {@code [complete, incomplete]}. */
    long[] counts(long now) {
        long seeds = 0;
        long others = 0;
        for (Peer p : peers.values()) {
            if (now - p.seenNanos() <= FRESH_NANOS) {
                if (p.seed()) {
                    seeds++;
                } else {
                    others++;
                }
            }
        }
        return new long[] {seeds, others};
    }

    /**
     * Up to {@code want} fresh peers other than {@code requesterId} for an asker at {@code from}, in
     * one pass. With locality: the peers of the asker's rack, by buckets of prefix length from the
     * longest down, at random within the last one it takes from, and up to {@link #FAR_PEERS} (at
     * most half of {@code want}) of the others, chosen by {@link #farFew}. Without: {@code want} at
     * random.
     */
    List<Peer> nearest(byte[] requesterId, byte[] from, int want, long now) {
        int rackBits = Locality.rackBits(from.length);
        List<List<Peer>> byPrefix = new ArrayList<>(Collections.nCopies(from.length * 8 + 1, null));
        int near = 0;
        List<Peer> far = new ArrayList<>();
        for (Peer p : peers.values()) {
            if (now - p.seenNanos() <= FRESH_NANOS && !Arrays.equals(p.peerId(), requesterId)) {
                int bits = locality ? Locality.commonPrefixBits(from, p.ip()) : 0;
                if (locality && (bits < rackBits || p.ip().length != from.length)) {
                    far.add(p);
                    continue;
                }
                List<Peer> bucket = byPrefix.get(bits);
                if (bucket == null) {
                    bucket = new ArrayList<>();
                    byPrefix.set(bits, bucket);
                }
                bucket.add(p);
                near++;
            }
        }
        // room for the far few even when the rack alone would fill the answer: they join the racks
        int farSlots = Math.min(far.size(), Math.min(FAR_PEERS, Math.max(want / 2, want - near)));
        List<Peer> answer = new ArrayList<>(want);
        for (int bits = byPrefix.size() - 1; bits >= 0 && answer.size() < want - farSlots; bits--) {
            List<Peer> bucket = byPrefix.get(bits);
            if (bucket != null) {
                answer.addAll(randomFew(bucket, Math.min(bucket.size(), want - farSlots - answer.size())));
            }
        }
        answer.addAll(farFew(requesterId, far, farSlots));
        return answer;
    }

    /**
     * The {@code k} of {@code far} with the lowest rank, a hash of the asker's and the peer's ids:
     * any far peer may be chosen (a seed alone in its subnet included, so someone always reaches
     * it), and the same asker gets the same ones announce after announce while they stay (random
     * ones would add up, a few new each announce, to every far peer in a minute). O(n) for small k,
     * a multiplication or two per far peer (each peer's id is hashed when it announces).
     */
    private List<Peer> farFew(byte[] requesterId, List<Peer> far, int k) {
        if (k <= 0) {
            return List.of();
        }
        long asker = hash(salt, requesterId);
        Peer[] best = new Peer[k];
        long[] rank = new long[k];
        int n = 0;
        for (Peer p : far) {
            // rotated: A's rank of B is not B's of A, so askers do not just pick each other
            long r = mix(asker ^ Long.rotateLeft(p.idHash(), 29));
            if (n < k || Long.compareUnsigned(r, rank[n - 1]) < 0) {
                int i = n < k ? n++ : n - 1;
                for (; i > 0 && Long.compareUnsigned(r, rank[i - 1]) < 0; i--) {
                    best[i] = best[i - 1];
                    rank[i] = rank[i - 1];
                }
                best[i] = p;
                rank[i] = r;
            }
        }
        return Arrays.asList(best).subList(0, n);
    }

    /** FNV-1a of {@code bytes} from {@code seed}. */
    private static long hash(long seed, byte[] bytes) {
        long h = 0xcbf29ce484222325L ^ seed;
        for (byte b : bytes) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return mix(h);
    }

    /** MurmurHash3's 64-bit finalizer: every input bit moves every output bit. */
    private static long mix(long h) {
        h = (h ^ (h >>> 33)) * 0xff51afd7ed558ccdL;
        h = (h ^ (h >>> 33)) * 0xc4ceb9fe1a85ec53L;
        return h ^ (h >>> 33);
    }

    /**
     * {@code k} of {@code bucket} chosen at random, by a Fisher-Yates shuffle of the first {@code k}
     * places only: a bucket can hold nearly every peer of a fleet, and shuffling it whole on every
     * announce cost O(n).
     */
    private static List<Peer> randomFew(List<Peer> bucket, int k) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < k; i++) {
            Collections.swap(bucket, i, random.nextInt(i, bucket.size()));
        }
        return bucket.subList(0, k);
    }

    private static String key(byte[] peerId) {
        return new String(peerId, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
