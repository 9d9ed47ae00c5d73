package io.cowherd.distribution.internal;

import io.cowherd.CopyProgress;
import java.io.InputStream;
import org.apache.commons.io.input.ObservableInputStream;

/** Input streams that count what passes through them into a {@link CopyProgress.Counter}. */
public final class CountingStreams {
    private CountingStreams() {
    }

    /** {@code in}, adding every byte read from it to {@code counter}. */
    public static InputStream counting(InputStream in, CopyProgress.Counter counter) {
        return new ObservableInputStream(in, new ObservableInputStream.Observer() {
            @Override
            public void data(int value) {
                counter.add(1);
            }

            @Override
            public void data(byte[] buffer, int offset, int length) {
                counter.add(length);
            }
        });
    }
}
