namespace Qcow2Mount.PowerShell.Tests;

/// <summary>
/// A folder of a test's own and the environment that gives its scripts a mount service of their own: the control
/// socket in that folder (never the user's service), the qcow2mount to start it from, and default mount folders
/// under it (XDG_RUNTIME_DIR). Disposing stops that service and kills whatever it left running.
/// </summary>
internal sealed class PrivateService : IDisposable
{
    public PrivateService(string prefix)
    {
        Dir = new TempDir(prefix);
        Executable = Pwsh.ServiceExecutable();
        Environment = new Dictionary<string, string?>
        {
            ["QCOW2MOUNT_Control__SocketPath"] = Dir.Combine("control.sock"),
            ["QCOW2MOUNT_EXECUTABLE"] = Executable,
            ["XDG_RUNTIME_DIR"] = Dir.Path,
        };
    }

    public TempDir Dir { get; }

    public string Executable { get; }

    public Dictionary<string, string?> Environment { get; }

    /// <summary>Where Mount-Qcow2Image makes its default mount folders in this environment.</summary>
    public string DefaultMountRoot => Dir.Combine("qcow2mount", "mnt");

    /// <summary>FUSE mounts need Linux, /dev/fuse and fusermount3; qemu-img and qemu-io make the images.</summary>
    public static void RequireFuse()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("FUSE mounts need Linux (Windows mounts are verified by review).");
        }

        if (!File.Exists("/dev/fuse"))
        {
            Assert.Ignore("/dev/fuse does not exist (load the fuse module; in a container, pass the device).");
        }

        ExternalTool.RequireTool("fusermount3");
        ExternalTool.RequireTool("qemu-img");
        ExternalTool.RequireTool("qemu-io");
    }

    public void Dispose()
    {
        try
        {
            var environment = Environment.ToDictionary(e => e.Key, e => e.Value);
            ExternalTool.Run(Executable, ["stop"], TimeSpan.FromMinutes(1), environment: environment);
        }
        finally
        {
            StrayServices.KillThoseNaming(Dir.Path);
            Dir.Dispose();
        }
    }
}
