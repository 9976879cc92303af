package dev.keepalive.netty.internal;

import dev.keepalive.KeepaliveSettings;
import dev.keepalive.netty.KeepaliveProbe;

import java.time.Duration;

/**
 * Checks the settings that only make sense together with the probe, which {@link KeepaliveSettings} does not know.
 *
 * <p>{@code readIdleTimeout} with a probe that pings: an idle peer is pinged only after up to {@code pingInterval}
 * of silence, and a live one answers within {@code pingTimeout}. A read-idle timeout shorter than the sum declares
 * such a peer dead ({@code READ_IDLE}) before its answer was due: a live peer convicted. With a passive probe the
 * read-idle timeout is the only detector and the ping interval means nothing, so any value is fine there.
 */
public final class ProbeSettingsCheck {
    private ProbeSettingsCheck() {
    }

    /**
     * Throws when {@code settings} cannot work with {@code probe}.
     *
     * @throws IllegalArgumentException naming the settings, their values and why they conflict
     */
    public static void check(KeepaliveSettings settings, KeepaliveProbe probe) {
        if (!probe.sendsPings() || settings.readIdleTimeout().isEmpty()) {
            return;
        }
        Duration readIdle = settings.readIdleTimeout().get();
        Duration needed = settings.pingInterval().plus(settings.pingTimeout());
        if (readIdle.compareTo(needed) < 0) {
            throw new IllegalArgumentException("readIdleTimeout " + readIdle + " is shorter than pingInterval "
                    + settings.pingInterval() + " + pingTimeout " + settings.pingTimeout() + " = " + needed
                    + ": with a probe that pings (" + probe + "), an idle peer is pinged only after up to "
                    + "pingInterval of silence and may take pingTimeout to answer, so a live peer would be declared "
                    + "dead (READ_IDLE) before its answer was due. Make readIdleTimeout at least " + needed
                    + " or shorten pingInterval; or use KeepaliveProbe.passive() if the peer sends heartbeats of "
                    + "its own");
        }
    }
}
