package io.cowherd.qcow2;

import io.cowherd.ImagePolicy;
import io.cowherd.VirtualDisk;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The process the crash test kills: writes round after round of {@link CrashWorkload} into a
 * qcow2 image and reports each round on stdout once {@code flush()} has returned.
 * Arguments: image seed.
 */
public final class CrashWriter {
    private CrashWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        PrintStream out = System.out;
        try (VirtualDisk d = new Qcow2Format().open(image, ImagePolicy.operator(), true, 0)) {
            out.println("READY");
            out.flush();
            for (int round = 0; ; round++) {
                for (CrashWorkload.Op op : CrashWorkload.round(seed, round, d.size())) {
                    switch (op.kind()) {
                        case WRITE -> d.write(ByteBuffer.wrap(op.data()), op.offset());
                        case ZERO -> d.writeZeroes(op.offset(), op.length());
                        case DISCARD -> d.discard(op.offset(), op.length());
                    }
                }
                d.flush();
                out.println("F " + round);
                out.flush();
            }
        }
    }
}
