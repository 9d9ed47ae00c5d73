package io.cowherd.cli;

import java.util.Map;

/**
 * Library messages speak of the Java API (an embedding program has no flags); the command line
 * says the same in its own terms before it prints them.
 */
final class ApiTerms {
    /** API terms that library messages use, and the flags that mean the same here. */
    private static final Map<String, String> FLAGS = Map.ofEntries(
            Map.entry("(NameConflict.SKIP)", "(--skip-taken)"),
            Map.entry("(DomainCloneOptions.Builder.master)", "(--master [DEV=]NAME)"),
            Map.entry("choose another name pattern or first index", "choose another --name-pattern or --first-index"),
            Map.entry("(Pools.open(location, backend))", "(--backend NAME)"),
            Map.entry("(Pool.flatten, Pool.promote)", "(cowherd pool flatten|promote POOL CLONE)"),
            Map.entry("(Pool.flatten)", "(cowherd pool flatten)"),
            Map.entry("(Pool.promote)", "(cowherd pool promote)"),
            Map.entry("a safe rebase onto no backing", "rebase -b \"\""),
            Map.entry("use the libtorrent engine", "use --engine libtorrent"),
            Map.entry("use the ttorrent engine", "use --engine ttorrent"),
            Map.entry("(SessionOptions.withDht)", "(--dht, --dht-bootstrap HOST:PORT)"),
            Map.entry("(Metainfo.create trackers)", "(cowherd seed --tracker or --embedded-tracker)"),
            Map.entry("(CowBackend.capabilities)", "(see `cowherd backends`)"));

    private ApiTerms() {
    }

    /** {@code message} with the API terms it uses replaced by the matching flags. */
    static String toFlags(String message) {
        String m = message;
        for (Map.Entry<String, String> e : FLAGS.entrySet()) {
            m = m.replace(e.getKey(), e.getValue());
        }
        return m;
    }
}
