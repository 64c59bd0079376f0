using System.CommandLine;
using System.CommandLine.Invocation;
using Qcow2Mount.Cli.Commands;
using Qcow2Mount.Operations;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli;

/// <summary>
/// The command tree and the one place where exceptions become a message line and an exit code.
/// </summary>
internal static class Cli
{
    public const string Name = "qcow2mount";

    /// <summary>Runs one command line; tests call this in-process with their own writers.</summary>
    internal static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var verbose = new Option<bool>("--verbose", "-v")
        {
            Description = "On errors, also print the exception with its stack trace",
            Recursive = true,
        };
        var root = new RootCommand(
            "Opens QCOW2 disk images: mounts them as a raw file, shows what is in them, converts, creates and checks them." +
            Environment.NewLine + Environment.NewLine + ExitCodes.Describe())
        {
            InfoCommand.Create(),
            ConvertCommand.Create(),
            HashCommand.Create(),
            SnapshotCommand.Create(),
            BenchCommand.Create(),
            CreateCommand.Create(),
            CheckCommand.Create(),
            ResizeCommand.Create(),
            ReportCommand.Create(),
            MapCommand.Create(),
            CompareCommand.Create(),
            DiffCommand.Create(),
        };
        foreach (var command in MountCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        foreach (var command in RegistrationCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        root.Options.Add(verbose);

        var parsed = root.Parse(MountCommands.NormalizeOverlayFlag(args));
        if (parsed.Action is ParseErrorAction)
        {
            // One line, like every other error; the full help is one --help away.
            error.WriteLine($"{Name}: {OneLine(parsed.Errors[0].Message)} (see '{Name} --help')");
            return ExitCodes.Usage;
        }

        try
        {
            return parsed.Invoke(new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
                // Ctrl+C cancels the command, which then ends as soon as that is safe: a convert deletes its
                // destination, a repair finishes what it started, a foreground mount flushes and unmounts. The default
                // (exit after 2 s) would kill that work midway.
                ProcessTerminationTimeout = Timeout.InfiniteTimeSpan,
            });
        }
#pragma warning disable CA1031 // The command's last stop: any failure becomes one line and an exit code, never a stack trace.
        catch (Exception e)
#pragma warning restore CA1031
        {
            var (exitCode, message) = Translate(e);
            error.WriteLine($"{Name}: {OneLine(message)}");
            if (parsed.GetValue(verbose))
            {
                error.WriteLine(e.ToString());
            }

            return exitCode;
        }
    }

    /// <summary>Every failure maps to one exit code here, through <see cref="ExitCodes"/>.</summary>
    private static (int ExitCode, string Message) Translate(Exception e) => e switch
    {
        OperationException o => (o.ServiceCode is { } service ? ExitCodes.ForService(service) : ExitCodes.For(o.Code), o.Message),
        OperationCanceledException => (ExitCodes.Cancelled, "interrupted"),
        Qcow2Exception q => (ExitCodes.For(q.Code), q.Message),
        UsageException u => (ExitCodes.Usage, u.Message),
        Control.ControlException c => (ExitCodes.ForService(c.Code), c.Message),
        Service.Configuration.ConfigurationValidationException v => (ExitCodes.Usage, string.Join("; ", v.Errors)),
        Service.Mounts.MountException m => (ExitCodes.ForService(m.Code), m.Message),
        FileNotFoundException or DirectoryNotFoundException => (ExitCodes.For(Qcow2ErrorCode.MissingFile), e.Message),
        UnauthorizedAccessException or IOException => (ExitCodes.For(Qcow2ErrorCode.Io), e.Message),
        _ => (ExitCodes.Internal, $"internal error: {e.GetType().Name}: {e.Message}"),
    };

    private static string OneLine(string message) =>
        message.ReplaceLineEndings(" ").Trim();
}
