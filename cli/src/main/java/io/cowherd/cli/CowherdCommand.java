package io.cowherd.cli;

import java.io.PrintWriter;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The {@code cowherd} command: copy-on-write VM disk clones, with qemu-img's conventions. */
@Command(name = "cowherd", mixinStandardHelpOptions = true, scope = CommandLine.ScopeType.INHERIT,
        showDefaultValues = true, versionProvider = CowherdCommand.Version.class,
        description = "Turn one master disk image into many copy-on-write clones and libvirt domains.")
public final class CowherdCommand implements Runnable {
    /** The subcommands, in the order the help lists them. */
    static final List<Class<?>> SUBCOMMANDS = List.of(InfoCommand.class, CloneCommand.class, ConvertCommand.class,
            CheckCommand.class, CommitCommand.class, RebaseCommand.class, ResizeCommand.class, VolumesCommand.class,
            DeleteCommand.class, BackendsCommand.class, DomainCommand.class, QuickstartCommand.class, PoolCommand.class,
            BundleCommand.class, SeedCommand.class, FetchCommand.class, DeployCommand.class, TrackerCommand.class,
            HelpCommand.class, picocli.AutoComplete.GenerateCompletion.class,
            ManPagesCommand.class);

    /** Commands that describe the whole command tree, so they need all of it built. */
    private static final List<Class<?>> WHOLE_TREE = List.of(HelpCommand.class, picocli.AutoComplete.GenerateCompletion.class,
            ManPagesCommand.class);

    @Option(names = {"-v", "--verbose"}, description = "Log what cowherd does (to stderr).", scope = CommandLine.ScopeType.INHERIT)
    void verbose(boolean on) {
        if (on) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
        }
    }

    @Option(names = {"-q", "--quiet"}, description = "Print results and errors only: no progress, no warnings, no "
            + "library log.", scope = CommandLine.ScopeType.INHERIT)
    void quiet(boolean on) {
        if (on) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
        }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "name a command (see cowherd --help)");
    }

    /** Builds the command line with every subcommand, cowherd's error handling and exit codes. */
    public static CommandLine commandLine() {
        return commandLine((String) null);
    }

    /**
     * The command line {@code args} need: when they name a subcommand (after {@code -v} at most),
     * only that one is built. picocli builds a subcommand's whole model up front, and building all
     * of them cost a tenth of a CPU-second on every start; {@code seed} and {@code fetch} start on
     * every host of a swarm at once.
     */
    static CommandLine commandLine(String[] args) {
        for (String arg : args) {
            if (arg.equals("-v") || arg.equals("--verbose") || arg.equals("-q") || arg.equals("--quiet")) {
                continue;
            }
            for (Class<?> c : SUBCOMMANDS) {
                Command command = c.getAnnotation(Command.class);
                if ((command.name().equals(arg) || List.of(command.aliases()).contains(arg))
                        && !WHOLE_TREE.contains(c)) {
                    return commandLine(command.name());
                }
            }
            break;
        }
        return commandLine();
    }

    private static CommandLine commandLine(String only) {
        CommandLine cl = new CommandLine(new CowherdCommand());
        for (Class<?> c : SUBCOMMANDS) {
            if (only == null || only.equals(c.getAnnotation(Command.class).name())) {
                cl.addSubcommand(c);
            }
        }
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            String message = ApiTerms.toFlags(e.getMessage() == null ? e.toString() : e.getMessage());
            err.println("cowherd: " + message);
            if (Boolean.getBoolean("cowherd.debug")) {
                e.printStackTrace(err);
            }
            err.flush();
            return ExitCodes.of(e);
        });
        cl.setParameterExceptionHandler((e, args) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("cowherd: " + e.getMessage());
            err.println("Try '" + e.getCommandLine().getCommandSpec().qualifiedName() + " --help' for more information.");
            err.flush();
            return ExitCodes.USAGE;
        });
        return cl;
    }

    public static void main(String[] args) {
        // Quiet by default: a command's output is its result; -v asks for the story.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.exit(commandLine(args).execute(args));
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = CowherdCommand.class.getPackage().getImplementationVersion();
            return new String[] {"cowherd " + (v == null ? "(development build)" : v)};
        }
    }
}
