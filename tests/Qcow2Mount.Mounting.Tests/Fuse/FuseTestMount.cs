using System.Diagnostics;
using Qcow2Mount.Fuse;

namespace Qcow2Mount.Mounting.Tests.Fuse;

/// <summary>
/// A temp directory to mount on, and the guarantees every FUSE test needs: a loud Ignore when FUSE is missing,
/// and no mount left behind whatever the test did.
/// </summary>
internal sealed class FuseTestMount : IDisposable
{
    private readonly List<string> _log = [];

    public FuseTestMount()
    {
        if (UnavailableReason() is { } reason)
        {
            Assert.Ignore($"FUSE unavailable: {reason}");
        }

        Directory = System.IO.Directory.CreateTempSubdirectory("qcow2mount-fuse-").FullName;
        Host = new FuseHost(message => { lock (_log) { _log.Add(message); } });
    }

    public string Directory { get; }

    public FuseHost Host { get; }

    public IMountedFileSystem? Mount { get; private set; }

    public string DiskPath => Path.Combine(Directory, Volume.DiskFileName);

    /// <summary>What the adapter reported as unexpected (bugs); tests assert it stays empty.</summary>
    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_log)
            {
                return [.. _log];
            }
        }
    }

    public IMountedFileSystem Start(Volume volume, MountOptions? options = null) =>
        Mount = Host.Mount(volume, Directory, options ?? new MountOptions { Timeout = TimeSpan.FromSeconds(15) });

    public static string? UnavailableReason()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux";
        }

        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse does not exist";
        }

        return new FuseHost().IsAvailable(out string reason) ? null : reason;
    }

    public static (int ExitCode, string Error) Fusermount(params string[] arguments)
    {
        var start = new ProcessStartInfo("fusermount3") { RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }

    public static bool IsMountPoint(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == path);

    public void Dispose()
    {
        try
        {
            Mount?.Unmount(force: true);
        }
#pragma warning disable CA1031 // Teardown: whatever the unmount throws is reported, and the fallbacks below still run.
        catch (Exception e)
        {
            TestContext.Out.WriteLine($"Unmount in teardown failed: {e.Message}");
        }
#pragma warning restore CA1031
        finally
        {
            // Last resort, so a failed test never leaves a stale mount behind.
            if (IsMountPoint(Directory))
            {
                Fusermount("-u", "-z", Directory);
            }

            try
            {
                System.IO.Directory.Delete(Directory, recursive: false);
            }
            catch (IOException e)
            {
                TestContext.Out.WriteLine($"Could not remove {Directory}: {e.Message}");
            }
        }
    }
}
