package dev.keepalive.testkit;

import dev.keepalive.testkit.internal.FaultLabMode;
import java.lang.reflect.Method;
import java.lang.reflect.Parameter;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolutionException;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;
import org.junit.platform.commons.support.HierarchyTraversalMode;

/**
 * A JUnit Jupiter extension that hands tests the fault-injection tools and closes them afterwards.
 *
 * <table>
 *   <caption>Parameters it resolves</caption>
 *   <tr><th>type</th><th>what</th><th>closed</th></tr>
 *   <tr><td>{@link FirewallProxyFactory}</td><td>makes loopback proxies and echo servers; portable</td>
 *       <td>after the test (or after all tests, when injected into {@code @BeforeAll})</td></tr>
 *   <tr><td>{@link KernelFirewallLab}</td><td>a lab of its own per test (one per test, even if asked for twice),
 *       configured by {@link KernelLabSettings}; needs root, {@code ip} and {@code nft}</td>
 *       <td>likewise</td></tr>
 * </table>
 *
 * <p>When the machine cannot run the kernel lab, a test that asks for one (in its own parameters or those of a
 * {@code @BeforeEach}/{@code @BeforeAll} method) is <em>skipped</em>, and the skip message says why, e.g.
 * "KernelFirewallLab needs root (effective uid 0) ..., but this JVM runs with effective uid 1000". The environment
 * variable {@value #MODE_VARIABLE} (or the JUnit configuration parameter {@value #MODE_PARAMETER}, which wins)
 * changes that:
 * <ul>
 *   <li>unset, empty or {@code auto}: skip when unavailable;</li>
 *   <li>{@code required}: fail with the same message instead (CI sets this, so a broken CI image cannot silently
 *       skip the kernel tests);</li>
 *   <li>{@code disabled}: always skip kernel lab tests.</li>
 * </ul>
 *
 * <pre>{@code
 * @ExtendWith(FaultLabExtension.class)
 * class DeadPeerTest {
 *     @Test
 *     void proxyBlackHole(FirewallProxyFactory proxies) {
 *         FirewallProxy proxy = proxies.start(proxies.echoServer().address());
 *         // client -> proxy.address(); proxy.awaitFlow(0, ...).blackHole(); measure detection
 *     }
 *
 *     @Test
 *     void conntrackExpiry(@KernelLabSettings(conntrackTimeoutSeconds = 3) KernelFirewallLab lab) {
 *         PeerProcess server = lab.startJava(EchoServer.class, lab.peerAddress().getHostAddress(), "0");
 *         // ...
 *     }
 * }
 * }</pre>
 */
