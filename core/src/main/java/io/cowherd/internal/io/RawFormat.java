package io.cowherd.internal.io;

import io.cowherd.CowIOException;
import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import io.cowherd.VolumeInfo;
import io.cowherd.VolumeExistsException;
import io.cowherd.spi.ImageFormat;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Raw images: the file is the disk. Created sparse. */
public final class RawFormat implements ImageFormat {
    /** The format's name. */
    public static final String NAME = "raw";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public boolean hasMagic(ByteBuffer head) {
        return false; // raw has no magic: it is what remains when nothing else matches
    }

    @Override
    public VolumeInfo info(Path file, ImagePolicy policy, int depth) {
        try {
            long size = Files.size(file);
            return new VolumeInfo(file.toString(), NAME, size, HostFiles.allocatedBytes(file), 0, null, null, null, null);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading", e);
        }
    }

    @Override
    public VirtualDisk open(Path file, ImagePolicy policy, boolean writable, int depth) {
        try {
            return new FileDisk(file, writable);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "opening", e);
        }
    }

    @Override
    public void create(Path file, long virtualSize) {
        try {
            Files.createFile(file);
            try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
                f.setLength(virtualSize);
            }
        } catch (FileAlreadyExistsException e) {
            throw new VolumeExistsException(file + " already exists; not overwriting it");
        } catch (IOException e) {
            throw CowIOException.wrap(file, "creating", e);
        }
    }
}
