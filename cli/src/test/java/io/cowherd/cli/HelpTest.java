package io.cowherd.cli;

import static io.cowherd.cli.CliTest.cowherd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cowherd.cli.CliTest.Run;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Help and man pages for every command path, nested ones included, as a new user reaches them:
 * {@code --help}, {@code -h} and {@code cowherd help PATH} exit 0, show the command's usage and
 * every visible option, and print no warning (picocli warns on stderr, outside the command's
 * own streams, when a description cannot be formatted); the man pages cover the same commands.
 */
class HelpTest {
    @TempDir
    Path dir;

    /** Every visible command path below {@code cowherd}, e.g. {@code [pool, activate]}. */
    private static List<List<String>> paths(CommandLine cl, List<String> prefix, List<List<String>> into) {
        cl.getSubcommands().forEach((name, sub) -> {
            if (!sub.getCommandSpec().usageMessage().hidden() && name.equals(sub.getCommandName())) {
                List<String> path = new ArrayList<>(prefix);
                path.add(name);
                into.add(path);
                paths(sub, path, into);
            }
        });
        return into;
    }

    private static CommandLine.Model.CommandSpec spec(List<String> path) {
        CommandLine cl = CowherdCommand.commandLine();
        for (String name : path) {
            cl = cl.getSubcommands().get(name);
        }
        return cl.getCommandSpec();
    }

    @Test
    void everyCommandPathHasHelpWithEveryOptionAndNoWarning() {
        List<List<String>> paths = paths(CowherdCommand.commandLine(), List.of(), new ArrayList<>());
        assertTrue(paths.size() > 25, "nested commands found too: " + paths);
        PrintStream stderr = System.err;
        ByteArrayOutputStream warnings = new ByteArrayOutputStream();
        System.setErr(new PrintStream(warnings, true, StandardCharsets.UTF_8));
        try {
            for (List<String> path : paths) {
                String usage = "Usage: cowherd " + String.join(" ", path);
                List<String[]> asks = List.of(concat(path, "--help"), concat(path, "-h"), concat(List.of("help"), path.toArray(String[]::new)));
                for (String[] ask : asks) {
                    Run r = cowherd(ask);
                    String what = String.join(" ", ask);
                    assertEquals(0, r.exit(), what + ": " + r.err());
                    assertTrue(r.out().startsWith(usage), what + ":\n" + r.out());
                    assertEquals("", r.err(), what);
                    for (CommandLine.Model.OptionSpec o : spec(path).options()) {
                        if (!o.hidden()) {
                            assertTrue(r.out().contains(o.longestName()), what + " lists " + o.longestName() + ":\n" + r.out());
                        }
                    }
                }
            }
        } finally {
            System.setErr(stderr);
        }
        assertEquals("", warnings.toString(StandardCharsets.UTF_8), "no warning while printing help");
    }

    private static String[] concat(List<String> path, String... more) {
        return Stream.concat(path.stream(), Arrays.stream(more)).toArray(String[]::new);
    }

    @Test
    void manPagesCoverEveryCommandPath() throws Exception {
        Run r = cowherd("man-pages", "-d", dir.toString());
        assertEquals(0, r.exit(), r.err());
        Set<String> pages;
        try (Stream<Path> s = Files.list(dir)) {
            pages = s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
        assertTrue(pages.contains("cowherd.adoc"), pages.toString());
        for (List<String> path : paths(CowherdCommand.commandLine(), List.of(), new ArrayList<>())) {
            String page = "cowherd-" + String.join("-", path) + ".adoc";
            assertTrue(pages.contains(page), page + " in " + pages);
            String text = Files.readString(dir.resolve(page));
            for (CommandLine.Model.OptionSpec o : spec(path).options()) {
                if (!o.hidden()) {
                    assertTrue(text.contains(o.longestName()), page + " documents " + o.longestName());
                }
            }
        }
        // asciidoctor (installed with the test peers) turns them into man pages, as the install script does.
        Process p = new ProcessBuilder("asciidoctor", "-b", "manpage", "-D", dir.resolve("man1").toString(),
                dir.resolve("cowherd-pool-activate.adoc").toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertEquals("", out, "asciidoctor has no complaint");
        assertTrue(Files.readString(dir.resolve("man1/cowherd-pool-activate.1")).contains(".TH \"COWHERD\\-POOL\\-ACTIVATE\" \"1\""));
    }
}
