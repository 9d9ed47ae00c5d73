package io.cowherd.distribution.torrent;

import bt.data.ChunkVerifier;
import bt.data.DefaultChunkVerifier;
import bt.data.digest.Digester;
import bt.net.IPeerConnectionPool;
import bt.runtime.Config;
import bt.service.IRuntimeLifecycleBinder;
import bt.torrent.TorrentRegistry;
import bt.torrent.data.BlockCache;
import bt.torrent.data.DataWorker;
import bt.torrent.data.DefaultDataWorker;
import com.google.inject.AbstractModule;
import com.google.inject.Provider;
import com.google.inject.Provides;
import com.google.inject.Singleton;

/**
 * Puts a {@link BtGuard} into one bt runtime: overrides bt's chunk verifier and disk worker
 * (bt's runtime builder lets a custom module's bindings win over its standard ones).
 */
final class BtGuardModule extends AbstractModule {
    private final BtGuard guard;

    BtGuardModule(BtGuard guard) {
        this.guard = guard;
    }

    @Provides
    @Singleton
    ChunkVerifier verifier(Config config, Digester digester) {
        return guard.verifier(new DefaultChunkVerifier(digester, config.getNumOfHashingThreads()));
    }

    @Provides
    @Singleton
    DataWorker dataWorker(IRuntimeLifecycleBinder lifecycle, TorrentRegistry registry, ChunkVerifier verifier,
            BlockCache cache, Config config, Provider<IPeerConnectionPool> pool) {
        guard.connectionPool(pool::get);
        return guard.dataWorker(new DefaultDataWorker(lifecycle, registry, verifier, cache, config));
    }
}
