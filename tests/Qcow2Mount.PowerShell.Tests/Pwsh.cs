using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Qcow2Mount.PowerShell.Tests;

/// <summary>What a script run printed, and the value it saved with Save-Result (JSON), if any.</summary>
internal sealed record PwshResult(int ExitCode, string Output, string Error, JsonElement? Result)
{
    public string Describe() => $"exit code {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";

    public JsonElement Value => Result ?? throw new AssertionException("the script saved no result: " + Describe());
}

/// <summary>
/// Runs PowerShell scripts in a real pwsh process that has imported the module, as a user's script would. pwsh is
/// the one CI installs (<c>.tools/pwsh</c>), else the first on PATH; without one the test is ignored, saying so.
/// </summary>
internal static class Pwsh
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The module as the build lays it out (the psd1 the build writes beside the assemblies).</summary>
    public static string ModuleManifest => Path.Combine(Metadata("ModuleFolder"), "Qcow2Mount.psd1");

    /// <summary>The version Directory.Build.props gives the product.</summary>
    public static string ProductVersion { get; } = System.Xml.Linq.XDocument.Load(Path.Combine(RepositoryRoot, "Directory.Build.props"))
        .Descendants("Version").First().Value;

    public static string Find()
    {
        string name = OperatingSystem.IsWindows() ? "pwsh.exe" : "pwsh";
        if (ExternalTool.Find(name) is { } onPath)
        {
            return onPath;
        }

        string local = Path.Combine(RepositoryRoot, ".tools", name);
        if (File.Exists(local))
        {
            return local;
        }

        Assert.Ignore("pwsh not installed: dotnet tool install PowerShell --version 7.6.9 --tool-path .tools (bash .ci/run does this)");
        return "";
    }

    /// <summary>
    /// The qcow2mount executable mount tests start the service from: the published one CI names in
    /// QCOW2MOUNT_PUBLISHED (what users get), else the one this build made.
    /// </summary>
    public static string ServiceExecutable()
    {
        if (Environment.GetEnvironmentVariable("QCOW2MOUNT_PUBLISHED") is { Length: > 0 } published && File.Exists(published))
        {
            return published;
        }

        string built = Path.Combine(Metadata("CliFolder"), OperatingSystem.IsWindows() ? "qcow2mount.exe" : "qcow2mount");
        Assert.That(File.Exists(built), Is.True, $"{built} was not built");
        return built;
    }

    /// <summary>
    /// Runs <paramref name="script"/> after importing the module (unless <paramref name="importModule"/> is false),
    /// with <c>$ErrorActionPreference = 'Stop'</c>. The script hands values back with <c>Save-Result $value</c>
    /// (saved as JSON). <paramref name="environment"/> adds or (with null) removes variables.
    /// </summary>
    public static PwshResult Run(string script, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null,
        bool importModule = true)
    {
        string pwsh = Find();
        using var dir = new TempDir("pwsh-script");
        string resultFile = dir.Combine("result.json");
        string scriptFile = dir.Combine("test.ps1");
        var text = new StringBuilder()
            .AppendLine("$ErrorActionPreference = 'Stop'")
            .AppendLine("function Save-Result($Value) { ConvertTo-Json -InputObject $Value -Depth 8 | Set-Content -LiteralPath $env:QCOW2MOUNT_TEST_RESULT }");
        if (importModule)
        {
            text.AppendLine($"Import-Module '{ModuleManifest.Replace("'", "''", StringComparison.Ordinal)}'");
        }

        text.AppendLine(script);
        File.WriteAllText(scriptFile, text.ToString());

        var start = new ProcessStartInfo(pwsh)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? dir.Path,
        };
        foreach (string argument in new[] { "-NoProfile", "-NonInteractive", "-File", scriptFile })
        {
            start.ArgumentList.Add(argument);
        }

        // Plain text (no colour escapes), no update check or telemetry, a wide host for readable failures.
        start.Environment["NO_COLOR"] = "1";
        start.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
        start.Environment["POWERSHELL_UPDATECHECK"] = "Off";
        start.Environment["COLUMNS"] = "200";
        start.Environment["QCOW2MOUNT_TEST_RESULT"] = resultFile;
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"pwsh did not finish within {Timeout.TotalSeconds} s:\n{output.Result}\n{error.Result}");
        }

        JsonElement? result = null;
        if (File.Exists(resultFile))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(resultFile));
            result = document.RootElement.Clone();
        }

        var run = new PwshResult(process.ExitCode, output.Result, error.Result, result);
        TestContext.Out.WriteLine(run.Output);
        TestContext.Out.WriteLine(run.Error);
        return run;
    }

    /// <summary>Runs a script that must succeed (exit code 0), and returns what it saved.</summary>
    public static PwshResult RunOk(string script, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var result = Run(script, environment, workingDirectory);
        Assert.That(result.ExitCode, Is.Zero, result.Describe());
        return result;
    }

    /// <summary>A single-quoted PowerShell string literal.</summary>
    public static string Quote(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Metadata(string key) =>
        typeof(Pwsh).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Qcow2Mount.sln not found above the test binaries");
    }
}
