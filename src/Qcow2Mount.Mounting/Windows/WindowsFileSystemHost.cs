using System.Runtime.Versioning;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// What the Windows adapters (WinFsp, Dokan) share as hosts: availability as one reason, the mount point forms of
/// <see cref="MountPoints"/>, and the checks before a mount. Each adapter supplies why its driver is unavailable and
/// how it starts a mount.
/// </summary>
public abstract class WindowsFileSystemHost : IFileSystemHost
{
    public abstract string Name { get; }

    /// <summary>The driver's name in messages ("WinFsp", "Dokan").</summary>
    protected abstract string DriverName { get; }

    public bool IsAvailable(out string reason)
    {
        reason = Unavailability() ?? "";
        return reason.Length == 0;
    }

    /// <summary>The Windows forms both adapters take (<see cref="MountPoints"/>): a free letter, or an empty NTFS folder.</summary>
    public void CheckMountPoint(string mountPoint) => MountPoints.Resolve(mountPoint, MachineMountPointProbe.Instance);

    public IMountedFileSystem Mount(Volume volume, string mountPoint, MountOptions options)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(options);
        if (Unavailability() is not null || !OperatingSystem.IsWindows())
        {
            throw new VolumeException(VolumeErrorCode.NotSupported, $"{DriverName} unavailable: {Unavailability()}");
        }

        return Start(volume, mountPoint, options);
    }

    /// <summary>Why this adapter cannot mount on this machine (one line), or null when it can.</summary>
    protected abstract string? Unavailability();

    /// <summary>Mounts once the checks passed; returns when the file system is live.</summary>
    [SupportedOSPlatform("windows")]
    protected abstract IMountedFileSystem Start(Volume volume, string mountPoint, MountOptions options);
}
