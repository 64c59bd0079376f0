using System.Text;

namespace Qcow2Mount.Windows.Tests;

/// <summary>
/// The published win-x64 <c>qcow2mount.exe</c> (<see cref="Variable"/>, set by <c>bash .ci/run</c> and
/// <c>build.ps1</c>), run natively on Windows and under Wine elsewhere, with the Wine settings that keep its
/// answers honest: no debugger on a crash (else the shell sees exit 0) and no Wine chatter on standard error.
/// Tests call <see cref="Require"/>, which ignores them, saying why, when the build or Wine is missing.
/// </summary>
internal sealed class WindowsBuild
{
    public const string Variable = "QCOW2MOUNT_WINDOWS_PUBLISHED";

    /// <summary>A Wine start takes 0.2-1.5 s; a first start in a new prefix builds it (about 10 s).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    private WindowsBuild(string executable, string? wine)
    {
        Executable = executable;
        Wine = wine;
    }

    public string Executable { get; }

    /// <summary>The wine program, or null on Windows.</summary>
    public string? Wine { get; }

    public static WindowsBuild Require()
    {
        string? executable = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(executable))
        {
            Assert.Ignore($"{Variable} is not set: publish the Windows build (pwsh build.ps1 publish -Runtime win-x64) and point it at "
                + "artifacts/publish/win-x64/qcow2mount.exe (bash .ci/run does both)");
        }

        if (!File.Exists(executable))
        {
            Assert.Fail($"{Variable} names '{executable}', which does not exist");
        }

        if (OperatingSystem.IsWindows())
        {
            return new WindowsBuild(Path.GetFullPath(executable), null);
        }

        string? wine = ExternalTool.Find("wine");
        if (wine is null)
        {
            Assert.Ignore("wine not installed: the Windows build runs here under Wine (Debian/Ubuntu: apt-get install wine64; bash .ci/run installs it)");
        }

        return new WindowsBuild(Path.GetFullPath(executable), wine);
    }

    /// <summary>Runs qcow2mount.exe with <paramref name="arguments"/> (Windows paths already).</summary>
    public ToolResult Run(params string[] arguments) => RunAsync(arguments).GetAwaiter().GetResult();

    public Task<ToolResult> RunAsync(IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null)
    {
        var env = new Dictionary<string, string?>
        {
            ["WINEDEBUG"] = "-all",
            ["WINEDLLOVERRIDES"] = "winedbg.exe=d",
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            env[key] = value;
        }

        return Wine is null
            ? ExternalTool.RunAsync(Executable, arguments, timeout ?? Timeout, environment: env)
            : RunUnderWineAsync(Wine, [Executable, .. arguments], env, timeout ?? Timeout);
    }

    /// <summary>Runs a program of the Wine prefix (<c>cmd</c>, <c>winepath</c>); only under Wine.</summary>
    public ToolResult RunWineProgram(params string[] arguments) =>
        RunUnderWineAsync(Wine ?? throw new InvalidOperationException("not under Wine"), arguments,
            new Dictionary<string, string?> { ["WINEDEBUG"] = "-all" }, Timeout).GetAwaiter().GetResult();

    /// <summary>
    /// Runs wine with its output in files, not pipes: the Wine processes a first start brings up (wineserver,
    /// services.exe, ...) keep the file descriptors they were started with, so output read from a pipe would not
    /// end until they do, which is after the last Wine program, such as a running service, has exited.
    /// </summary>
    private static async Task<ToolResult> RunUnderWineAsync(string wine, string[] arguments, Dictionary<string, string?> environment, TimeSpan timeout)
    {
        string output = Path.GetTempFileName();
        string error = Path.GetTempFileName();
        try
        {
            environment["QCOW2MOUNT_TEST_STDOUT"] = output;
            environment["QCOW2MOUNT_TEST_STDERR"] = error;
            var result = await ExternalTool.RunAsync("sh",
                ["-c", "exec \"$0\" \"$@\" </dev/null >\"$QCOW2MOUNT_TEST_STDOUT\" 2>\"$QCOW2MOUNT_TEST_STDERR\"", wine, .. arguments],
                timeout, environment: environment).ConfigureAwait(false);
            return result with
            {
                FileName = wine,
                Arguments = arguments,
                StandardOutput = await File.ReadAllTextAsync(output).ConfigureAwait(false),
                StandardError = await File.ReadAllTextAsync(error).ConfigureAwait(false) + result.StandardError,
            };
        }
        finally
        {
            File.Delete(output);
            File.Delete(error);
        }
    }

    /// <summary>
    /// The path a Windows program uses for the local <paramref name="path"/>: itself on Windows; under Wine the
    /// Linux root is drive Z:, so <c>/tmp/a b/x.qcow2</c> is <c>Z:\tmp\a b\x.qcow2</c>.
    /// </summary>
    public string WindowsPath(string path)
    {
        string full = Path.GetFullPath(path);
        return Wine is null ? full : "Z:" + full.Replace('/', '\\');
    }

    /// <summary>
    /// Makes <paramref name="folder"/> a drive of its own for the Windows build (a letter other than C: and Z:),
    /// so paths look as on a user's machine: <c>Q:\My Images\disk.qcow2</c>. On Windows it returns the folder
    /// itself (a real user's path, with its own drive letter). Disposing removes the drive.
    /// </summary>
    public MappedDrive MapDrive(string folder)
    {
        if (Wine is null)
        {
            return new MappedDrive(Path.GetFullPath(folder), null);
        }

        string prefix = Environment.GetEnvironmentVariable("WINEPREFIX") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".wine");
        string devices = Path.Combine(prefix, "dosdevices");
        if (!Directory.Exists(devices))
        {
            // A fresh prefix: the first Wine start creates it.
            Run("--version").EnsureSuccess();
        }

        foreach (char letter in "QPONMLKJ")
        {
            string link = Path.Combine(devices, char.ToLowerInvariant(letter) + ":");
            if (File.Exists(link) || Directory.Exists(link) || new FileInfo(link).LinkTarget is not null)
            {
                continue;
            }

            try
            {
                File.CreateSymbolicLink(link, Path.GetFullPath(folder));
                return new MappedDrive($@"{letter}:\", link);
            }
            catch (IOException)
            {
                // Taken by a test running alongside: try the next letter.
            }
        }

        Assert.Inconclusive("no free drive letter from Q: down to J: in the Wine prefix");
        return null!;
    }

    /// <summary>Standard output and error together, for assertion messages.</summary>
    public static string Describe(ToolResult result)
    {
        var text = new StringBuilder();
        text.Append(result.CommandLine).Append(" -> exit ").Append(result.ExitCode).AppendLine();
        text.Append("stdout: ").AppendLine(result.StandardOutput.Trim());
        text.Append("stderr: ").Append(result.StandardError.Trim());
        return text.ToString();
    }
}

/// <summary>A folder seen by the Windows build as the root of a drive (<see cref="Root"/> is <c>Q:\</c>).</summary>
internal sealed class MappedDrive(string root, string? link) : IDisposable
{
    public string Root { get; } = root;

    /// <summary>The Windows path of <paramref name="relative"/> inside the drive (forward or back slashes).</summary>
    public string Windows(string relative) => Root.TrimEnd('\\', '/') + "\\" + relative.Replace('/', '\\').TrimStart('\\');

    public void Dispose()
    {
        if (link is not null)
        {
            File.Delete(link);
        }
    }
}
