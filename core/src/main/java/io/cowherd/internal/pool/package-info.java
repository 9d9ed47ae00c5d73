/**
 * Internal, not API: the directory pool that the qcow2 and VHD backends build on, the pool record
 * files and their lock, and the checks every pool makes. May change in any release; embedding
 * programs open pools through {@link io.cowherd.Pools} or a {@link io.cowherd.CowBackend}.
 */
package io.cowherd.internal.pool;
