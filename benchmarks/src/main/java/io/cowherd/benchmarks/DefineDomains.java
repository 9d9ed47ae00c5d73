package io.cowherd.benchmarks;

import io.cowherd.Pool;
import io.cowherd.Pools;
import io.cowherd.domain.DomainCloneOptions;
import io.cowherd.domain.DomainCloner;
import io.cowherd.domain.GuestIdentity;
import java.nio.file.Path;
import java.util.Locale;
import org.libvirt.Connect;

/**
 * The API's side of benchmarks/identity/run-ten-domains.sh: a management tool that embeds cowherd
 * keeps its JVM and its libvirt connection, so what a batch costs it is the batch alone. Defines
 * COUNT clones of SOURCE with identity (hostname and cloud-init serial), twice in one JVM (names
 * PREFIX-a-NN, then PREFIX-b-NN), and prints each batch's seconds: the first in a fresh JVM (its
 * classes loading), the second warm, as in a long-running tool.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar io.cowherd.benchmarks.DefineDomains URI POOL SOURCE COUNT PREFIX</pre>
 */
public final class DefineDomains {
    private DefineDomains() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        Path poolDir = Path.of(args[1]);
        String source = args[2];
        int count = Integer.parseInt(args[3]);
        String prefix = args[4];
        long t0 = System.nanoTime();
        Connect conn = DomainCloner.connect(uri);
        try (Pool pool = Pools.open(poolDir)) {
            double open = (System.nanoTime() - t0) / 1e9;
            DomainCloner cloner = new DomainCloner(conn, pool);
            StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "connect+open %.3f", open));
            for (String batch : new String[] {"a", "b"}) {
                String pattern = prefix + "-" + batch + "-%02d";
                long t = System.nanoTime();
                cloner.cloneDomain(source, DomainCloneOptions.builder().count(count).namePattern(pattern)
                        .identity(GuestIdentity.builder().hostnamePattern(pattern).cloudInit(true).build()).build());
                out.append(String.format(Locale.ROOT, " batch-%s %.3f", batch, (System.nanoTime() - t) / 1e9));
            }
            System.out.println(out);
        } finally {
            conn.close();
        }
    }
}
