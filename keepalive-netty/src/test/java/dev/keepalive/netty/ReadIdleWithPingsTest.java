package dev.keepalive.netty;

import dev.keepalive.KeepaliveSettings;
import org.junit.jupiter.api.Test;

import static java.time.Duration.ofSeconds;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A read-idle timeout shorter than pingInterval + pingTimeout, with a probe that pings, would declare a live idle
 * peer dead before its pong was due: refused when the handler is built. Passive probes may use any value.
 */
class ReadIdleWithPingsTest {
    @Test
    void aReadIdleTimeoutThatConvictsALivePeerIsRefused() {
        KeepaliveSettings settings = KeepaliveSettings.builder().readIdleTimeout(ofSeconds(1)).build();
        KeepaliveHandler.Builder builder = KeepaliveHandler.builder(settings).probe(KeepaliveProbe.binary());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
        assertEquals("readIdleTimeout PT1S is shorter than pingInterval PT30S + pingTimeout PT10S = PT40S: with a "
                + "probe that pings (" + KeepaliveProbe.binary() + "), an idle peer is pinged only after up to "
                + "pingInterval of silence and may take pingTimeout to answer, so a live peer would be declared dead "
                + "(READ_IDLE) before its answer was due. Make readIdleTimeout at least PT40S or shorten "
                + "pingInterval; or use KeepaliveProbe.passive() if the peer sends heartbeats of its own",
                e.getMessage());
    }

    @Test
    void theEdgeAndPassiveProbesBuild() {
        KeepaliveSettings edge = KeepaliveSettings.builder().readIdleTimeout(ofSeconds(40)).build();
        assertNotNull(KeepaliveHandler.builder(edge).probe(KeepaliveProbe.lines()).build());
        KeepaliveSettings below = KeepaliveSettings.builder().readIdleTimeout(ofSeconds(39)).build();
        assertThrows(IllegalArgumentException.class,
                () -> KeepaliveHandler.builder(below).probe(KeepaliveProbe.lines()).build());
        assertNotNull(KeepaliveHandler.builder(below).probe(KeepaliveProbe.passive()).build());
    }
}
