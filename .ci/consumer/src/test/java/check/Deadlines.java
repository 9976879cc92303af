package check;

import dev.keepalive.KeepaliveSettings;

import java.time.Duration;

/** Settings short enough for a test: an idle peer is pinged after about a second, dead within 2 s. */
final class Deadlines {
    static final KeepaliveSettings FAST = KeepaliveSettings.builder().detectWithin(Duration.ofSeconds(2)).build();
    /** Timers on a loaded two-core machine. */
    static final Duration TOLERANCE = Duration.ofMillis(700);

    private Deadlines() {
    }
}
