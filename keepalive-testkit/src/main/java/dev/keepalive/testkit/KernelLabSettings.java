package dev.keepalive.testkit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Settings for the {@link KernelFirewallLab} that {@link FaultLabExtension} creates, on the parameter, the method
 * or the test class (the nearest one wins).
 *
 * <pre>{@code
 * @Test
 * void idleFlowIsForgotten(@KernelLabSettings(conntrackTimeoutSeconds = 3) KernelFirewallLab lab) { ... }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.PARAMETER, ElementType.METHOD, ElementType.TYPE})
public @interface KernelLabSettings {
    /** @return the established-TCP conntrack timeout in seconds, {@code >= 1}; default 5 */
    long conntrackTimeoutSeconds() default 5;
}
