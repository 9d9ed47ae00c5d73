package io.cowherd.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs QEMU's own tools (qemu-img, qemu-io), the real peer our images must satisfy. */
final class QemuTool {
    record Result(int exit, String output) {
    }

    private QemuTool() {
    }

    static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + Arrays.toString(command));
        }
        return new Result(p.exitValue(), out);
    }

    /** Runs a command that must exit 0 and returns its output. */
    static String ok(String... command) throws IOException, InterruptedException {
        Result r = run(command);
        assertEquals(0, r.exit, String.join(" ", command) + " failed:\n" + r.output);
        return r.output;
    }

    /** qemu-io on a qcow2 image, with its format stated, running each of {@code commands}. */
    static String qemuIo(String image, String... commands) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image);
        String out = ok(cmd.toArray(new String[0]));
        if (out.contains("failed") || out.contains("error")) {
            throw new AssertionError("qemu-io reported a failure:\n" + out);
        }
        return out;
    }
}
