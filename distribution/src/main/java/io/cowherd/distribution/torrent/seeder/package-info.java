/**
 * Initial seeding: {@link io.cowherd.distribution.torrent.seeder.InitialSeeder}, the first seed of
 * a swarm, which sends every piece once; its policy ({@code PieceAssignment}: which peer is offered
 * which pieces) and its announcer to HTTP trackers. Engine-neutral: fetches of every engine take part.
 */
package io.cowherd.distribution.torrent.seeder;
