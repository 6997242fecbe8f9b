package clara.backends;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

/**
 * Starts an embedded Neo4j with a Bolt connector on 127.0.0.1:PORT, auth enabled and the
 * password of user "neo4j" set to PASSWORD, then prints "READY bolt://127.0.0.1:PORT" and
 * runs until SIGTERM/SIGINT (a shutdown hook stops the database cleanly).
 *
 * Usage: java -cp 'classes:lib/*' clara.backends.Main HOME_DIR PORT PASSWORD
 */
public final class Main {
    private Main() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: Main HOME_DIR PORT PASSWORD");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int port = Integer.parseInt(args[1]);
        String password = args[2];
        long t0 = System.nanoTime();

        SocketAddress bolt = new SocketAddress("127.0.0.1", port);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                .setConfig(BoltConnector.advertised_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                // Small and fast: tests hold little data.
                .setConfig(GraphDatabaseSettings.pagecache_memory, 64L * 1024 * 1024)
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.preallocate_store_files, false)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("STOPPING");
            dbms.shutdown();
        }, "neo4j-shutdown"));

        long tBuilt = System.nanoTime();
        GraphDatabaseService system = dbms.database("system");
        system.executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));
        long tAuth = System.nanoTime();
        GraphDatabaseService db = dbms.database("neo4j");
        db.executeTransactionally("RETURN 1");

        long tEnd = System.nanoTime();
        System.out.println("READY bolt://127.0.0.1:" + port + " (started in " + (tEnd - t0) / 1_000_000
                + " ms: dbms " + (tBuilt - t0) / 1_000_000 + ", password " + (tAuth - tBuilt) / 1_000_000
                + ", RETURN 1 " + (tEnd - tAuth) / 1_000_000 + ")");
        System.out.flush();
        new CountDownLatch(1).await();
    }
}
