package io.cowherd.testkit.kernel;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks test classes that need a kernel with the device mapper (dm-snapshot, dm-thin, loop, LVM).
 * They run inside User-mode Linux, where a {@link UserModeLinux} harness starts them through
 * {@link KernelTestMain} (system property {@code cowherd.kernel=uml}), or on a disposable root
 * host when {@code COWHERD_KERNEL_TESTS=host} says this host's device mapper may be used.
 * Anywhere else they are disabled with that reason, and the harness test reports their results.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
@ExtendWith(InKernel.Condition.class)
@Tag(InKernel.TAG)
public @interface InKernel {
    /**
     * The tag of in-kernel test classes: the host's surefire run leaves them out (the harness
     * reports their results), unless {@code -Dcowherd.test.excludedGroups=none} (with
     * {@code COWHERD_KERNEL_TESTS=host}) runs them on this host.
     */
    String TAG = "in-kernel";


    /** Enables the tests only where {@link #here()} says so and the device mapper is usable. */
    final class Condition implements ExecutionCondition {
        /** Whether this JVM may drive the device mapper. */
        public static boolean here() {
            return "uml".equals(System.getProperty("cowherd.kernel"))
                    || "host".equals(System.getenv("COWHERD_KERNEL_TESTS"));
        }

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (!here()) {
                return ConditionEvaluationResult.disabled("needs the device mapper: runs inside User-mode Linux "
                        + "through the module's KernelHarnessTest (or set COWHERD_KERNEL_TESTS=host on a disposable "
                        + "root host)");
            }
            if (!Files.isWritable(Path.of("/dev/mapper/control"))) {
                return ConditionEvaluationResult.disabled("/dev/mapper/control is missing or not writable");
            }
            return ConditionEvaluationResult.enabled("device mapper available");
        }
    }
}
