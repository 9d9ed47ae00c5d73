package io.cowherd.internal.pool;

import io.cowherd.CorruptFileException;
import io.cowherd.CowIOException;
import io.cowherd.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pool's record of its volumes: an append-only journal of tab-separated lines, one
 * {@code +} line per volume created and one {@code -} line per volume deleted. Appending is
 * cheap (cloning a thousand volumes appends a thousand short lines), and a crash can at worst
 * cut the last line short, which replay ignores. Only read or written under the pool's lock.
 *
 * <pre>
 * cowherd-pool 1
 * +	name	MASTER|CLONE	master-or-dash	file-name	format
 * -	name
 * </pre>
 *
 * <p>Public so that pools which are not plain directories of images (device-mapper snapshots)
 * keep the same record.
 */
public final class PoolRecords {
    static final String HEADER = "cowherd-pool 1";
    /** Rewrite the journal once it holds this many more lines than live volumes. */
    private static final int COMPACT_SLACK = 4096;

    private final Path journal;
    private final Path directory;

    /** The journal {@code journal}; recorded file names resolve against {@code directory}. */
    public PoolRecords(Path journal, Path directory) {
        this.journal = journal;
        this.directory = directory;
    }

    /** What was replayed last: which file (inode), how far, with what result. */
    private Object cachedFileKey;
    private long cachedLength;
    private int cachedLines;
    private final Map<String, Volume> cached = new LinkedHashMap<>();

    /**
     * The journal replayed: live volumes by name, in creation order (a copy the caller may
     * change). Only lines appended since the last call are parsed, unless the journal was
     * replaced (compaction) or cut (a torn last line), when it is read again from the start.
     */
    public synchronized Map<String, Volume> load() {
        if (!Files.exists(journal)) {
            forget();
            return new LinkedHashMap<>();
        }
        try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.READ)) {
            Object key = Files.readAttributes(journal, BasicFileAttributes.class).fileKey();
            long size = ch.size();
            if (key == null || !key.equals(cachedFileKey) || size < cachedLength) {
                forget();
                cachedFileKey = key;
            }
            if (size > cachedLength) {
                ByteBuffer tail = ByteBuffer.allocate((int) Math.min(Integer.MAX_VALUE - 8, size - cachedLength));
                while (tail.hasRemaining() && ch.read(tail, cachedLength + tail.position()) > 0) {
                    // read to the end
                }
                replay(tail.array(), tail.position());
            }
        } catch (IOException e) {
            throw CowIOException.wrap(journal, "reading the pool records", e);
        } catch (RuntimeException e) {
            forget(); // never keep a half-applied replay
            throw e;
        }
        return new LinkedHashMap<>(cached);
    }

    private void forget() {
        cachedFileKey = null;
        cachedLength = 0;
        cachedLines = 0;
        cached.clear();
    }

    /** Applies every complete line of {@code bytes[0..length)}, the journal from {@link #cachedLength} on. */
    private void replay(byte[] bytes, int length) {
        int start = 0;
        for (int i = 0; i < length; i++) {
            if (bytes[i] != '\n') {
                continue;
            }
            String line = new String(bytes, start, i - start, StandardCharsets.UTF_8);
            long offset = cachedLength;
            apply(line, offset);
            cachedLines++;
            cachedLength += i - start + 1L;
            start = i + 1;
        }
        // A line without its newline (cut short by a crash) waits: the next append cuts it away.
    }

    private void apply(String line, long offset) {
        if (cachedLines == 0) {
            if (!line.equals(HEADER)) {
                throw new CorruptFileException(journal, "header", 0, "expected '" + HEADER + "', found '" + line + "'");
            }
            return;
        }
        String[] f = line.split("\t", -1);
        if (f.length == 6 && f[0].equals("+")) {
            Volume.Role role = parseRole(f[2], offset);
            cached.put(f[1], new Volume(f[1], role, f[3].equals("-") ? null : f[3], directory.resolve(f[4]), f[5]));
        } else if (f.length == 2 && f[0].equals("-")) {
            cached.remove(f[1]);
        } else {
            throw new CorruptFileException(journal, "line " + (cachedLines + 1), offset, "unreadable record '" + line + "'");
        }
    }

    private Volume.Role parseRole(String text, long offset) {
        try {
            return Volume.Role.valueOf(text);
        } catch (IllegalArgumentException e) {
            throw new CorruptFileException(journal, "role", offset, "unknown role '" + text + "'");
        }
    }

    /** Appends records for new volumes and makes them durable. */
    public void added(List<Volume> created) {
        StringBuilder sb = new StringBuilder();
        for (Volume v : created) {
            sb.append("+\t").append(v.name()).append('\t').append(v.role()).append('\t')
                    .append(v.master() == null ? "-" : v.master()).append('\t')
                    .append(v.path().getFileName()).append('\t').append(v.format()).append('\n');
        }
        append(sb.toString());
    }

    /** Appends the record of a deletion and makes it durable. */
    public void removed(String name) {
        append("-\t" + name + "\n");
    }

    /**
     * Records that {@code volume} (already recorded under its name) changed, in one durable
     * append: replay sees either the old record or the new one, never neither.
     */
    public void replaced(Volume volume) {
        StringBuilder sb = new StringBuilder("-\t").append(volume.name()).append('\n');
        sb.append("+\t").append(volume.name()).append('\t').append(volume.role()).append('\t')
                .append(volume.master() == null ? "-" : volume.master()).append('\t')
                .append(volume.path().getFileName()).append('\t').append(volume.format()).append('\n');
        append(sb.toString());
    }

    /** Rewrites the journal with only the live volumes when deletions have bloated it. */
    public void compactIfWorthIt(Map<String, Volume> live) {
        try {
            if (!Files.exists(journal) || Files.size(journal) < 256L * (live.size() + COMPACT_SLACK)) {
                return;
            }
            Path tmp = journal.resolveSibling(journal.getFileName() + ".compact");
            StringBuilder sb = new StringBuilder(HEADER).append('\n');
            Files.writeString(tmp, sb, StandardCharsets.UTF_8);
            PoolRecords fresh = new PoolRecords(tmp, directory);
            fresh.added(new ArrayList<>(live.values()));
            Files.move(tmp, journal, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw CowIOException.wrap(journal, "compacting the pool records", e);
        }
    }

    /** Drops a last line that a crash cut short, so the next record starts on a line of its own. */
    private void cutTornLine(FileChannel ch) throws IOException {
        long size = ch.size();
        if (size == 0) {
            return;
        }
        ByteBuffer last = ByteBuffer.allocate(1);
        ch.read(last, size - 1);
        if (last.get(0) == '\n') {
            return;
        }
        byte[] all = Files.readAllBytes(journal);
        int cut = all.length - 1;
        while (cut >= 0 && all[cut] != '\n') {
            cut--;
        }
        ch.truncate(cut + 1L);
    }

    private void append(String text) {
        // Appends at the end by position (not O_APPEND, which forbids reading): the pool lock
        // makes this the only writer.
        try (FileChannel ch = FileChannel.open(journal, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            cutTornLine(ch);
            if (ch.size() == 0) {
                text = HEADER + "\n" + text;
            }
            ByteBuffer buf = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
            long at = ch.size();
            while (buf.hasRemaining()) {
                at += ch.write(buf, at);
            }
            ch.force(false);
        } catch (IOException e) {
            throw CowIOException.wrap(journal, "recording in the pool", e);
        }
    }
}
