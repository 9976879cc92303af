package dev.keepalive.samples.chat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatDemoTest {
    /** The demo checks its own expectations (exit code 0 when every one held) and must stay short. */
    @Test
    @Timeout(value = 45, unit = TimeUnit.SECONDS)
    void theDemoTellsTheWholeStoryInUnder30Seconds() {
        Captured out = new Captured();
        Captured err = new Captured();
        long start = System.nanoTime();
        int code = new ChatCli(new java.io.ByteArrayInputStream(new byte[0]), out.stream, err.stream).run("demo");
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        String text = out.text();
        assertEquals(0, code, text);
        assertTrue(seconds < 30, "took " + seconds + " s");
        assertTrue(text.contains("demo finished as expected"), text);
        assertFalse(text.contains("FAILED"), text);
        for (String story : new String[] {"FORGETS bob's flow", "FORGETS carol's flow",
                "carol     DECLARES THE SERVER DEAD: PING_TIMEOUT", "carol rejoined; her old connection was still open",
                "bob       still waits for an acknowledgement", "expectations"}) {
            assertTrue(text.contains(story), story);
        }
        assertEquals("", err.text(), "nothing on stderr");
    }
}
