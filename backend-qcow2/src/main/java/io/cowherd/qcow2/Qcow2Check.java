package io.cowherd.qcow2;

import io.cowherd.internal.io.HostFile;
import io.cowherd.CowIOException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.spi.CheckReport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-img check} for qcow2: counts every reference the metadata makes (header, tables,
 * refcount blocks, snapshots, L2 tables, data and compressed clusters) and compares the counts
 * with the stored refcounts. A stored count below the references is a corruption (a cluster
 * could be reused while in use); above is a leak (space lost, nothing else). Also reports
 * misaligned or out-of-file offsets and wrong "copied" flags, as QEMU does.
 */
final class Qcow2Check {
    /** Bound on per-cluster counters, so a check stays within a small heap (4 bytes each). */
    private static final long MAX_CLUSTERS = 32L << 20;

    private final HostFile file;
    private final Qcow2Header h;
    private final RefcountTable refcounts;
    private final int cs;
    private final long fileSize;
    private final int[] references;
    private final List<String> problems = new ArrayList<>();
    private long corruptions;
    private long allocated;
    private long highestEnd;

    private Qcow2Check(HostFile file, Qcow2Header h, RefcountTable refcounts) {
        this.file = file;
        this.h = h;
        this.refcounts = refcounts;
        this.cs = h.clusterSize();
        this.fileSize = file.size();
        long clusters = (fileSize + cs - 1) / cs;
        if (clusters > MAX_CLUSTERS) {
            throw new UnsupportedFeatureException(file.path() + ": checking an image of " + clusters
                    + " clusters needs more memory than the checker allows (" + MAX_CLUSTERS + ")");
        }
        this.references = new int[(int) clusters];
    }

    static CheckReport run(Path path, boolean repairLeaks) {
        return run(path, repairLeaks, false);
    }

    /**
     * @param repairAll also raise refcounts that are too low (rebuilding an image left dirty by
     *     lazy refcounts), then clear the dirty bit
     */
    static CheckReport run(Path path, boolean repairLeaks, boolean repairAll) {
        try (HostFile file = new HostFile(path, repairLeaks || repairAll)) {
            Qcow2Header h = Qcow2Header.read(file);
            if (h.autoclearFeatures != 0 && h.version >= 3) {
                // Bitmap tables are counted by QEMU; we do not parse them yet.
                throw new UnsupportedFeatureException(path + " has autoclear features (persistent bitmaps?); "
                        + "checking such images is not supported yet");
            }
            RefcountTable refcounts = RefcountTable.read(file, h);
            CheckReport report = new Qcow2Check(file, h, refcounts).check(repairLeaks || repairAll, repairAll);
            if (repairAll && report.corruptions() == report.corruptionsFixed()
                    && (h.incompatibleFeatures & Qcow2Header.INCOMPAT_DIRTY) != 0) {
                // Refcounts are right again: the image is no longer dirty.
                file.force();
                file.write(ByteBuffer.allocate(8).putLong(0, h.incompatibleFeatures & ~Qcow2Header.INCOMPAT_DIRTY), 72);
                file.force();
            }
            return report;
        } catch (IOException e) {
            throw CowIOException.wrap(path, "checking", e);
        }
    }

    private CheckReport check(boolean repairLeaks, boolean repairAll) throws IOException {
        reference(0, cs, "header");
        reference(h.refcountTableOffset, (long) h.refcountTableClusters * cs, "refcount table");
        for (long block : refcounts.blockOffsets()) {
            if (block % cs != 0) {
                corrupt("refcount block offset " + block + " is not cluster-aligned");
            } else {
                reference(block, cs, "refcount block");
            }
        }
        L1Table active = L1Table.read(file, h);
        walk(active, h.l1TableOffset, true);
        if (h.nbSnapshots > 0) {
            SnapshotTable snapshots = SnapshotTable.read(file, h);
            reference(h.snapshotsOffset, snapshots.tableBytes(), "snapshot table");
            for (SnapshotTable.Snapshot s : snapshots.snapshots()) {
                L1Table l1 = L1Table.read(file, s.l1TableOffset(), s.l1Size(), cs, "snapshot " + s.id() + " L1 table");
                walk(l1, s.l1TableOffset(), false);
            }
        }
        long copiedErrorsBefore = corruptions;
        checkCopiedFlags(active);
        long copiedErrors = corruptions - copiedErrorsBefore;
        long leaks = 0;
        long fixed = 0;
        long corruptionsFixed = 0;
        List<long[]> mismatches = new ArrayList<>();
        for (int c = 0; c < references.length; c++) {
            long stored = refcounts.get((long) c * cs);
            if (stored != references[c]) {
                mismatches.add(new long[] {c, stored, references[c]});
            }
        }
        for (long[] beyond : refcounts.storedFrom(references.length)) {
            mismatches.add(new long[] {beyond[0], beyond[1], 0});
        }
        for (long[] m : mismatches) {
            long c = m[0];
            long stored = m[1];
            long expected = m[2];
            if (stored < expected) {
                corrupt("ERROR cluster " + c + " refcount=" + stored + " reference=" + expected);
                if (repairAll) {
                    refcounts.set(c * cs, expected);
                    corruptionsFixed++;
                }
            } else {
                leaks++;
                problems.add("Leaked cluster " + c + " refcount=" + stored + " reference=" + expected);
                if (repairLeaks) {
                    refcounts.set(c * cs, expected);
                    fixed++;
                }
            }
        }
        if (fixed > 0 || corruptionsFixed > 0) {
            refcounts.flush();
            file.force();
        }
        if (repairAll && corruptionsFixed > 0) {
            // Wrong "copied" flags followed from the wrong refcounts; count them fixed if they now agree.
            long before = corruptions;
            checkCopiedFlags(active);
            long stillWrong = corruptions - before;
            corruptions = before;
            corruptionsFixed += Math.max(0, copiedErrors - stillWrong);
        }
        long total = (h.size + cs - 1) / cs;
        return new CheckReport(corruptions, leaks, fixed, problems, allocated, total, highestEnd, corruptionsFixed);
    }

