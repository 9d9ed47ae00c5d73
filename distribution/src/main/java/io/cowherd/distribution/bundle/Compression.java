package io.cowherd.distribution.bundle;

/** How a bundle archive's tar stream is compressed. On import the kind is detected from magic bytes, never from the file name. */
public enum Compression {
    /** A plain tar. */
    NONE,
    /** Zstandard (through zstd-jni): fast, good on the zero runs of sparse images. */
    ZSTD,
    /** xz: smaller, slower. */
    XZ;

    /** The usual file name suffix ({@code .tar}, {@code .tar.zst}, {@code .tar.xz}). */
    public String suffix() {
        return switch (this) {
            case NONE -> ".tar";
            case ZSTD -> ".tar.zst";
            case XZ -> ".tar.xz";
        };
    }
}
