package io.cowherd.dmsnapshot;

import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code java -cp ... io.cowherd.dmsnapshot.Activate POOL_DIR...}: activates every clone of the
 * given dm-snapshot pools (what the libvirt hook runs). Exits 0, or 2 naming the failure.
 */
public final class Activate {

    private Activate() {
    }

    /** Entry point. */
    public static void main(String[] args) {
        // libvirt's hook output goes to its log: only what went wrong, as the cowherd command does.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        Logger log = LoggerFactory.getLogger(Activate.class); // after the level is set: simplelogger reads it once
        int rc = 0;
        for (String dir : args) {
            try (DmSnapshotPool pool = new DmSnapshotBackend().openPool(Path.of(dir))) {
                pool.activate();
            } catch (RuntimeException e) {
                log.error("cowherd: activating pool {} failed: {}", dir, e.getMessage());
                rc = 2;
            }
        }
        System.exit(rc);
    }
}
