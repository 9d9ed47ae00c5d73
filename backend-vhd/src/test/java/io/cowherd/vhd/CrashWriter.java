package io.cowherd.vhd;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * TEST ONLY: the child process of {@link VhdCrashTest}. Writes pattern i into slot i of a VHD,
 * flushes, and reports "flushed i" on stdout, until it is killed.
 * Arguments: image slots.
 */
public final class CrashWriter {
    private CrashWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        int slots = Integer.parseInt(args[1]);
        try (VirtualDisk d = VhdImage.open(image, ImagePolicy.operator(), true, 0)) {
            System.out.println("ready");
            System.out.flush();
            for (int round = 0; ; round++) {
                for (int i = 0; i < slots; i++) {
                    d.write(ByteBuffer.wrap(VhdCrashTest.pattern(i, round)), VhdCrashTest.slotOffset(i));
                    d.flush();
                    System.out.println("flushed " + round + " " + i);
                    System.out.flush();
                }
            }
        }
    }
}
