package io.cowherd.qcow2;

import io.cowherd.testkit.PeerTool;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** QEMU's own tools (qemu-img, qemu-io), the real peer our images must satisfy. */
final class QemuTool {
    private QemuTool() {
    }

    static PeerTool.Result run(String... command) throws IOException, InterruptedException {
        return PeerTool.run(command);
    }

    /** Runs a command that must exit 0 and returns its output. */
    static String ok(String... command) throws IOException, InterruptedException {
        return PeerTool.ok(command);
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
