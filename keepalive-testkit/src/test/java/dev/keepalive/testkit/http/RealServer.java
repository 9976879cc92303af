package dev.keepalive.testkit.http;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * A real HTTP server from the distribution's packages (nginx, Apache httpd), run in the foreground by the test with
 * a configuration of its own in a temporary directory, listening on free loopback ports: it never touches the
 * system's service, its configuration or its ports, and {@link #close()} stops it.
 *
 * <p>Each server has named listeners ("sites") with their own keep-alive settings. Every site serves the same
 * directory: {@code /} (an index file) and {@code /say/<word>} whose body is {@link Protocol#answerTo}{@code (word)}
 * for the words the tests send, so that the {@link Protocol} clients work against it unchanged.
 *
 * <p>When the server's binary is not installed, {@link #start} skips the test with the reason, or fails it when the
 * environment variable {@value #MODE_VARIABLE} is {@code required} (as {@code .ci/run} sets it).
 */
final class RealServer implements AutoCloseable {
    /** {@code required}: a missing server binary fails the test instead of skipping it. */
    static final String MODE_VARIABLE = "KEEPALIVE_REAL_SERVERS";
    static final List<String> WORDS = List.of("before", "after", "again");
    private static final Duration START_TIMEOUT = Duration.ofSeconds(15);

    /** One listener of the server and its keep-alive settings. */
    record Site(String name, boolean h2c, Duration keepaliveTimeout, int keepaliveRequests) {
    }

    /** The servers the tests know how to run. */
    enum Kind {
        NGINX("nginx", Path.of("/usr/sbin/nginx"), "nginx"),
        APACHE("Apache httpd", Path.of("/usr/sbin/apache2"), "apache2");

        final String label;
        final Path binary;
        final String debianPackage;

        Kind(String label, Path binary, String debianPackage) {
            this.label = label;
            this.binary = binary;
            this.debianPackage = debianPackage;
        }

        @Override
        public String toString() {
            return label;
        }
    }

    private final Kind kind;
    private final Path dir;
    private final Process process;
    private final Map<String, InetSocketAddress> addresses;

    private RealServer(Kind kind, Path dir, Process process, Map<String, InetSocketAddress> addresses) {
        this.kind = kind;
        this.dir = dir;
        this.process = process;
        this.addresses = addresses;
    }

    /** Skips (or, when required, fails) the calling test when {@code kind} is not installed. */
    static void assumeInstalled(Kind kind) {
        assumeInstalled(kind.label, kind.binary, kind.debianPackage, System.getenv(MODE_VARIABLE));
    }

    /** As {@link #assumeInstalled(Kind)}, with the mode ({@value #MODE_VARIABLE}'s value) given. */
    static void assumeInstalled(String label, Path binary, String debianPackage, String mode) {
        if (Files.isExecutable(binary)) {
            return;
        }
        String reason = label + " is not installed (" + binary + " is missing; apt-get install " + debianPackage + ")";
        if ("required".equalsIgnoreCase(mode)) {
            Assertions.fail(reason + ", but " + MODE_VARIABLE + "=required");
        }
        Assumptions.abort(reason + "; set " + MODE_VARIABLE + "=required to fail instead of skipping");
    }

    /** Starts {@code kind} with {@code sites} and waits until every site accepts connections. */
    static RealServer start(Kind kind, List<Site> sites) throws IOException, InterruptedException {
        assumeInstalled(kind);
        Path dir = Files.createTempDirectory("keepalive-" + kind.debianPackage + "-");
        Path www = Files.createDirectories(dir.resolve("www/say"));
        Files.createDirectories(dir.resolve("logs"));
        Files.writeString(dir.resolve("www/index.html"), "<html><body>keepalive interop</body></html>\n");
        for (String word : WORDS) {
            Files.writeString(www.resolve(word), Protocol.answerTo(word));
        }
        Map<String, InetSocketAddress> addresses = new LinkedHashMap<>();
        for (Site site : sites) {
            addresses.put(site.name(), new InetSocketAddress("127.0.0.1", freePort()));
        }
        List<String> command;
        if (kind == Kind.NGINX) {
            Files.writeString(dir.resolve("nginx.conf"), nginxConfig(dir, sites, addresses));
            command = List.of(kind.binary.toString(), "-p", dir.toString(), "-c", dir.resolve("nginx.conf").toString(),
                    "-e", dir.resolve("logs/error.log").toString());
        } else {
            Files.writeString(dir.resolve("httpd.conf"), apacheConfig(dir, sites, addresses));
            command = List.of(kind.binary.toString(), "-d", dir.toString(), "-f", dir.resolve("httpd.conf").toString(),
                    "-D", "FOREGROUND");
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(dir.resolve("logs/console.log").toFile()).start();
        RealServer server = new RealServer(kind, dir, process, addresses);
        try {
            server.awaitListening();
        } catch (RuntimeException | Error e) {
            server.close();
            throw e;
        }
        return server;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String seconds(Duration d) {
        return d.toSeconds() + "s";
    }

    private static String nginxConfig(Path dir, List<Site> sites, Map<String, InetSocketAddress> addresses) {
        StringBuilder c = new StringBuilder()
                .append("daemon off;\nmaster_process off;\nworker_processes 1;\n")
                .append("pid ").append(dir.resolve("nginx.pid")).append(";\n")
                .append("error_log ").append(dir.resolve("logs/error.log")).append(" info;\n")
                .append("events { worker_connections 128; }\n")
                .append("http {\n  access_log ").append(dir.resolve("logs/access.log")).append(";\n")
                .append("  default_type text/plain;\n");
        for (String temp : List.of("client_body", "proxy", "fastcgi", "uwsgi", "scgi")) {
            c.append("  ").append(temp).append("_temp_path ").append(dir.resolve("tmp-" + temp)).append(";\n");
        }
        for (Site site : sites) {
            InetSocketAddress a = addresses.get(site.name());
            c.append("  server {\n    listen 127.0.0.1:").append(a.getPort()).append(site.h2c() ? " http2" : "")
                    .append(";\n    root ").append(dir.resolve("www")).append(";\n")
                    .append("    keepalive_timeout ").append(seconds(site.keepaliveTimeout())).append(";\n")
                    .append("    keepalive_requests ").append(site.keepaliveRequests()).append(";\n  }\n");
        }
        return c.append("}\n").toString();
    }

    private static String apacheConfig(Path dir, List<Site> sites, Map<String, InetSocketAddress> addresses) {
        String modules = "/usr/lib/apache2/modules/";
        StringBuilder c = new StringBuilder()
                .append("ServerRoot \"").append(dir).append("\"\n")
                .append("LoadModule mpm_event_module ").append(modules).append("mod_mpm_event.so\n")
                .append("LoadModule authz_core_module ").append(modules).append("mod_authz_core.so\n")
                .append("LoadModule dir_module ").append(modules).append("mod_dir.so\n")
                .append("ServerName localhost\nPidFile \"").append(dir.resolve("httpd.pid")).append("\"\n")
                .append("DefaultRuntimeDir \"").append(dir).append("\"\nMutex file:").append(dir).append('\n')
                .append("ErrorLog \"").append(dir.resolve("logs/error.log")).append("\"\nLogLevel info\n")
                .append("StartServers 1\nServerLimit 1\nThreadsPerChild 16\nMaxRequestWorkers 16\n")
                .append("DocumentRoot \"").append(dir.resolve("www")).append("\"\n")
                .append("<Directory \"").append(dir.resolve("www")).append("\">\n  Require all granted\n</Directory>\n")
                .append("DirectoryIndex index.html\nKeepAlive On\n");
        for (Site site : sites) {
            if (site.h2c()) {
                throw new IllegalArgumentException("h2c is only configured for nginx here: " + site);
            }
            InetSocketAddress a = addresses.get(site.name());
            c.append("Listen 127.0.0.1:").append(a.getPort()).append('\n')
                    .append("<VirtualHost 127.0.0.1:").append(a.getPort()).append(">\n")
                    .append("  KeepAliveTimeout ").append(site.keepaliveTimeout().toSeconds()).append('\n')
                    .append("  MaxKeepAliveRequests ").append(site.keepaliveRequests()).append('\n')
                    .append("</VirtualHost>\n");
        }
        return c.toString();
    }

    private void awaitListening() throws InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        for (InetSocketAddress a : addresses.values()) {
            while (!accepts(a)) {
                if (!process.isAlive()) {
                    throw new IllegalStateException(kind + " exited with " + process.exitValue() + ": " + logs());
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException(kind + " did not listen on " + a + " within " + START_TIMEOUT
                            + ": " + logs());
                }
                Thread.sleep(20); // polling a child process's port: nothing to wait on instead
            }
        }
    }

    private static boolean accepts(InetSocketAddress a) {
        try (Socket s = new Socket()) {
            s.connect(a, 1000);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The address of the site {@code name}. */
    InetSocketAddress address(String name) {
        InetSocketAddress a = addresses.get(name);
        if (a == null) {
            throw new IllegalArgumentException("no site " + name + " in " + addresses.keySet());
        }
        return a;
    }

    Kind kind() {
        return kind;
    }

    /** The server's logs so far, for failure messages. */
    String logs() {
        try (Stream<Path> files = Files.list(dir.resolve("logs"))) {
            return files.sorted().map(f -> {
                try {
                    return f.getFileName() + ":\n" + Files.readString(f, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    return f.getFileName() + ": " + e;
                }
            }).collect(Collectors.joining("\n"));
        } catch (IOException e) {
            return "(no logs: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy(); // SIGTERM: both servers shut down fast on it
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(f -> {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // a leftover temporary directory is harmless
        }
    }

    @Override
    public String toString() {
        return kind + " " + addresses;
    }
}
