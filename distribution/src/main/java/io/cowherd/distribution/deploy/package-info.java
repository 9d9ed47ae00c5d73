/**
 * One host from a bundle to running domains: {@link io.cowherd.distribution.deploy.Deployer}
 * imports the bundle's disks into a pool as masters (or reuses the masters already there with the
 * same bytes), clones the bundle's domain N times with an identity each, defines and starts them,
 * and on a rerun completes only what is missing.
 */
package io.cowherd.distribution.deploy;
