package clara.backends;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

/**
 * Test-only Neo4j server: an embedded Neo4j (community) with a Bolt connector on
 * 127.0.0.1:PORT (no TLS), auth enabled and the password of user "neo4j" set to PASSWORD.
 * Prints "READY bolt://127.0.0.1:PORT (...)" once the database answers RETURN 1, then runs
 * until SIGTERM/SIGINT, when a shutdown hook stops the database cleanly (about a second).
 * On a start-up error it prints the stack trace and exits with status 1.
 *
 * Usage: java -cp launcher.jar:lib/* clara.backends.Main HOME_DIR PORT PASSWORD
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 3) {
            System.err.println("usage: Main HOME_DIR PORT PASSWORD");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        String password = args[2];
        long t0 = System.nanoTime();
        long tBuilt;
        long tAuth;
        try {
            SocketAddress bolt = new SocketAddress("127.0.0.1", port);
            DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, bolt)
                    .setConfig(BoltConnector.advertised_address, bolt)
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                    .setConfig(GraphDatabaseSettings.auth_enabled, true)
                    // Small and fast: tests hold little data, and it is thrown away.
                    .setConfig(GraphDatabaseSettings.pagecache_memory, 64L * 1024 * 1024)
                    .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                    .setConfig(GraphDatabaseSettings.preallocate_store_files, false)
                    .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    // Stop in about a second instead of ~10 s of Bolt/Netty grace periods.
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ZERO)
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
                    .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(1))
                    .build();
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                System.out.println("STOPPING");
                dbms.shutdown();
            }, "neo4j-shutdown"));
            tBuilt = System.nanoTime();

            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
            tAuth = System.nanoTime();
            dbms.database("neo4j").executeTransactionally("RETURN 1");
        } catch (RuntimeException e) {
            e.printStackTrace();
            System.exit(1); // also runs the shutdown hook, if the database was built
            return;
        }
        long tEnd = System.nanoTime();
        System.out.println("READY bolt://127.0.0.1:" + port + " (started in " + ms(tEnd - t0)
                + " ms: database " + ms(tBuilt - t0) + ", set password " + ms(tAuth - tBuilt)
                + ", RETURN 1 " + ms(tEnd - tAuth) + ")");
        System.out.flush();
        new CountDownLatch(1).await();
    }

    private static long ms(long nanos) {
        return nanos / 1_000_000;
    }
}
