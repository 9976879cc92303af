package dev.keepalive.benchmarks;

import dev.keepalive.benchmarks.support.Reports;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Sends the benchmarks' plots to a fresh temporary directory for each test (through {@link Reports#OUTPUT_PROPERTY}),
 * then restores the property and deletes the directory.
 *
 * <pre>{@code @RegisterExtension final PlotDirectory plots = new PlotDirectory();}</pre>
 */
final class PlotDirectory implements BeforeEachCallback, AfterEachCallback {
    private Path dir;
    private String previous;

    /** The directory of the running test. */
    Path dir() {
        return dir;
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        dir = Files.createTempDirectory("keepalive-plots");
        previous = System.setProperty(Reports.OUTPUT_PROPERTY, dir.toString());
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        if (previous == null) {
            System.clearProperty(Reports.OUTPUT_PROPERTY);
        } else {
            System.setProperty(Reports.OUTPUT_PROPERTY, previous);
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }
}
