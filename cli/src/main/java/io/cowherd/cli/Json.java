package io.cowherd.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import java.io.PrintWriter;

/**
 * The command line's {@code --output=json}: maps, lists, strings, numbers and booleans written by
 * Jackson in qemu-img's layout ({@code "key": value}, four-space indent), so tools that read
 * qemu-img's JSON read ours the same way.
 */
final class Json {
    private static final ObjectWriter WRITER;

    static {
        DefaultIndenter indent = new DefaultIndenter("    ", "\n");
        DefaultPrettyPrinter pretty = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER))
                .withObjectIndenter(indent).withArrayIndenter(indent);
        WRITER = new ObjectMapper().writer(pretty);
    }

    private Json() {
    }

    /** {@code value} as JSON text. */
    private static String text(Object value) {
        try {
            return WRITER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write " + value + " as JSON", e);
        }
    }

    /** Prints {@code value} as JSON on a line of its own. */
    static void print(PrintWriter out, Object value) {
        out.println(text(value));
    }
}
