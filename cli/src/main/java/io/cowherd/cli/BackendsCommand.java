package io.cowherd.cli;

import io.cowherd.Backends;
import io.cowherd.CowBackend;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

/** {@code cowherd backends}: the clone backends available and what each can do. */
@Command(name = "backends", description = "List the clone backends available and their capabilities.")
final class BackendsCommand implements Callable<Integer> {
    @CommandLine.Mixin
    OutputOption output;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (output.json()) {
            Json.print(out, Backends.all().values().stream().map(b -> {
                java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
                m.put("name", b.name());
                m.put("volume-format", b.volumeFormat());
                m.put("volumes-are-files", b.volumesAreFiles());
                m.put("capabilities", b.capabilities().stream().map(Enum::name).toList());
                return m;
            }).toList());
            out.flush();
            return ExitCodes.OK;
        }
        for (CowBackend b : Backends.all().values()) {
            out.printf("%-12s format=%-6s %s%n", b.name(), b.volumeFormat(), b.capabilities());
        }
        out.flush();
        return ExitCodes.OK;
    }
}
