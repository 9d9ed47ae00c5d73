package io.cowherd.cli;

import picocli.CommandLine;

/**
 * Whether the user asked for {@code -q}/{@code --quiet} (an option of {@code cowherd} that every
 * command inherits): then a command prints its results and its errors, and no progress or warning.
 */
final class Quiet {
    private Quiet() {
    }

    /** Whether {@code --quiet} was given to the command {@code spec} runs, or to any command above it. */
    static boolean asked(CommandLine.Model.CommandSpec spec) {
        for (CommandLine.Model.CommandSpec s = spec; s != null; s = s.parent()) {
            CommandLine.ParseResult r = s.commandLine().getParseResult();
            if (r != null && r.hasMatchedOption("--quiet")) {
                return true;
            }
        }
        return false;
    }

    /** Prints a note (what happened, not a result) on the command's stderr unless {@code --quiet}. */
    static void note(CommandLine.Model.CommandSpec spec, String format, Object... args) {
        if (!asked(spec)) {
            java.io.PrintWriter err = spec.commandLine().getErr();
            err.printf(java.util.Locale.ROOT, format, args);
            err.flush();
        }
    }
}
