package io.cowherd.dmsnapshot;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks tests that need a kernel with the device mapper. They run inside User-mode Linux, where
 * {@link KernelHarnessTest} starts them (system property {@code cowherd.kernel=uml}), or on a real
 * host when {@code COWHERD_DM_TESTS=host} says that this host's device mapper may be used. Anywhere
 * else they are skipped, with that reason, and {@link KernelHarnessTest} reports their results.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
@ExtendWith(InKernel.Condition.class)
public @interface InKernel {

    /** Enables the tests only where {@link Condition#here()} says so. */
    final class Condition implements ExecutionCondition {
        /** Whether this JVM may drive the device mapper. */
        static boolean here() {
            return "uml".equals(System.getProperty("cowherd.kernel")) || "host".equals(System.getenv("COWHERD_DM_TESTS"));
        }

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (!here()) {
                return ConditionEvaluationResult.disabled("needs the device mapper: runs inside User-mode Linux "
                        + "through KernelHarnessTest (or set COWHERD_DM_TESTS=host on a disposable root host)");
            }
            if (!DeviceMapper.available()) {
                return ConditionEvaluationResult.disabled("/dev/mapper/control is missing or not writable");
            }
            return ConditionEvaluationResult.enabled("device mapper available");
        }
    }
}
