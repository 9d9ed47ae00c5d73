/**
 * Internal, not API: raw images, host files (positional I/O, holes, block devices) and the
 * sparse copier that the image formats and backends share. May change in any release; embedding
 * programs use {@link io.cowherd.VirtualDisk}, {@link io.cowherd.Pool} and {@link io.cowherd.Images}.
 */
package io.cowherd.internal.io;
