package io.cowherd.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/** Runs the real peers (qemu-img, qemu-io, vhdiinfo, aria2c, ...) that cowherd is tested against. */
public final class PeerTool {
    public record Result(int exit, String output) {
    }

    private PeerTool() {
    }

    public static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + Arrays.toString(command));
        }
        return new Result(p.exitValue(), out);
    }

    /** Runs a command that must exit 0 and returns its output. */
    public static String ok(String... command) throws IOException, InterruptedException {
        Result r = run(command);
        assertEquals(0, r.exit, String.join(" ", command) + " failed:\n" + r.output);
        return r.output;
    }

    /** Whether {@code tool} is on the PATH. */
    public static boolean has(String tool) {
        try {
            return run("sh", "-c", "command -v " + tool).exit == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
