package io.cowherd.cli;

import picocli.CommandLine.Option;

/** {@code --output=human|json}, as qemu-img spells it; the JSON keys are documented in docs/cli-json.md. */
final class OutputOption {
    /** What the command prints. */
    enum Format {
        human,
        json
    }

    @Option(names = "--output", paramLabel = "FORMAT", defaultValue = "human",
            description = "Output format: ${COMPLETION-CANDIDATES}.")
    Format format;

    boolean json() {
        return format == Format.json;
    }
}
