using System.Diagnostics;
using NUnit.Framework;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// Service processes a test started on its private socket, found by their command line naming the test's own
/// temporary folder (<c>--Control:SocketPath=DIR/...</c>), so a failed test leaves none behind even when it failed
/// before learning their pids. Processes that do not name the folder (the user's own service, another engineer's)
/// are never touched.
/// </summary>
public static class StrayServices
{
    /// <summary>Kills (SIGKILL) every process but this one whose command line contains <paramref name="folder"/>, and waits for each.</summary>
    public static void KillThoseNaming(string folder)
    {
        foreach (int pid in Naming(folder))
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                TestContext.Out.WriteLine($"Killing a service the test left running (pid {pid})");
                process.Kill();
                process.WaitForExit(10_000);
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
            {
                // Exited meanwhile.
            }
        }
    }

    /// <summary>The live processes but this one whose command line contains <paramref name="folder"/> (an exited one has none).</summary>
    public static IReadOnlyList<int> Naming(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        var found = new List<int>();
        if (!OperatingSystem.IsLinux())
        {
            return found;
        }

        foreach (string entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out int pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                if (File.ReadAllText(Path.Combine(entry, "cmdline")).Replace('\0', ' ').Contains(folder, StringComparison.Ordinal))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }

        return found;
    }
}
