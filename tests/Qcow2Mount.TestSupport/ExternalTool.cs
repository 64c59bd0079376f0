using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using NUnit.Framework;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// The one runner of command-line tools for every test project: finds them on PATH and runs them with an argument
/// list (never a shell string), one timeout (<see cref="DefaultTimeout"/>) and captured output. One skip rule: a
/// test that needs a missing tool is ignored (<c>Assert.Ignore("TOOL not installed: how to install it")</c>),
/// whether it asks first with <see cref="RequireTool(string)"/> or just runs the tool; such tests are reported, never
/// silently passed.
/// </summary>
public static class ExternalTool
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    private static readonly string[] SystemDirectories = OperatingSystem.IsWindows() ? [] : ["/usr/sbin", "/sbin"];

    private static readonly Dictionary<string, string> InstallHints = new(StringComparer.OrdinalIgnoreCase)
    {
        ["qemu-img"] = "install qemu-utils (Debian/Ubuntu: apt-get install qemu-utils; Fedora: dnf install qemu-img; Windows: https://qemu.weilnetz.de/)",
        ["qemu-io"] = "install qemu-utils (Debian/Ubuntu: apt-get install qemu-utils; Fedora: dnf install qemu-img)",
        ["qemu-nbd"] = "install qemu-utils (Debian/Ubuntu: apt-get install qemu-utils; Fedora: dnf install qemu-img)",
        ["fusermount3"] = "install FUSE 3 (Debian/Ubuntu: apt-get install fuse3) and make /dev/fuse available",
        ["pwsh"] = "install PowerShell 7 (https://learn.microsoft.com/powershell/scripting/install/installing-powershell)",
        ["mmls"] = "install The Sleuth Kit (Debian/Ubuntu: apt-get install sleuthkit)",
        ["fls"] = "install The Sleuth Kit (Debian/Ubuntu: apt-get install sleuthkit)",
        ["icat"] = "install The Sleuth Kit (Debian/Ubuntu: apt-get install sleuthkit)",
        ["qcowinfo"] = "install libqcow tools (Debian/Ubuntu: apt-get install libqcow-utils)",
        ["bash"] = "install bash (on Windows: Git for Windows or WSL)",
        ["python3"] = "install Python 3 (Debian/Ubuntu: apt-get install python3)",
        ["zstd"] = "install zstd (Debian/Ubuntu: apt-get install zstd)",
        ["sfdisk"] = "install fdisk (Debian/Ubuntu: apt-get install fdisk)",
        ["sgdisk"] = "install gdisk (Debian/Ubuntu: apt-get install gdisk)",
        ["blkid"] = "install util-linux (Debian/Ubuntu: apt-get install util-linux)",
        ["mkfs.fat"] = "install dosfstools (Debian/Ubuntu: apt-get install dosfstools)",
        ["mkfs.ext4"] = "install e2fsprogs (Debian/Ubuntu: apt-get install e2fsprogs)",
        ["mkntfs"] = "install ntfs-3g (Debian/Ubuntu: apt-get install ntfs-3g)",
        ["mcopy"] = "install mtools (Debian/Ubuntu: apt-get install mtools)",
    };

    /// <summary>
    /// The full path of <paramref name="name"/> on PATH (with PATHEXT on Windows), else in /usr/sbin or /sbin (where
    /// sfdisk and mkfs live, often not on a user's PATH), or null.
    /// </summary>
    public static string? Find(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal) ||
            name.Contains(Path.AltDirectorySeparatorChar, StringComparison.Ordinal))
        {
            return IsExecutable(name) ? Path.GetFullPath(name) : null;
        }

        var extensions = RuntimeInformation.IsOSPlatform(OSPlatform.Windows)
            ? [string.Empty, .. (Environment.GetEnvironmentVariable("PATHEXT") ?? ".EXE;.CMD;.BAT").Split(';', StringSplitOptions.RemoveEmptyEntries)]
            : new[] { string.Empty };
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var extension in extensions)
            {
                var candidate = Path.Combine(dir.Trim('"'), name + extension);
                if (IsExecutable(candidate))
                {
                    return candidate;
                }
            }
        }

        foreach (var dir in SystemDirectories)
        {
            var candidate = Path.Combine(dir, name);
            if (IsExecutable(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>How to install <paramref name="name"/>, for ignore messages.</summary>
    public static string InstallHint(string name) =>
        InstallHints.TryGetValue(name, out var hint) ? hint : $"install {name} and put it on PATH";

    /// <summary>
    /// The full path of <paramref name="name"/>; when it is not on PATH the calling test is ignored
    /// (<see cref="Assert.Ignore(string)"/>) with an install hint.
    /// </summary>
    public static string RequireTool(string name)
    {
        var path = Find(name);
        if (path is null)
        {
            Assert.Ignore($"{name} not installed: {InstallHint(name)}");
        }

        return path!;
    }

    /// <summary><see cref="RequireTool(string)"/> for a tool the hints do not know, named with its Debian package.</summary>
    public static string RequireTool(string name, string debianPackage)
    {
        var path = Find(name);
        if (path is null)
        {
            Assert.Ignore($"{name} not installed: install {debianPackage} (Debian/Ubuntu: apt-get install {debianPackage})");
        }

        return path!;
    }

    /// <summary>
    /// Runs <paramref name="fileName"/> (a name on PATH or a path) with <paramref name="arguments"/>, waits at most
    /// <paramref name="timeout"/> (default 2 minutes; then the process tree is killed and
    /// <see cref="TimeoutException"/> thrown), and returns the exit code and output. Standard input is closed at
    /// once: qemu-io, for one, reads commands from stdin and would otherwise eat the caller's input or wait.
    /// A tool that is not installed ignores the calling test, as <see cref="RequireTool(string)"/> does.
    /// </summary>
    public static ToolResult Run(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null) =>
        RunAsync(fileName, arguments, timeout, workingDirectory, environment).GetAwaiter().GetResult();

    /// <inheritdoc cref="Run"/>
    public static async Task<ToolResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        var args = arguments.ToArray();
        var resolved = RequireTool(fileName);

        var startInfo = new ProcessStartInfo(resolved)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? string.Empty,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                if (value is null)
                {
                    startInfo.Environment.Remove(key);
                }
                else
                {
                    startInfo.Environment[key] = value;
                }
            }
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"could not start {FormatCommandLine(resolved, args)}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);

        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout ?? DefaultTimeout);
        try
        {
            await process.WaitForExitAsync(timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException(
                $"`{FormatCommandLine(resolved, args)}` did not finish within {(timeout ?? DefaultTimeout).TotalSeconds:0.###} s " +
                $"and was killed.\nstderr:\n{await stderr.ConfigureAwait(false)}\nstdout:\n{await stdout.ConfigureAwait(false)}");
        }

        return new ToolResult(
            resolved,
            args,
            process.ExitCode,
            await stdout.ConfigureAwait(false),
            await stderr.ConfigureAwait(false),
            stopwatch.Elapsed);
    }

    /// <summary>A readable, shell-like rendering of a command, for messages.</summary>
    public static string FormatCommandLine(string fileName, IEnumerable<string> arguments) =>
        string.Join(' ', new[] { fileName }.Concat(arguments).Select(Quote));

    private static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,+@%".Contains(c, StringComparison.Ordinal))
            ? arg
            : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static bool IsExecutable(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
        {
            return true;
        }

        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (File.GetUnixFileMode(path) & anyExecute) != 0;
    }
}
