package io.cowherd.cli;

import io.cowherd.CopyProgress;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of long work on stderr, as qemu-img's {@code -p} shows it: a bar redrawn in place on a
 * terminal, and plain lines (no carriage returns) when stderr is a pipe or a file, at most one per
 * 10% or per 10 s, so a log stays readable.
 */
final class ProgressPrinter implements CopyProgress {
    private static final long PLAIN_EVERY_NANOS = 10_000_000_000L;
    private final PrintWriter err;
    private final String what;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private int lastPercent = -1;
    private long lastLine = start;

    private ProgressPrinter(PrintWriter err, String what, boolean terminal) {
        this.err = err;
        this.what = what;
        this.terminal = terminal;
    }

    /**
     * A printer for {@code what} (for example "convert") on the command's stderr, or one that
     * prints nothing when not {@code enabled} or the user asked for {@code --quiet}. The bar is
     * drawn only when this JVM talks to a terminal.
     */
    static CopyProgress of(boolean enabled, picocli.CommandLine.Model.CommandSpec spec, String what) {
        return enabled && !Quiet.asked(spec) ? new ProgressPrinter(spec.commandLine().getErr(), what, System.console() != null)
                : CopyProgress.NONE;
    }

    @Override
    public synchronized void advanced(long done, long total) {
        show(done, total, "");
    }

    /** Shows {@code done} of {@code total}, with {@code extra} (rates, peers) after it. */
    synchronized void show(long done, long total, String extra) {
        int percent = total <= 0 ? 100 : (int) (100 * done / total);
        long now = System.nanoTime();
        boolean finished = done >= total;
        if (terminal) {
            if (percent == lastPercent && !finished && extra.isEmpty()) {
                return;
            }
            int width = 30;
            int fill = width * percent / 100;
            err.printf(Locale.ROOT, "\r%s [%s] %3d%% %s/%s%s%s", what, "#".repeat(fill) + ".".repeat(width - fill), percent,
                    Sizes.human(done), Sizes.human(total), extra, finished ? "\n" : "");
        } else {
            if (!(finished || percent / 10 > lastPercent / 10 || now - lastLine >= PLAIN_EVERY_NANOS)
                    || finished && lastPercent == 100) {
                return;
            }
            err.printf(Locale.ROOT, "cowherd: %s: %d%% (%s of %s, %.1f s)%s%n", what, percent, Sizes.human(done),
                    Sizes.human(total), (now - start) / 1e9, extra);
            lastLine = now;
        }
        lastPercent = percent;
        err.flush();
    }
}
