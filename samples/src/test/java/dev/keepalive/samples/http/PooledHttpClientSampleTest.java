package dev.keepalive.samples.http;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PooledHttpClientSampleTest {
    @Test
    @Timeout(20)
    void thePooledConnectionHangsWithoutTheProbeAndSurvivesOrIsReplacedWithIt() throws Exception {
        ByteArrayOutputStream timeline = new ByteArrayOutputStream();
        int status = new PooledHttpClientSample(new PrintStream(timeline, true, StandardCharsets.UTF_8)).run();
        String out = timeline.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(0, status, "the sample checks its own outcome and returns 0 when it holds:\n" + out);
        assertTrue(out.contains("sample finished as expected"), out);
    }
}
