package io.cowherd.vhd;

import io.cowherd.CowIOException;
import io.cowherd.UnsupportedFeatureException;
import io.cowherd.VolumeExistsException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Writes new VHD files. Layout of a dynamic or differencing disk: footer copy (0), dynamic
 * header (512), block allocation table (1536), parent locator data (differencing only), footer.
 * Blocks are appended where the footer stands.
 */
final class VhdCreator {
    static final long HEADER_OFFSET = VhdFooter.SIZE;
    static final long TABLE_OFFSET = HEADER_OFFSET + DynamicHeader.SIZE;

    private VhdCreator() {
    }

    /** Rounds a requested size up to whole sectors and checks the 2040 GiB limit. */
    static long diskSize(Path file, long requested) {
        if (requested < 0) {
            throw new IllegalArgumentException("negative size " + requested);
        }
        long size = VhdLayout.roundUp(requested);
        if (size > VhdFooter.MAX_SIZE) {
            throw new UnsupportedFeatureException(file + ": " + requested + " bytes is more than a VHD can hold ("
                    + VhdFooter.MAX_SIZE + " bytes, 2040 GiB); use qcow2 for larger disks");
        }
        return size;
    }

    static void createFixed(Path file, long requested) {
        long size = diskSize(file, requested);
        VhdFooter f = VhdFooter.create(VhdFooter.TYPE_FIXED, size, VhdFooter.NO_DATA_OFFSET);
        // Sparse: the data area is a hole that reads as zeros; only the footer is written.
        writeNew(file, f.toBytes(), size);
    }

    static void createDynamic(Path file, long requested, int blockSize) {
        long size = diskSize(file, requested);
        checkBlockSize(file, blockSize);
        DynamicHeader h = DynamicHeader.create(TABLE_OFFSET, size, blockSize);
        VhdFooter f = VhdFooter.create(VhdFooter.TYPE_DYNAMIC, size, HEADER_OFFSET);
        writeNew(file, layout(f, h, new byte[0]), 0);
    }

    static void checkBlockSize(Path file, long blockSize) {
        if (!DynamicHeader.validBlockSize(blockSize)) {
            throw new UnsupportedFeatureException(file + ": block_size " + blockSize + " is not a power of two "
                    + "between 512 and " + DynamicHeader.MAX_BLOCK_SIZE);
        }
    }

    /**
     * A differencing disk, made once per directory and stamped per file with a fresh unique id:
     * header with the parent's unique id, timestamp and name, locators W2ru (relative) and W2ku
     * (absolute), and an empty table.
     */
    static final class Differencing {
        private final VhdFooter footer;
        private final byte[] headerAndRest;

        Differencing(long size, VhdFooter parentFooter, String relative, Path absolute, int blockSize) {
            DynamicHeader h = DynamicHeader.create(TABLE_OFFSET, size, blockSize);
            h.parentUuid = parentFooter.uniqueId.clone();
            h.parentTimestamp = parentFooter.timestamp;
            h.parentName = relative;
            byte[] w2ru = ParentLocator.encode(ParentLocator.W2RU, ".\\" + relative.replace('/', '\\'));
            byte[] w2ku = ParentLocator.encode(ParentLocator.W2KU, absolute.toString().replace('/', '\\'));
            long tableEnd = TABLE_OFFSET + VhdLayout.tableBytes(h.maxTableEntries);
            long w2ruAt = tableEnd;
            long w2kuAt = w2ruAt + VhdLayout.roundUp(Math.max(1, w2ru.length));
            long end = w2kuAt + VhdLayout.roundUp(Math.max(1, w2ku.length));
            h.locators[0] = new ParentLocator(ParentLocator.W2RU,
                    (int) (VhdLayout.roundUp(Math.max(1, w2ru.length)) / VhdLayout.SECTOR), w2ru.length, w2ruAt);
            h.locators[1] = new ParentLocator(ParentLocator.W2KU,
                    (int) (VhdLayout.roundUp(Math.max(1, w2ku.length)) / VhdLayout.SECTOR), w2ku.length, w2kuAt);
            ByteBuffer locatorData = ByteBuffer.allocate((int) (end - tableEnd));
            locatorData.put(w2ru);
            locatorData.position((int) (w2kuAt - tableEnd));
            locatorData.put(w2ku);
            this.footer = VhdFooter.create(VhdFooter.TYPE_DIFFERENCING, size, HEADER_OFFSET);
            this.footer.originalSize = parentFooter.currentSize;
            this.headerAndRest = layout(footer, h, locatorData.array());
        }

        void writeTo(Path file) {
            footer.uniqueId = VhdFooter.uuidBytes(UUID.randomUUID());
            footer.timestamp = VhdFooter.now();
            byte[] f = footer.toBytes();
            byte[] bytes = headerAndRest.clone();
            System.arraycopy(f, 0, bytes, 0, VhdFooter.SIZE);
            System.arraycopy(f, 0, bytes, bytes.length - VhdFooter.SIZE, VhdFooter.SIZE);
            writeNew(file, bytes, 0);
        }
    }

    /** Footer copy, header, table, {@code locatorData}, footer, as one byte array. */
    static byte[] layout(VhdFooter f, DynamicHeader h, byte[] locatorData) {
        byte[] footer = f.toBytes();
        byte[] table = BlockAllocationTable.emptyBytes(h.maxTableEntries);
        ByteBuffer b = ByteBuffer.allocate(VhdFooter.SIZE + DynamicHeader.SIZE + table.length + locatorData.length
                + VhdFooter.SIZE);
        b.put(footer).put(h.toBytes()).put(table).put(locatorData).put(footer);
        return b.array();
    }

    /** Creates {@code file} (never overwriting) holding {@code bytes} at {@code at}, zeros before. */
    private static void writeNew(Path file, byte[] bytes, long at) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            long pos = at;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
        } catch (FileAlreadyExistsException e) {
            throw new VolumeExistsException(file + " already exists; not overwriting it");
        } catch (IOException e) {
            throw CowIOException.wrap(file, "creating", e);
        }
    }
}
