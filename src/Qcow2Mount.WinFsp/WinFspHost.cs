using System.Runtime.Versioning;
using System.Security.Principal;
using Fsp;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The WinFsp adapter (WinFsp - Windows File System Proxy, Copyright (C) Bill Zissimopoulos,
/// https://github.com/winfsp/winfsp). Mount points: a drive letter ("X:"), null or "" for the next free letter from
/// Z: down, or a folder path (WinFsp creates the folder; it must not exist yet).
/// </summary>
/// <param name="log">Receives errors that are not the volume's (bugs, unexpected exceptions in callbacks).</param>
public sealed class WinFspHost(Action<string>? log = null) : WindowsFileSystemHost
{
    public override string Name => "winfsp";

    protected override string DriverName => "WinFsp";

    /// <summary>
    /// The mount point as WinFsp takes it: "X:" for a letter ("X:" or "X:\" given), null for the next free letter
    /// (null or empty given), a folder path unchanged.
    /// </summary>
    internal static string? DriverMountPoint(string? mountPoint)
    {
        if (string.IsNullOrWhiteSpace(mountPoint))
        {
            return null;
        }

        return mountPoint.Length is 2 or 3 && char.IsAsciiLetter(mountPoint[0]) && mountPoint[1] == ':'
            && (mountPoint.Length == 2 || mountPoint[2] is '\\' or '/')
            ? $"{char.ToUpperInvariant(mountPoint[0])}:"
            : mountPoint;
    }

    [SupportedOSPlatform("windows")]
    protected override IMountedFileSystem Start(Volume volume, string mountPoint, MountOptions options)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(options);
        var windowsVolume = new WindowsVolume(volume, WindowsIdentity.GetCurrent().User?.Value, log, options.ReadOnly);
        var info = windowsVolume.VolumeInfo;
        var fileSystem = new WinFspFileSystem(windowsVolume, log);
        ulong creationTime = (ulong)windowsVolume.TimesOf(volume.Root).Creation.ToFileTime();
#pragma warning disable CA2000 // Wrong: a failed mount disposes the host below; a mounted one goes to the WinFspMount, which disposes it.
        var host = new FileSystemHost(fileSystem)
        {
            SectorSize = WindowsVolume.SectorSize,
            SectorsPerAllocationUnit = WindowsVolume.AllocationUnit / WindowsVolume.SectorSize,
            MaxComponentLength = (ushort)info.MaxComponentLength,
            VolumeSerialNumber = info.SerialNumber,
            VolumeCreationTime = creationTime,
            FileSystemName = WindowsVolume.FileSystemName,
            CasePreservedNames = true,
            UnicodeOnDisk = true,
            PersistentAcls = true,
            PostCleanupWhenModifiedOnly = true,
            DeviceControl = !windowsVolume.IsReadOnly,
            // Metadata is cached for a second; the disk's bytes change only through this file system.
            FileInfoTimeout = 1000,
        };
#pragma warning restore CA2000

        string? requested = DriverMountPoint(mountPoint);
        try
        {
            int status = host.MountEx(requested, (uint)Math.Max(0, options.MaxThreads));
            if (status < 0)
            {
                throw new VolumeException(VolumeErrorCode.Busy,
                    $"WinFsp could not mount at {requested ?? "the next free drive letter"}: NTSTATUS 0x{status:X8}.");
            }

            return new WinFspMount(host, fileSystem, host.MountPoint(), options.Timeout);
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }

    protected override string? Unavailability()
    {
        if (!OperatingSystem.IsWindows())
        {
            return "WinFsp mounts need Windows.";
        }

        try
        {
            _ = FileSystemHost.Version();
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException)
        {
            return "WinFsp is not installed (https://winfsp.dev/rel/).";
        }
    }
}

/// <summary>A live WinFsp mount: owns the host and, once mounted, the volume.</summary>
[SupportedOSPlatform("windows")]
internal sealed class WinFspMount(FileSystemHost host, WinFspFileSystem fileSystem, string mountPoint, TimeSpan timeout)
    : WindowsMount(fileSystem.Volume, fileSystem.UnmountedTask, mountPoint, timeout)
{
    // Stops the dispatcher, calls Unmounted (which closes the volume) and removes the mount point.
    protected override void StopDriver() => host.Unmount();
}
