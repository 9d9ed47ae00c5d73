package io.cowherd.cli;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cowherd man-pages -d DIR}: writes an AsciiDoc man page for cowherd and for each of its
 * commands, made by picocli's generator from the same annotations as the help, so the two cannot
 * disagree. {@code scripts/install-cowherd.sh} turns them into man pages with asciidoctor.
 */
@Command(name = "man-pages", hidden = true,
        description = "Write AsciiDoc man pages for cowherd and every command into a directory (asciidoctor -b manpage makes man pages of them).")
final class ManPagesCommand implements Callable<Integer> {
    @Option(names = {"-d", "--dir"}, paramLabel = "DIR", required = true, description = "Where to write the .adoc files.")
    File dir;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create " + dir);
        }
        List<CommandLine.Model.CommandSpec> pages = new ArrayList<>();
        collect(spec.root(), pages);
        return picocli.codegen.docgen.manpage.ManPageGenerator.generateManPage(dir, null, new boolean[0], true,
                pages.toArray(new CommandLine.Model.CommandSpec[0]));
    }

    /** {@code command} and every visible command below it, each once (aliases share a spec). */
    private static void collect(CommandLine.Model.CommandSpec command, List<CommandLine.Model.CommandSpec> pages) {
        if (command.usageMessage().hidden() || pages.contains(command)) {
            return;
        }
        pages.add(command);
        command.subcommands().values().forEach(sub -> collect(sub.getCommandSpec(), pages));
    }
}
