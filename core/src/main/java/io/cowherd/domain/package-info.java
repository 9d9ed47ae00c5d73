/**
 * Cloning libvirt domains onto copy-on-write disks: the domain XML is rewritten the way
 * {@code virt-clone} rewrites it (name, UUID, MACs, NVRAM, TPM, graphics ports, sockets, serial
 * files), every writable disk becomes a linked clone made through a {@link io.cowherd.Pool}, and
 * the result is defined through libvirt-java, or written to XML files when libvirt is absent.
 *
 * <p>Entry point: {@link io.cowherd.domain.DomainCloner}. The XML rewrite steps alone, without
 * libvirt or a pool, are in {@link io.cowherd.domain.DomainXml}.
 */
package io.cowherd.domain;
