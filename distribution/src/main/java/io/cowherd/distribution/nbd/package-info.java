/**
 * A read-only NBD server of our own on a Unix domain socket: {@link io.cowherd.distribution.nbd.NbdServer}
 * serves named {@link io.cowherd.distribution.nbd.NbdExport exports}, each backed by an
 * {@link io.cowherd.distribution.nbd.ExportSource} (a file now; a master still downloading later, issue 17).
 *
 * <p>Protocol subset (doc/proto.md of the NBD project): fixed newstyle handshake with
 * {@code NBD_FLAG_NO_ZEROES}; options {@code NBD_OPT_GO}, {@code NBD_OPT_INFO}, {@code NBD_OPT_LIST},
 * {@code NBD_OPT_ABORT} and {@code NBD_OPT_EXPORT_NAME}, every other option refused with
 * {@code NBD_REP_ERR_UNSUP}; simple replies only; {@code NBD_CMD_READ}, {@code NBD_CMD_FLUSH} and
 * {@code NBD_CMD_DISC}, writes, trims and zero writes refused with {@code NBD_EPERM}. No TLS, no
 * structured replies, no block status.
 */
package io.cowherd.distribution.nbd;
