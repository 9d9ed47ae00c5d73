package io.cowherd.distribution.torrent;

import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How an engine moves bytes: the knobs the benchmarks turned. The defaults ({@link #DEFAULT}) are
 * the measured best (docs/distribution.md gives the figures); each field says which engine reads
 * it, and the others ignore it. Change them for experiments, not to fix a slow swarm blind.
 *
 * @param sendBufferBytes bytes queued to send per peer connection: libtorrent's
 *     {@code send_buffer_watermark} and the initial seeder's socket send buffer. Small, so that a piece
 *     is done at its receiver, and passed on, sooner (256 MiB to 8 hosts at 100 Mbit/s: 8 MiB buffers
 *     38-44 s, 128 KiB 32-33 s; the seeder: a deep kernel buffer held the last pieces back a second)
 * @param maxOutRequests libtorrent's {@code max_out_request_queue}: blocks asked ahead from one peer
 *     (one loopback pair, 1 GiB: the default few hundred KiB in flight moved 7-15 MB/s, deeper queues 240-290)
 * @param requestQueueSeconds libtorrent's {@code request_queue_time}: how many seconds of a peer's
 *     rate to keep requested
 * @param unchokeSlots libtorrent's {@code unchoke_slots_limit}, -1 for every peer unchoked (a
 *     cooperative swarm needs no tit-for-tat: 34 s against 38-44 s)
 * @param diskThreads libtorrent's {@code aio_threads}
 * @param hashingThreads libtorrent's {@code hashing_threads}
 * @param mmapDisk libtorrent's memory-mapped disk I/O instead of POSIX reads and writes (slower here)
 * @param pieceStripes libtorrent: each fetch prefers its own stripe of pieces among equally rare ones,
 *     so that fetches hold different pieces to trade sooner
 * @param requestPipeline ttorrent: blocks of 16 KiB requested ahead from one peer
 * @param peerExchange libtorrent: peer exchange (ut_pex, BEP 11) with connected peers. Off, a fetch
 *     meets only the peers its trackers (and DHT) name, so a rack-aware tracker's answer is what it
 *     gets: with it on, each peer of another rack passes on its whole list of connected peers
 */
public record EngineTuning(int sendBufferBytes, int maxOutRequests, int requestQueueSeconds, int unchokeSlots,
        int diskThreads, int hashingThreads, boolean mmapDisk, boolean pieceStripes, int requestPipeline,
        boolean peerExchange) {

    /** The measured best. */
    public static final EngineTuning DEFAULT = new EngineTuning(128 << 10, 1500, 1, -1, 4, 2, false, true, 64, true);

    /**
     * The measured best for a fetch whose images are read while they arrive (a
     * {@link io.cowherd.distribution.stream.MasterStream}): {@link #DEFAULT} with {@code maxOutRequests}
     * 32. A read waits for a piece that another host often already holds; libtorrent puts the
     * read's request first only among those it has not sent, so behind a deep queue it waits for
     * a second of requests already sent to that host. Eight hosts reading a Debian guest's boot set
     * (the stream benchmark, 3 runs of 3 rounds each, alternating): median 19.02 s against
     * 19.78 s, 90th percentile 21.99 s against 23.50 s; the downloads took as long (75.74 s and
     * 75.80 s). Where deep queues pay, it costs: one pair on loopback, 1 GiB, 270-316 MB/s against
     * 324-337 MB/s.
     */
    public static final EngineTuning STREAMING = DEFAULT.with("maxOutRequests", "32");

    /** Checks the fields. */
    public EngineTuning {
        atLeast("sendBufferBytes", sendBufferBytes, 1024);
        atLeast("maxOutRequests", maxOutRequests, 1);
        atLeast("requestQueueSeconds", requestQueueSeconds, 1);
        atLeast("unchokeSlots", unchokeSlots, -1);
        atLeast("diskThreads", diskThreads, 1);
        atLeast("hashingThreads", hashingThreads, 1);
        atLeast("requestPipeline", requestPipeline, 1);
    }

    private static void atLeast(String field, int value, int least) {
        if (value < least) {
            throw new IllegalArgumentException("engine tuning " + field + " is at least " + least + ", not " + value);
        }
    }

    /**
     * This tuning with field {@code name} set from {@code value} (an integer, or true/false): for
     * command lines and experiments.
     *
     * @throws IllegalArgumentException naming the fields if there is no such field, or the value does not parse
     */
    public EngineTuning with(String name, String value) {
        RecordComponent[] fields = EngineTuning.class.getRecordComponents();
        Object[] values = new Object[fields.length];
        boolean found = false;
        try {
            for (int i = 0; i < fields.length; i++) {
                values[i] = fields[i].getAccessor().invoke(this);
                if (fields[i].getName().equals(name)) {
                    found = true;
                    values[i] = parse(fields[i].getType(), name, value);
                }
            }
            if (!found) {
                throw new IllegalArgumentException("no engine tuning field '" + name + "'; fields: "
                        + Arrays.stream(fields).map(RecordComponent::getName).collect(Collectors.joining(", ")));
            }
            return EngineTuning.class.getDeclaredConstructor(Arrays.stream(fields).map(RecordComponent::getType)
                    .toArray(Class<?>[]::new)).newInstance(values);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Object parse(Class<?> type, String name, String value) {
        if (type == boolean.class) {
            if (!value.equals("true") && !value.equals("false")) {
                throw new IllegalArgumentException("engine tuning " + name + " is true or false, not '" + value + "'");
            }
            return Boolean.parseBoolean(value);
        }
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("engine tuning " + name + " is an integer, not '" + value + "'");
        }
    }
}
