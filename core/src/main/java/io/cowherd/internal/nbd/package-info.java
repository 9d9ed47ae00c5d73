/**
 * Internal, not API: a read-only NBD client, so that cowherd reads a streaming master's export
 * (the backing of the pool's stand-in for it) as QEMU does. May change in any release.
 */
package io.cowherd.internal.nbd;
