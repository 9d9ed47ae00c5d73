/**
 * Streaming masters: an NBD export of a bundle's disks while the fetch is still under way
 * ({@link io.cowherd.distribution.stream.MasterStream}). A read of a range whose pieces have not
 * arrived asks the engine for them first and waits until they are verified; it never returns
 * unverified or missing bytes.
 */
package io.cowherd.distribution.stream;
