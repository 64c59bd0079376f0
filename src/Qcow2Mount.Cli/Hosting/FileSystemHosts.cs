using Qcow2Mount.Fuse;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Cli.Hosting;

/// <summary>
/// The one place the executable chooses its file system adapter, per OS: the service (<c>serve</c>) and foreground
/// mounts both take theirs from here. Nothing else in the program names an adapter.
/// </summary>
internal static class FileSystemHosts
{
    /// <summary>The adapter mounts of this process go through.</summary>
    public static IFileSystemHost ForThisSystem()
    {
        // Windows: the WinFsp / Dokan selection goes here once those adapters exist (and only the Windows build
        // references their assemblies). Until then every OS gets the FUSE adapter, which on anything but Linux says
        // it is unavailable, so a mount fails with one clear line.
        return new FuseHost();
    }
}
