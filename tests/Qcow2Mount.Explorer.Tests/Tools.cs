using System.Diagnostics;

namespace Qcow2Mount.Explorer.Tests;

/// <summary>Runs the external tools these tests need (msiinfo, msibuild, wine) with a time limit; none may hang a test run.</summary>
internal static class Tools
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);

    public static bool Exists(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(dir => dir.Length > 0 && File.Exists(Path.Combine(dir, tool)));

    /// <summary>The MSI CI built (QCOW2MOUNT_MSI), or an ignored test saying why there is none.</summary>
    public static string Msi()
    {
        string? msi = Environment.GetEnvironmentVariable("QCOW2MOUNT_MSI");
        if (string.IsNullOrEmpty(msi))
        {
            Assert.Ignore("QCOW2MOUNT_MSI not set: build the MSI with 'pwsh build.ps1 installer' and point QCOW2MOUNT_MSI at it");
        }

        if (!File.Exists(msi))
        {
            Assert.Fail($"QCOW2MOUNT_MSI names a file that does not exist: {msi}");
        }

        if (!Exists("msiinfo"))
        {
            Assert.Ignore("msiinfo not installed: apt-get install msitools");
        }

        return Path.GetFullPath(msi!);
    }

    public static (int ExitCode, string Output, string Error) Run(string file, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        // Output arrives through events, not ReadToEnd: a daemon the command starts (wineserver, the mount service) can
        // inherit the pipes and keep them open long after the command itself has exited.
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(error, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout ?? DefaultTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:0} s");
        }

        // What the command wrote before it exited is still in the pipe: give the readers a moment to drain it.
        Thread.Sleep(200);
        lock (output)
        {
            lock (error)
            {
                return (process.ExitCode, output.ToString(), error.ToString());
            }
        }
    }

    private static void Append(System.Text.StringBuilder text, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (text)
        {
            text.Append(line.Replace("\r", "", StringComparison.Ordinal)).Append('\n');
        }
    }

    /// <summary>The rows of one table as <c>msiinfo export</c> prints them (three header lines skipped).</summary>
    public static List<string[]> MsiTable(string msi, string table)
    {
        var (exit, output, error) = Run("msiinfo", ["export", msi, table]);
        Assert.That(exit, Is.Zero, $"msiinfo export {table}: {error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(3).Select(line => line.Split('\t')).ToList();
    }
}
