/**
 * The embedded HTTP tracker ({@code cowherd tracker}, {@code --embedded-tracker}), engine-neutral:
 * it tracks only the torrents it is told of and answers by locality (longest common address prefix first).
 */
package io.cowherd.distribution.torrent.tracker;
