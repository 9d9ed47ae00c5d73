package io.cowherd.vhd;

import io.cowherd.CowBackend;
import io.cowherd.testkit.BackendContractTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/** The vhd backend against the shared contract kit. */
class VhdBackendContractTest extends BackendContractTest {
    @Override
    protected CowBackend backend() {
        return new VhdBackend();
    }

    /**
     * VHD metadata lives in the footer at the end and its copy at offset 0: junk over the sizes
     * and geometry of both (bytes 16..64) breaks their checksums.
     */
    @Override
    protected void corrupt(Path image) throws IOException {
        byte[] junk = new byte[48];
        Arrays.fill(junk, (byte) 0xff);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(junk), 16);
            ch.write(ByteBuffer.wrap(junk), ch.size() - 512 + 16);
        }
    }
}
