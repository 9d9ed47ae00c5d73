/** Helpers shared by the distribution packages; not a public API. */
package io.cowherd.distribution.internal;
