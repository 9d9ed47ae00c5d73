package io.cowherd.cli;

import java.util.Map;

/**
 * Library messages speak of the Java API (an embedding program has no flags); the command line
 * says the same in its own terms before it prints them.
 */
final class ApiTerms {
    /** API terms that library messages use, and the flags that mean the same here. */
    private static final Map<String, String> FLAGS = Map.of(
            "(NameConflict.SKIP)", "(--skip-taken)",
            "(DomainCloneOptions.Builder.master)", "(--master [DEV=]NAME)",
            "choose another name pattern or first index", "choose another --name-pattern or --first-index",
            "(Pools.open(location, backend))", "(--backend NAME)",
            "(Pool.flatten, Pool.promote)", "(cowherd pool flatten|promote POOL CLONE)",
            "(Pool.flatten)", "(cowherd pool flatten)",
            "(Pool.promote)", "(cowherd pool promote)",
            "a safe rebase onto no backing", "rebase -b \"\"",
            "(LibtorrentEngine)", "(--engine libtorrent)");

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
