package io.cowherd.internal.pool;

import io.cowherd.CorruptFileException;
import io.cowherd.CowBackend;
import io.cowherd.CowIOException;
import io.cowherd.WrongBackendException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The file {@code .cowherd/backend} that says which backend owns a directory pool, so that a
 * command given only the pool's location (or a file in it) opens it with the right backend, and
 * no backend ever works on another's pool.
 */
public final class BackendRecord {
    /** The file's name inside the pool's {@code .cowherd/} directory. */
    public static final String FILE = "backend";

    private BackendRecord() {
    }

    /** The backend named in {@code metaDir}, if the pool has the record. */
    public static Optional<String> read(Path metaDir) {
        Path file = metaDir.resolve(FILE);
        try {
            String name = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (!name.matches("[a-z0-9][a-z0-9-]{0,63}")) {
                throw new CorruptFileException(file, "backend", 0, "unreadable backend name '" + name + "'");
            }
            return Optional.of(name);
        } catch (java.nio.file.NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            throw CowIOException.wrap(file, "reading the pool's backend", e);
        }
    }

    /**
     * Records {@code backend} as the owner of the pool in {@code metaDir}, or checks that it is
     * the owner already. A pool without the record (made by an older cowherd) is claimed when
     * the backend recognizes it or when it records no volume yet.
     *
     * @throws WrongBackendException if another backend owns the pool
     */
    public static void claim(Path metaDir, CowBackend backend) {
        Path pool = metaDir.getParent();
        Optional<String> recorded = read(metaDir);
        if (recorded.isPresent()) {
            if (!recorded.get().equals(backend.name())) {
                throw new WrongBackendException(pool, recorded.get(), backend.name());
            }
            return;
        }
        Path journal = metaDir.resolve("volumes");
        if (Files.exists(journal) && !backend.recognizes(pool)
                && !new PoolRecords(journal, pool).load().isEmpty()) {
            throw new WrongBackendException(pool, "another backend (the pool's volumes are not " + backend.volumeFormat()
                    + ")", backend.name());
        }
        Path file = metaDir.resolve(FILE);
        Path tmp = metaDir.resolve(FILE + "." + ProcessHandle.current().pid() + "." + System.nanoTime() + ".tmp");
        try {
            Files.writeString(tmp, backend.name() + "\n", StandardCharsets.UTF_8);
            try {
                Files.createLink(file, tmp); // the first process to claim the pool wins
            } catch (FileAlreadyExistsException e) {
                Files.deleteIfExists(tmp);
                claim(metaDir, backend);
                return;
            }
            Files.deleteIfExists(tmp);
        } catch (IOException e) {
            throw CowIOException.wrap(file, "recording the pool's backend", e);
        }
    }
}
