package io.cowherd.dmsnapshot;

import io.cowherd.CowIOException;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Properties;

/**
 * How a dm-snapshot pool makes its clones, kept in the pool ({@code .cowherd/dm-snapshot.properties})
 * so every process and every activation after a reboot uses the same values.
 *
 * @param poolId random identity of the pool, part of every device's dm uuid so that cowherd
 *        recognises its own devices and never touches another pool's or program's
 * @param chunkSectors the snapshot chunk size in 512-byte sectors (a power of two, 8-1024): the unit copied
 *        on a clone's first write to it
 * @param devicePrefix prepended to a volume's name to make its device-mapper name (empty: {@code /dev/mapper/NAME})
 * @param cowPercent a new clone's COW store holds this percentage of the master's chunks (the file is
 *        sparse; the watch grows it)
 */
public record PoolSettings(String poolId, int chunkSectors, String devicePrefix, int cowPercent) {
    static final String FILE = "dm-snapshot.properties";

    /** Checks the values. */
    public PoolSettings {
        if (chunkSectors < 8 || chunkSectors > 1024 || Integer.bitCount(chunkSectors) != 1) {
            throw new IllegalArgumentException("chunk size must be a power of two between 8 and 1024 sectors, got "
                    + chunkSectors);
        }
        if (!devicePrefix.matches("[A-Za-z0-9._+-]{0,40}")) {
            throw new IllegalArgumentException("device prefix '" + devicePrefix + "' is not allowed");
        }
        checkCowPercent(cowPercent);
        if (!poolId.matches("[0-9a-f]{16}")) {
            throw new IllegalArgumentException("pool id must be 16 hex digits, got '" + poolId + "'");
        }
    }

    /**
     * Defaults: 8 KiB chunks, devices named as the volumes (no prefix; {@link #forPool} gives
     * one), COW stores starting at 10% of the master.
     */
    public static PoolSettings defaults() {
        byte[] id = new byte[8];
        new SecureRandom().nextBytes(id);
        return new PoolSettings(HexFormat.of().formatHex(id), 16, "", 10);
    }

    /**
     * Defaults for a new pool in {@code directory}: device-mapper names carry a prefix made of the
     * directory's name (up to 16 characters) and the first 8 digits of the pool id, for example
     * {@code vms-1a2b3c4d-golden}, so that two pools may each have a volume called {@code golden}.
     * (Pools made before this keep the prefix they recorded, usually none.)
     */
    public static PoolSettings forPool(Path directory) {
        PoolSettings d = defaults();
        return d.withDevicePrefix(prefixFor(directory, d.poolId()));
    }

    static String prefixFor(Path directory, String poolId) {
        Path name = directory.toAbsolutePath().normalize().getFileName();
        String base = name == null ? "pool" : name.toString().replaceAll("[^A-Za-z0-9._+-]", "_");
        base = base.replaceFirst("^[._+-]+", "");
        if (base.length() > 16) {
            base = base.substring(0, 16);
        }
        return (base.isEmpty() ? "" : base + "-") + poolId.substring(0, 8) + "-";
    }

    /** The same settings with another chunk size. */
    public PoolSettings withChunkSectors(int sectors) {
        return new PoolSettings(poolId, sectors, devicePrefix, cowPercent);
    }

    /** The same settings with another device prefix. */
    public PoolSettings withDevicePrefix(String prefix) {
        return new PoolSettings(poolId, chunkSectors, prefix, cowPercent);
    }

    /** The same settings with another initial COW size. */
    public PoolSettings withCowPercent(int percent) {
        return new PoolSettings(poolId, chunkSectors, devicePrefix, percent);
    }

    /** @throws IllegalArgumentException unless {@code cowPercent} is 1-100 */
    static void checkCowPercent(int cowPercent) {
        if (cowPercent < 1 || cowPercent > 100) {
            throw new IllegalArgumentException("a clone's copy-on-write store must be 1-100% of its master, got "
                    + cowPercent);
        }
    }

    /** Chunk size in bytes. */
    public int chunkBytes() {
        return chunkSectors * 512;
    }

    /** The settings stored in {@code metaDir}, or {@code fresh} stored there if there are none yet. */
    static PoolSettings loadOrStore(Path metaDir, PoolSettings fresh) {
        Path file = metaDir.resolve(FILE);
        try {
            if (Files.exists(file)) {
                Properties p = new Properties();
                try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                    p.load(r);
                }
                return new PoolSettings(p.getProperty("pool-id"), Integer.parseInt(p.getProperty("chunk-sectors")),
                        p.getProperty("device-prefix", ""),
                        Integer.parseInt(p.getProperty("cow-initial-percent", "10")));
            }
            Properties p = new Properties();
            p.setProperty("pool-id", fresh.poolId);
            p.setProperty("chunk-sectors", Integer.toString(fresh.chunkSectors));
            p.setProperty("device-prefix", fresh.devicePrefix);
            p.setProperty("cow-initial-percent", Integer.toString(fresh.cowPercent));
            Path tmp = metaDir.resolve(FILE + "." + ProcessHandle.current().pid() + "." + System.nanoTime() + ".tmp");
            try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                p.store(w, "cowherd dm-snapshot pool settings");
            }
            // Another process may have stored its own settings meanwhile: the first one wins.
            try {
                Files.createLink(file, tmp);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                Files.deleteIfExists(tmp);
                return loadOrStore(metaDir, fresh);
            }
            Files.deleteIfExists(tmp);
            return fresh;
        } catch (IOException | NumberFormatException | NullPointerException e) {
            throw new io.cowherd.CorruptFileException(file, "settings", 0, "unreadable pool settings: " + e);
        }
    }
}
