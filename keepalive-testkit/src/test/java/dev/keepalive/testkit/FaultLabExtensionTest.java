package dev.keepalive.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.testkit.engine.EventConditions.abortedWithReason;
import static org.junit.platform.testkit.engine.EventConditions.event;
import static org.junit.platform.testkit.engine.EventConditions.finishedSuccessfully;
import static org.junit.platform.testkit.engine.EventConditions.finishedWithFailure;
import static org.junit.platform.testkit.engine.EventConditions.test;
import static org.junit.platform.testkit.engine.TestExecutionResultConditions.message;

import dev.keepalive.testkit.internal.FaultLabMode;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

/** How {@link FaultLabExtension} injects, closes, skips and fails, run through JUnit's own engine. */
class FaultLabExtensionTest {
    private static final String NO_ROOT = "KernelFirewallLab needs root (simulated)";

    private static Events run(Class<?> testClass, Map<String, String> config) {
        return EngineTestKit.engine("junit-jupiter")
                .configurationParameters(config)
                .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "false")
                .selectors(selectClass(testClass))
                .execute()
                .testEvents();
    }

    @Test
    void aLabTestIsSkippedWithTheReasonWhenTheLabIsUnavailable() {
        Map<String, String> config = Map.of(FaultLabExtension.MODE_PARAMETER, "auto",
                FaultLabExtension.SIMULATE_UNAVAILABLE_PARAMETER, NO_ROOT);
        run(NeedsLab.class, config)
                .assertThatEvents()
                .haveExactly(1, event(test("inTest"), abortedWithReason(message(m -> m.startsWith(NO_ROOT)
                        && m.contains("set KEEPALIVE_FAULT_LAB=required to fail instead")))));
        run(LabInBeforeEach.class, config)
                .assertThatEvents()
                .haveExactly(1, event(test("viaBeforeEach"), abortedWithReason(message(m -> m.startsWith(NO_ROOT)))));
    }

    @Test
    void aLabTestFailsWithTheReasonWhenTheLabIsRequired() {
        run(NeedsLab.class, Map.of(FaultLabExtension.MODE_PARAMETER, "required",
                FaultLabExtension.SIMULATE_UNAVAILABLE_PARAMETER, NO_ROOT))
                .assertThatEvents()
                .haveExactly(1, event(test("inTest"), finishedWithFailure(message(m -> m.startsWith(NO_ROOT)
                        && m.contains("KEEPALIVE_FAULT_LAB=required")))));
    }

    @Test
    void disabledSkipsLabTestsButNotProxyTests() {
        Events events = run(NeedsLab.class, Map.of(FaultLabExtension.MODE_PARAMETER, "disabled"));
        events.assertThatEvents()
                .haveExactly(1, event(test("inTest"), abortedWithReason(message(m -> m.contains("disabled")))));
        run(NeedsProxy.class, Map.of(FaultLabExtension.MODE_PARAMETER, "disabled"))
                .assertThatEvents().haveExactly(1, event(test("usesProxy"), finishedSuccessfully()));
    }

    @Test
    void anUnknownModeFailsNamingTheSetting() {
        run(NeedsLab.class, Map.of(FaultLabExtension.MODE_PARAMETER, "sometimes"))
                .assertThatEvents()
                .haveExactly(1, event(test("inTest"), finishedWithFailure(message(
                        "configuration parameter keepalive.faultLab must be one of auto, required, disabled, "
                                + "but was 'sometimes'"))));
    }

    @Test
    void theProxyFactoryIsInjectedAndClosedAfterTheTest() {
        NeedsProxy.factory = null;
        run(NeedsProxy.class, Map.of()).assertThatEvents()
                .haveExactly(1, event(test("usesProxy"), finishedSuccessfully()));
        assertNotNull(NeedsProxy.factory);
        assertThrows(IllegalStateException.class, () -> NeedsProxy.factory.track(() -> { }));
        assertThrows(IllegalStateException.class, NeedsProxy.proxy::start);
    }

    @Test
    void modesParse() {
        assertEquals(FaultLabMode.AUTO, FaultLabMode.parse(Optional.empty(), "x"));
        assertEquals(FaultLabMode.AUTO, FaultLabMode.parse(Optional.of(" "), "x"));
        assertEquals(FaultLabMode.REQUIRED, FaultLabMode.parse(Optional.of("Required"), "x"));
        assertEquals(FaultLabMode.DISABLED, FaultLabMode.parse(Optional.of("disabled"), "x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> FaultLabMode.parse(Optional.of("yes"), "environment variable KEEPALIVE_FAULT_LAB"));
        assertEquals("environment variable KEEPALIVE_FAULT_LAB must be one of auto, required, disabled, but was 'yes'",
                e.getMessage());
    }

    @Test
    void theReasonNamesTheMissingPieceWhenThereIsOne() {
        KernelFirewallLab.unavailableReason().ifPresent(reason -> assertTrue(
                reason.contains("root") || reason.contains("'ip'") || reason.contains("'nft'")
                        || reason.contains("Linux") || reason.contains("'sh'"), reason));
    }

    /** Run only through {@link EngineTestKit} (surefire skips nested classes). */
    @ExtendWith(FaultLabExtension.class)
    static class NeedsLab {
        @Test
        void inTest(KernelFirewallLab lab) {
            assertNotNull(lab.namespace());
        }

    }

    /** Run only through {@link EngineTestKit}: the lab is asked for by a {@code @BeforeEach} method. */
    @ExtendWith(FaultLabExtension.class)
    static class LabInBeforeEach {
        @BeforeEach
        void setUp(KernelFirewallLab lab) {
            assertNotNull(lab.namespace());
        }

        @Test
        void viaBeforeEach() {
        }
    }

    /** Run only through {@link EngineTestKit}. */
    @ExtendWith(FaultLabExtension.class)
    static class NeedsProxy {
        static FirewallProxyFactory factory;
        static FirewallProxy proxy;

        @Test
        void usesProxy(FirewallProxyFactory proxies) {
            factory = proxies;
            proxy = proxies.start(proxies.echoServer().address());
            assertNotNull(proxy.address());
        }
    }
}