    private void walk(L1Table l1, long l1Offset, boolean active) {
        reference(l1Offset, (long) l1.size() * 8, active ? "L1 table" : "snapshot L1 table");
        for (int i = 0; i < l1.size(); i++) {
            long l2Offset = l1.entry(i) & L1Table.OFFSET_MASK;
            if (l2Offset == 0) {
                continue;
            }
            if (l2Offset % cs != 0 || l2Offset + cs > fileSize) {
                corrupt("L1 entry " + i + ": L2 table offset " + l2Offset + " is misaligned or beyond the end of the file");
                continue;
            }
            reference(l2Offset, cs, "L2 table");
            ByteBuffer buf = ByteBuffer.allocate(cs);
            file.readMetadata(buf, l2Offset, "L2 table");
            buf.flip();
            int step = h.extendedL2() ? 2 : 1;
            for (int j = 0; j < cs / 8; j += step) {
                long entry = buf.getLong(j * 8);
                if ((entry & Qcow2Image.L2_COMPRESSED) != 0) {
                    CompressedCluster c = CompressedCluster.of(entry, h.clusterBits);
                    reference(c.hostOffset, c.length, "compressed cluster");
                    count(active);
                    continue;
                }
                long host = entry & L1Table.OFFSET_MASK;
                if (host == 0) {
                    continue;
                }
                if (host % cs != 0) {
                    corrupt("L2 table at " + l2Offset + " entry " + j / step + ": data offset " + host + " is not cluster-aligned");
                    continue;
                }
                reference(host, cs, "data cluster");
                count(active);
            }
        }
    }

    private void count(boolean active) {
        if (active) {
            allocated++;
        }
    }

    /** QEMU's OFLAG_COPIED rule: the flag is set exactly when the stored refcount is 1. */
    private void checkCopiedFlags(L1Table active) {
        for (int i = 0; i < active.size(); i++) {
            long entry = active.entry(i);
            long l2Offset = entry & L1Table.OFFSET_MASK;
            if (l2Offset == 0 || l2Offset % cs != 0 || l2Offset + cs > fileSize) {
                continue;
            }
            boolean copied = (entry & L1Table.COPIED) != 0;
            if (copied != (refcounts.get(l2Offset) == 1)) {
                corrupt("ERROR OFLAG_COPIED L2 cluster: l1_index=" + i + " refcount=" + refcounts.get(l2Offset));
            }
            ByteBuffer buf = ByteBuffer.allocate(cs);
            file.readMetadata(buf, l2Offset, "L2 table");
            int step = h.extendedL2() ? 2 : 1;
            for (int j = 0; j < cs / 8; j += step) {
                long e = buf.getLong(j * 8);
                long host = e & L1Table.OFFSET_MASK;
                if ((e & Qcow2Image.L2_COMPRESSED) != 0 || host == 0 || host % cs != 0) {
                    continue;
                }
                boolean dataCopied = (e & Qcow2Image.L2_COPIED) != 0;
                if (dataCopied != (refcounts.get(host) == 1)) {
                    corrupt("ERROR OFLAG_COPIED data cluster: l2_entry=" + Long.toHexString(e) + " refcount="
                            + refcounts.get(host));
                }
            }
        }
    }

    /** Counts one reference to every cluster that [offset, offset+length) touches. */
    private void reference(long offset, long length, String what) {
        if (length <= 0) {
            return;
        }
        long end = offset + length;
        if (offset < 0 || end > fileSize + cs) {
            corrupt(what + " at " + offset + " (" + length + " bytes) lies beyond the end of the file (" + fileSize + ")");
            return;
        }
        highestEnd = Math.max(highestEnd, end);
        for (long c = offset / cs; c <= (end - 1) / cs; c++) {
            if (c >= references.length) {
                continue; // a table may end inside its last, partly written cluster
            }
            references[(int) c]++;
        }
    }

    private void corrupt(String message) {
        corruptions++;
        problems.add(message);
    }
}
