package io.cowherd;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** Finds {@link CowBackend}s on the class path by name, like Lucene's named SPI loader. */
public final class Backends {
    private Backends() {
    }

    /** Every backend on the class path of {@code Backends}' class loader, by name. */
    public static Map<String, CowBackend> all() {
        Map<String, CowBackend> byName = new TreeMap<>();
        for (CowBackend backend : ServiceLoader.load(CowBackend.class, Backends.class.getClassLoader())) {
            CowBackend previous = byName.putIfAbsent(backend.name(), backend);
            if (previous != null && previous.getClass() != backend.getClass()) {
                throw new CowException("two backends are named '" + backend.name() + "': " + previous.getClass().getName()
                        + " and " + backend.getClass().getName() + "; remove one from the class path");
            }
        }
        return byName;
    }

    /** The names of every backend available. */
    public static List<String> names() {
        return new ArrayList<>(all().keySet());
    }

    /**
     * The backend called {@code name}.
     *
     * @throws NoSuchBackendException listing the names available when there is none
     */
    public static CowBackend byName(String name) {
        Map<String, CowBackend> all = all();
        CowBackend backend = all.get(name);
        if (backend == null) {
            throw new NoSuchBackendException(name, all.keySet());
        }
        return backend;
    }
}
