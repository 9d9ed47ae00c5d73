package io.cowherd.qcow2;

import io.cowherd.CowIOException;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Writes new, empty qcow2 v3 images (optionally with a backing file), laid out as QEMU does:
 * header, refcount table, one refcount block, L1 table. Only the few non-zero bytes are
 * written; the rest of the file is a hole. The image is built under a temporary name and
 * renamed into place, so nothing half-made ever carries the final name.
 */
final class Qcow2Creator {
    static final int DEFAULT_CLUSTER_BITS = 16;
    private static final int REFCOUNT_ORDER = 4;

    private Qcow2Creator() {
    }

    static void create(Path target, long virtualSize, String backingFile, String backingFormat) {
        create(target, virtualSize, backingFile, backingFormat, DEFAULT_CLUSTER_BITS);
    }

    static void create(Path target, long virtualSize, String backingFile, String backingFormat, int clusterBits) {
        new Layout(virtualSize, backingFile, backingFormat, clusterBits).writeTo(target);
    }

    /**
     * The bytes of a new image, computed once and written to any number of files: clones of
     * one master share the same layout, so a batch pays for the arithmetic only once.
     */
    static final class Layout {
        private final int clusterSize;
        private final ByteBuffer header;
        private final long tableOffset;
        private final long blockOffset;
        private final ByteBuffer tableEntry;
        private final ByteBuffer refcounts;
        private final long fileLength;

        Layout(long requestedSize, String backingFile, String backingFormat, int clusterBits) {
            // QEMU sees disks in whole 512-byte sectors and ignores a ragged tail; round up as qemu-img does.
            long virtualSize = (requestedSize + 511) & ~511L;
            int cs = 1 << clusterBits;
            long l1Size = Qcow2Header.l1EntriesFor(virtualSize, clusterBits, cs / 8);
            if (l1Size * 8 > Qcow2Header.MAX_L1_BYTES) {
                throw new IllegalArgumentException("virtual size " + virtualSize
                        + " needs an L1 table above QEMU's 32 MiB limit");
            }
            long l1Clusters = Math.max(1, (l1Size * 8 + cs - 1) / cs);
            long refcountsPerBlock = (long) cs * 8 / (1 << REFCOUNT_ORDER);
            // Size the refcount table to cover a fully allocated image with room for metadata.
            long coveredPerTableCluster = (cs / 8L) * refcountsPerBlock * cs;
            long worstCase = virtualSize + virtualSize / 8 + 64L * cs;
            long tableClusters = Math.max(1, (worstCase + coveredPerTableCluster - 1) / coveredPerTableCluster);

            this.clusterSize = cs;
            this.tableOffset = cs;
            this.blockOffset = tableOffset + tableClusters * cs;
            long l1Offset = blockOffset + cs;
            long usedClusters = l1Offset / cs + l1Clusters;
            if (usedClusters > refcountsPerBlock) {
                throw new IllegalArgumentException("metadata of " + usedClusters + " clusters does not fit one refcount block");
            }
            Qcow2Header h = new Qcow2Header();
            h.clusterBits = clusterBits;
            h.size = virtualSize;
            h.l1Size = (int) l1Size;
            h.l1TableOffset = l1Offset;
            h.refcountTableOffset = tableOffset;
            h.refcountTableClusters = (int) tableClusters;
            h.refcountOrder = REFCOUNT_ORDER;
            h.backingFile = backingFile;
            h.backingFormat = backingFormat;
            this.header = h.encodeV3();
            this.tableEntry = ByteBuffer.allocate(8).putLong(0, blockOffset);
            this.refcounts = ByteBuffer.allocate((int) usedClusters * 2);
            for (int i = 0; i < usedClusters; i++) {
                refcounts.putShort((short) 1);
            }
            refcounts.flip();
            // Like QEMU, the file ends right after the (all-zero) L1 table, which stays a hole.
            this.fileLength = l1Offset + Math.max(8, l1Size * 8);
        }

        /**
         * Writes a new image at {@code target}, which must not exist. On failure the file is
         * removed again; a crash midway can leave a file that no pool records, never a
         * recorded volume that is half-written (pools record a clone only after this returns).
         */
        void writeTo(Path target) {
            boolean created = false;
            try (FileChannel ch = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                created = true;
                writeFully(ch, header.duplicate(), 0);
                writeFully(ch, tableEntry.duplicate(), tableOffset);
                writeFully(ch, refcounts.duplicate(), blockOffset);
                growTo(ch, fileLength);
            } catch (FileAlreadyExistsException e) {
                throw new VolumeExistsException(target + " already exists; not overwriting it");
            } catch (IOException e) {
                if (created) {
                    deleteQuietly(target);
                }
                throw CowIOException.wrap(target, "creating", e);
            } catch (RuntimeException e) {
                if (created) {
                    deleteQuietly(target);
                }
                throw e;
            }
        }

        int clusterSize() {
            return clusterSize;
        }
    }

    /** Extends a file to {@code length}, writing one zero byte at the end; the rest stays a hole. */
    private static void growTo(FileChannel ch, long length) throws IOException {
        if (ch.size() < length) {
            writeFully(ch, ByteBuffer.allocate(1), length - 1);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            at += ch.write(b, at);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // the original error is the one to report
        }
    }
}
