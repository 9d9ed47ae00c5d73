/**
 * Bundles: the unit that travels. A directory with one or more disk images of a master, an
 * optional domain XML and NVRAM file, and a manifest ({@value io.cowherd.distribution.bundle.BundleManifest#FILE_NAME})
 * that records each file's size, SHA-256, image format and virtual size. {@link
 * io.cowherd.distribution.bundle.BundleArchive} moves a bundle as one tar archive (optionally zstd
 * or xz compressed) for offline transport.
 */
package io.cowherd.distribution.bundle;