public final class FaultLabExtension
        implements ParameterResolver, BeforeAllCallback, BeforeEachCallback, AfterEachCallback, AfterAllCallback {

    /** The environment variable that selects skip or fail: {@code auto} (default), {@code required}, {@code disabled}. */
    public static final String MODE_VARIABLE = "KEEPALIVE_FAULT_LAB";
    /** The JUnit configuration parameter with the same meaning; it takes precedence over the variable. */
    public static final String MODE_PARAMETER = "keepalive.faultLab";
    /**
     * A JUnit configuration parameter that makes the extension act as if the kernel lab were unavailable, with the
     * parameter's value as the reason; for testing how a suite behaves on a machine without root.
     */
    public static final String SIMULATE_UNAVAILABLE_PARAMETER = "keepalive.faultLab.simulateUnavailable";

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(FaultLabExtension.class);
    private static final String LAB = "lab";
    private static final String PROXIES = "proxies";

    /** Creates the extension; JUnit does this for {@code @ExtendWith}. */
    public FaultLabExtension() {
    }

    @Override
    public boolean supportsParameter(ParameterContext parameterContext, ExtensionContext extensionContext) {
        Class<?> type = parameterContext.getParameter().getType();
        return type == FirewallProxyFactory.class || type == KernelFirewallLab.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameterContext, ExtensionContext context) {
        Parameter p = parameterContext.getParameter();
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        if (p.getType() == FirewallProxyFactory.class) {
            FirewallProxyFactory f = store.get(PROXIES, FirewallProxyFactory.class);
            if (f == null) {
                f = new FirewallProxyFactory();
                store.put(PROXIES, f);
            }
            return f;
        }
        try {
            return lab(context, settings(Optional.of(p), context));
        } catch (LabUnavailableException e) {
            throw new ParameterResolutionException(e.getMessage(), e);
        }
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        boolean needed = context.getTestClass()
                .map(c -> AnnotationSupport.findAnnotatedMethods(c, BeforeAll.class, HierarchyTraversalMode.TOP_DOWN))
                .orElse(java.util.List.of())
                .stream()
                .anyMatch(FaultLabExtension::takesLab);
        if (needed) {
            lab(context, settings(Optional.empty(), context));
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        Optional<Parameter> labParameter = context.getTestMethod().flatMap(FaultLabExtension::labParameter);
        boolean needed = labParameter.isPresent() || context.getTestClass()
                .map(c -> AnnotationSupport.findAnnotatedMethods(c, BeforeEach.class, HierarchyTraversalMode.TOP_DOWN))
                .orElse(java.util.List.of())
                .stream()
                .anyMatch(FaultLabExtension::takesLab);
        if (needed) {
            lab(context, settings(labParameter, context));
        }
    }

    @Override
    public void afterEach(ExtensionContext context) {
        closeAll(context);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        closeAll(context);
    }

    private static void closeAll(ExtensionContext context) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        FirewallProxyFactory proxies = store.remove(PROXIES, FirewallProxyFactory.class);
        KernelFirewallLab lab = store.remove(LAB, KernelFirewallLab.class);
        RuntimeException failure = null;
        if (proxies != null) {
            try {
                proxies.close();
            } catch (RuntimeException e) {
                failure = e;
            }
        }
        if (lab != null) {
            try {
                lab.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Returns the context's lab, creating it if needed. Skips (aborts) or fails the test if the lab cannot run, as
     * the mode says.
     */
    private static KernelFirewallLab lab(ExtensionContext context, Duration conntrackTimeout) {
        ExtensionContext.Store store = context.getStore(NAMESPACE);
        KernelFirewallLab lab = store.get(LAB, KernelFirewallLab.class);
        if (lab != null) {
            return lab;
        }
        FaultLabMode mode = mode(context);
        if (mode == FaultLabMode.DISABLED) {
            Assumptions.abort("KernelFirewallLab tests are disabled (" + MODE_VARIABLE + "=disabled)");
        }
        try {
            Optional<String> simulated = context.getConfigurationParameter(SIMULATE_UNAVAILABLE_PARAMETER);
            if (simulated.isPresent()) {
                throw new LabUnavailableException(simulated.get());
            }
            lab = KernelFirewallLab.builder().conntrackTimeout(conntrackTimeout).create();
        } catch (LabUnavailableException e) {
            if (mode == FaultLabMode.REQUIRED) {
                throw new LabUnavailableException(e.reason() + " [failing instead of skipping because "
                        + MODE_VARIABLE + "=required]", e);
            }
            Assumptions.abort(e.reason() + " [skipped; set " + MODE_VARIABLE + "=required to fail instead]");
        }
        store.put(LAB, lab);
        return lab;
    }

    private static FaultLabMode mode(ExtensionContext context) {
        Optional<String> parameter = context.getConfigurationParameter(MODE_PARAMETER);
        try {
            if (parameter.isPresent()) {
                return FaultLabMode.parse(parameter, "configuration parameter " + MODE_PARAMETER);
            }
            return FaultLabMode.parse(Optional.ofNullable(System.getenv(MODE_VARIABLE)),
                    "environment variable " + MODE_VARIABLE);
        } catch (IllegalArgumentException e) {
            throw new ExtensionConfigurationException(e.getMessage(), e);
        }
    }

    private static Duration settings(Optional<Parameter> parameter, ExtensionContext context) {
        Optional<KernelLabSettings> s = parameter.flatMap(p -> Optional.ofNullable(p.getAnnotation(KernelLabSettings.class)));
        if (s.isEmpty()) {
            s = context.getTestMethod().flatMap(m -> AnnotationSupport.findAnnotation(m, KernelLabSettings.class));
        }
        if (s.isEmpty()) {
            s = context.getTestClass().flatMap(c -> AnnotationSupport.findAnnotation(c, KernelLabSettings.class));
        }
        long seconds = s.map(KernelLabSettings::conntrackTimeoutSeconds)
                .orElse(KernelFirewallLab.DEFAULT_CONNTRACK_TIMEOUT.getSeconds());
        if (seconds < 1) {
            throw new ExtensionConfigurationException(
                    "KernelLabSettings.conntrackTimeoutSeconds must be >= 1, but was " + seconds);
        }
        return Duration.ofSeconds(seconds);
    }

    private static Optional<Parameter> labParameter(Method m) {
        return Arrays.stream(m.getParameters()).filter(p -> p.getType() == KernelFirewallLab.class).findFirst();
    }

    private static boolean takesLab(Method m) {
        return labParameter(m).isPresent();
    }
}
