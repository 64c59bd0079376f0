namespace Qcow2Mount.TestSupport;

/// <summary>The outcome of one <see cref="ExternalTool"/> run: exit code and everything it printed.</summary>
public sealed record ToolResult(
    string FileName,
    IReadOnlyList<string> Arguments,
    int ExitCode,
    string StandardOutput,
    string StandardError,
    TimeSpan Elapsed)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The command as a person would type it (for messages only; never executed through a shell).</summary>
    public string CommandLine => ExternalTool.FormatCommandLine(FileName, Arguments);

    /// <summary>Returns this result, or throws with the command line and its stderr when the exit code is not 0.</summary>
    public ToolResult EnsureSuccess()
    {
        if (!Succeeded)
        {
            throw new InvalidOperationException(
                $"`{CommandLine}` exited with {ExitCode} after {Elapsed.TotalSeconds:0.0} s.\n" +
                $"stderr:\n{StandardError}\nstdout:\n{StandardOutput}");
        }

        return this;
    }
}
