package io.cowherd.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code cowherd help [COMMAND [SUBCOMMAND...]]}: the help of any command, nested ones included
 * ({@code cowherd help domain clone}); picocli's own help command stops at the first level.
 */
@Command(name = "help", helpCommand = true,
        description = "Show the help of cowherd or of a command, nested ones included (cowherd help pool watch).")
final class HelpCommand implements Callable<Integer> {
    @Parameters(paramLabel = "COMMAND", arity = "0..*", description = "A command and its subcommands.")
    List<String> path = new ArrayList<>();

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        CommandLine target = spec.commandLine().getParent();
        for (String name : path) {
            CommandLine next = target.getSubcommands().get(name);
            if (next == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "'" + name + "' is not a command of '"
                        + target.getCommandSpec().qualifiedName() + "'; its commands: "
                        + String.join(", ", target.getCommandSpec().subcommands().keySet()));
            }
            target = next;
        }
        PrintWriter out = spec.commandLine().getOut();
        target.usage(out);
        out.flush();
        return ExitCodes.OK;
    }
}
