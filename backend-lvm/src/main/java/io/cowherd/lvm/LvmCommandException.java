package io.cowherd.lvm;

import io.cowherd.CowException;
import java.util.List;

/** An LVM command failed; the message holds the command and what LVM said on stderr. */
public class LvmCommandException extends CowException {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    LvmCommandException(List<String> command, int exitCode, String stderr) {
        super("'" + String.join(" ", command) + "' failed (exit " + exitCode + "): " + stderr.strip());
        this.exitCode = exitCode;
    }

    /** The exit status of the LVM command. */
    public int exitCode() {
        return exitCode;
    }
}
