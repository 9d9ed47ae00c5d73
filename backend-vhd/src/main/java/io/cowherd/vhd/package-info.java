/**
 * Pure-Java VHD (Microsoft Virtual Hard Disk): fixed, dynamic and differencing disks, one class
 * per on-disk structure ({@link io.cowherd.vhd.VhdFormat} is the entry point), and the
 * {@code vhd} clone backend ({@link io.cowherd.vhd.VhdBackend}).
 */
package io.cowherd.vhd;
