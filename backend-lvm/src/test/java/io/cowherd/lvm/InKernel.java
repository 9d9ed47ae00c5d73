package io.cowherd.lvm;

import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks tests that need a kernel with the device mapper and the LVM tools. They run inside
 * User-mode Linux, where {@link KernelHarnessTest} starts them (system property
 * {@code cowherd.kernel=uml}), or on a disposable root host when {@code COWHERD_LVM_TESTS=host}.
 * Anywhere else they are disabled with that reason and {@link KernelHarnessTest} runs them.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@Inherited
@ExtendWith(InKernel.Condition.class)
public @interface InKernel {

    /** Enables the tests only where {@link Condition#here()} says so. */
    final class Condition implements ExecutionCondition {
        /** Whether this JVM may drive the device mapper and LVM. */
        static boolean here() {
            return "uml".equals(System.getProperty("cowherd.kernel")) || "host".equals(System.getenv("COWHERD_LVM_TESTS"));
        }

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            if (!here()) {
                return ConditionEvaluationResult.disabled("needs the device mapper and LVM: runs inside User-mode "
                        + "Linux through KernelHarnessTest (or set COWHERD_LVM_TESTS=host on a disposable root host)");
            }
            if (!Files.isWritable(Path.of("/dev/mapper/control"))) {
                return ConditionEvaluationResult.disabled("/dev/mapper/control is missing or not writable");
            }
            return ConditionEvaluationResult.enabled("device mapper available");
        }
    }
}
