package io.cowherd.distribution.torrent;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Sessions, trackers and the like that a test opened, closed after the test (after its own
 * {@code @AfterEach} methods), newest first; one that fails to close does not keep the others
 * open. Register with {@code @RegisterExtension}.
 */
public final class OpenResources implements AfterEachCallback {
    private final List<AutoCloseable> open = new ArrayList<>();

    /** Closes {@code resource} after the test; returns it. */
    public <T extends AutoCloseable> T keep(T resource) {
        open.add(resource);
        return resource;
    }

    @Override
    public void afterEach(ExtensionContext context) {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // keep closing the others
            }
        }
        open.clear();
    }
}
