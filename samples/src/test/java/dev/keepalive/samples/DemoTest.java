package dev.keepalive.samples;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DemoTest {
    @Test
    @Timeout(60)
    void demoShowsTheForgottenFlowAndTheDetectedCrash() throws Exception {
        assertEquals(0, new Demo().run(new String[0]), "the demo checks its own outcome and exits 0 when it holds");
    }
}
