package check;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The READMEs' code blocks are the consumer check's files: a block after {@code <!-- snippet: PATH -->} must equal
 * that Java file (less its package line), and one after {@code <!-- snippet: PATH#NAME -->} the pom region between
 * {@code <!-- README: NAME -->} and {@code <!-- END README -->}. Every Java and XML block of the root README is such
 * a block, and every snippet file and region is shown in a README, so neither side can drift.
 */
class ReadmeSnippetsTest {
    private static final Path REPO = Path.of(System.getProperty("keepalive.repo", "../..")).toAbsolutePath().normalize();
    private static final List<String> READMES = List.of("README.md", "keepalive-testkit/README.md");
    private static final Path CHECK = REPO.resolve(".ci/consumer");
    private static final Pattern MARKER = Pattern.compile("^<!-- snippet: (\\S+?)(?:#(\\S+))? -->$");
    private static final Pattern REGION = Pattern.compile("<!-- README: (\\S+) -->\\n(.*?)\\n[ ]*<!-- END README -->",
            Pattern.DOTALL);

    record Block(String readme, int line, String language, String marker, String text) {
    }

    @Test
    void everyReadmeBlockEqualsItsCheckedFile() throws IOException {
        List<String> mismatches = new ArrayList<>();
        for (Block block : blocks()) {
            if (block.marker == null) {
                continue;
            }
            String expected = source(block.marker);
            if (!block.text.equals(expected)) {
                mismatches.add(block.readme + ":" + block.line + " differs from " + block.marker + "\n--- README\n"
                        + block.text + "\n--- checked file\n" + expected);
            }
        }
        assertEquals(List.of(), mismatches, () -> String.join("\n\n", mismatches));
    }

    @Test
    void everyJavaAndXmlBlockOfTheRootReadmeIsChecked() throws IOException {
        List<String> unchecked = blocks().stream()
                .filter(b -> b.readme.equals("README.md") && b.marker == null
                        && (b.language.equals("java") || b.language.equals("xml")))
                .map(b -> b.readme + ":" + b.line).collect(Collectors.toList());
        assertEquals(List.of(), unchecked, "code blocks without a <!-- snippet: ... --> marker");
    }

    @Test
    void everySnippetFileAndRegionIsShown() throws IOException {
        Set<String> shown = blocks().stream().map(Block::marker).filter(m -> m != null)
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> offered = new TreeSet<>();
        try (Stream<Path> files = Files.list(CHECK.resolve("src/main/java/snippets"))) {
            files.forEach(f -> offered.add(REPO.relativize(f).toString()));
        }
        Matcher m = REGION.matcher(Files.readString(CHECK.resolve("pom.xml")));
        while (m.find()) {
            offered.add(".ci/consumer/pom.xml#" + m.group(1));
        }
        offered.removeAll(shown);
        assertTrue(offered.isEmpty(), "snippets no README shows: " + offered);
    }

    private static List<Block> blocks() throws IOException {
        List<Block> blocks = new ArrayList<>();
        for (String readme : READMES) {
            List<String> lines = Files.readAllLines(REPO.resolve(readme));
            String marker = null;
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                Matcher m = MARKER.matcher(line.trim());
                if (m.matches()) {
                    marker = m.group(1) + (m.group(2) == null ? "" : "#" + m.group(2));
                    continue;
                }
                if (line.startsWith("```")) {
                    String language = line.substring(3).trim();
                    int start = i + 1;
                    int end = start;
                    while (end < lines.size() && !lines.get(end).startsWith("```")) {
                        end++;
                    }
                    blocks.add(new Block(readme, i + 1, language, marker,
                            String.join("\n", lines.subList(start, end))));
                    i = end;
                }
                if (!line.isBlank()) {
                    marker = null;
                }
            }
        }
        return blocks;
    }

    private static String source(String marker) throws IOException {
        int hash = marker.indexOf('#');
        Path file = REPO.resolve(hash < 0 ? marker : marker.substring(0, hash));
        String text = Files.readString(file).replace("\r\n", "\n");
        if (hash < 0) {
            // A Java snippet: the whole file but its package line.
            return text.replaceFirst("\\Apackage [^;]+;\\n\\n", "").stripTrailing();
        }
        String name = marker.substring(hash + 1);
        Map<String, String> regions = new LinkedHashMap<>();
        Matcher m = REGION.matcher(text);
        while (m.find()) {
            regions.put(m.group(1), m.group(2));
        }
        String region = regions.get(name);
        if (region == null) {
            return "(no region " + name + " in " + file + ")";
        }
        return dedent(region);
    }

    private static String dedent(String text) {
        List<String> lines = List.of(text.split("\n", -1));
        int indent = lines.stream().filter(l -> !l.isBlank())
                .mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
        return lines.stream().map(l -> l.isBlank() ? "" : l.substring(indent)).collect(Collectors.joining("\n"));
    }
}
