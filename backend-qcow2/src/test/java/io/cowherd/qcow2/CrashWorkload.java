package io.cowherd.qcow2;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The writes a crash test makes, round by round, reproducible from a seed so the test can
 * replay exactly what the killed writer had flushed.
 */
final class CrashWorkload {
    enum Kind { WRITE, ZERO, DISCARD }

    record Op(Kind kind, long offset, int length, long dataSeed) {
        byte[] data() {
            byte[] b = new byte[length];
            new Random(dataSeed).nextBytes(b);
            return b;
        }
    }

    private CrashWorkload() {
    }

    static List<Op> round(long seed, int round, long diskSize) {
        Random r = new Random(seed * 1_000_003L + round);
        int n = 1 + r.nextInt(12);
        List<Op> ops = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int length = 1 + r.nextInt(r.nextBoolean() ? 4096 : 300_000);
            long offset = (long) (r.nextDouble() * (diskSize - length));
            int k = r.nextInt(10);
            Kind kind = k < 8 ? Kind.WRITE : k == 8 ? Kind.ZERO : Kind.DISCARD;
            ops.add(new Op(kind, offset, length, r.nextLong()));
        }
        return ops;
    }

    /** Applies a round to an in-memory copy of the disk. */
    static void apply(byte[] disk, List<Op> ops) {
        for (Op op : ops) {
            if (op.kind == Kind.WRITE) {
                System.arraycopy(op.data(), 0, disk, (int) op.offset, op.length);
            } else {
                java.util.Arrays.fill(disk, (int) op.offset, (int) op.offset + op.length, (byte) 0);
            }
        }
    }
}
