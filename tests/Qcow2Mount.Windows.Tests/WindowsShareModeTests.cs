using System.Diagnostics;

namespace Qcow2Mount.Windows.Tests;

/// <summary>
/// The one-writer rule of the Windows build, which rests on Windows share modes (not on the byte-range locks of
/// Linux): while one qcow2mount.exe writes an image, a second writer is refused with the "locked" exit code and
/// the image is left as the first writer leaves it. Under Wine, share modes hold between Wine processes only, so
/// both writers are Windows processes here.
/// </summary>
[TestFixture]
internal sealed class WindowsShareModeTests
{
    private const int Locked = 10;

    [Test]
    public async Task A_second_writer_is_refused_while_the_first_writes()
    {
        var windows = WindowsBuild.Require();
        ExternalTool.RequireTool("qemu-img");
        using var dir = new TempDir("windows-share");
        string image = dir.Combine("shared disk.qcow2");
        string windowsPath = windows.WindowsPath(image);
        windows.Run("create", windowsPath, "64M").EnsureSuccess();

        // The first writer: a write benchmark that flushes after every request runs for minutes; it is stopped below.
        var writer = windows.RunAsync(["bench", "-w", "-c", "100000000", "-d", "1", "-s", "4K", "--flush-interval", "1", windowsPath],
            timeout: TimeSpan.FromMinutes(10));

        await WaitUntilOpen(image, writer);
        var refused = await windows.RunAsync(["snapshot", "create", windowsPath, "second writer"]);

        Assert.That(writer.IsCompleted, Is.False, writer.IsCompleted ? WindowsBuild.Describe(await writer) : "the benchmark runs");
        Assert.That(refused.ExitCode, Is.EqualTo(Locked), WindowsBuild.Describe(refused));
        Assert.That(refused.StandardError.Trim().Split('\n'), Has.Length.EqualTo(1), WindowsBuild.Describe(refused));
        // Windows says only that the share modes conflict, not whether a writer or a locking reader holds the file.
        Assert.That(refused.StandardError, Does.Contain("in use by another process"), WindowsBuild.Describe(refused));

        // End the first writer (a killed writer is what a crash looks like), then the image opens again and repairs cleanly.
        KillWindowsProcessesNaming(windows, image);
        try
        {
            await writer.WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            Assert.Fail("the benchmark did not end after it was killed");
        }

        var check = windows.Run("check", "-r", "all", windowsPath);
        Assert.That(check.ExitCode, Is.Zero, WindowsBuild.Describe(check));
        ExternalTool.Run("qemu-img", ["check", image]).EnsureSuccess();
    }

    /// <summary>
    /// Waits until the benchmark has the image open: under Wine its process (a Linux process) shows the file among
    /// its descriptors; on Windows, a few seconds (a start takes well under one).
    /// </summary>
    private static async Task WaitUntilOpen(string image, Task<ToolResult> writer)
    {
        if (!OperatingSystem.IsLinux())
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            return;
        }

        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < TimeSpan.FromSeconds(60) && !writer.IsCompleted)
        {
            foreach (string process in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
            {
                try
                {
                    if (Directory.EnumerateFileSystemEntries(Path.Combine(process, "fd")).Any(fd => new FileInfo(fd).LinkTarget == image))
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Gone, or not ours to look at.
                }
            }

            await Task.Delay(100);
        }

        Assert.Fail(writer.IsCompleted ? "the benchmark ended before it had the image open: " + WindowsBuild.Describe(await writer)
            : "the benchmark did not open the image within 60 s");
    }

    /// <summary>Kills the Wine (or Windows) processes whose command line names <paramref name="image"/>'s file name.</summary>
    private static void KillWindowsProcessesNaming(WindowsBuild windows, string image)
    {
        string name = Path.GetFileName(image);
        foreach (var process in Process.GetProcesses())
        {
            using (process)
            {
                try
                {
                    string commandLine = OperatingSystem.IsLinux()
                        ? File.ReadAllText($"/proc/{process.Id}/cmdline").Replace('\0', ' ')
                        : process.MainModule?.FileName ?? "";
                    if (commandLine.Contains(name, StringComparison.Ordinal) && commandLine.Contains("bench", StringComparison.Ordinal)
                        && (windows.Wine is not null || process.ProcessName.Equals("qcow2mount", StringComparison.OrdinalIgnoreCase)))
                    {
                        process.Kill();
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                    // Gone already, or not ours to look at.
                }
            }
        }
    }
}
