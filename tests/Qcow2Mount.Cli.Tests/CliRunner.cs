namespace Qcow2Mount.Cli.Tests;

/// <summary>Runs qcow2mount in-process, capturing what it prints.</summary>
internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = Cli.Run(args, output, error);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Runs with the current directory set, for names that are relative on purpose.</summary>
    public static CliResult RunIn(string directory, params string[] args)
    {
        string previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = directory;
        try
        {
            return Run(args);
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }
    }
}

internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public CliResult Succeeded()
    {
        Assert.That(ExitCode, Is.Zero, $"qcow2mount failed: {Error}");
        return this;
    }
}
