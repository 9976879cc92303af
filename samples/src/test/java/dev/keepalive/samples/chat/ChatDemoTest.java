package dev.keepalive.samples.chat;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.ManualTicker;
import dev.keepalive.core.LivenessMonitor;
import dev.keepalive.core.MonitorConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
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

    /**
     * The story holds whatever the jitter draws and wherever a connection's first ping falls in its spread: alice
     * pings before the firewall forgets, carol only after it (her flow must die in every quiet period, her reconnects
     * included). The draws are the extremes; the monitor is the one the handler runs, spreading first pings.
     */
    @Test
    void alicePingsBeforeTheFirewallForgetsAndCarolAfterItWhateverIsDrawn() {
        KeepaliveSettings alice = ChatDemo.flags(ChatDemo.ALICE_FLAGS).settings();
        KeepaliveSettings carol = ChatDemo.flags(ChatDemo.CAROL_FLAGS).settings();
        for (double draw : new double[] {0, 0.5, 0.999_999}) {
            for (boolean firstSilence : new boolean[] {true, false}) {
                String when = (firstSilence ? "a connection's first silence" : "a later silence") + ", draw " + draw;
                Duration a = waitBeforePing(alice, draw, firstSilence);
                Duration c = waitBeforePing(carol, draw, firstSilence);
                assertTrue(a.compareTo(ChatDemo.FIREWALL_IDLE) < 0, "alice waits " + a + " in " + when);
                assertTrue(c.compareTo(ChatDemo.FIREWALL_IDLE) > 0, "carol waits " + c + " in " + when);
                assertTrue(c.compareTo(ChatDemo.QUIET) <= 0, "carol waits " + c + " in " + when
                        + ": her ping must go into the forgotten flow within the quiet period");
            }
        }
    }

    /** How long the monitor with these settings stays silent after the last read before it pings. */
    private static Duration waitBeforePing(KeepaliveSettings settings, double draw, boolean firstSilence) {
        ManualTicker ticker = new ManualTicker();
        LivenessMonitor m = new LivenessMonitor(MonitorConfig.of(settings, ticker, true, () -> draw)
                .spreadingFirstPings(() -> draw));
        m.onActive();
        ticker.advance(Duration.ofMillis(5));
        m.onInbound();
        m.onReadComplete(); // the server's answer to JOIN
        if (!firstSilence) {
            ticker.advance(Duration.ofMillis(5));
            m.onInbound();
            m.onReadComplete(); // a chat line
        }
        assertEquals(LivenessMonitor.Action.NONE, m.onTimer(ticker.nanoTime()));
        return Duration.ofNanos(m.deadline() - ticker.nanoTime());
    }
}
