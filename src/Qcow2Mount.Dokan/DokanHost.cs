using System.Runtime.Versioning;
using System.Security.Principal;
using DokanNet;
using DokanNet.Logging;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Windows;
using DokanDriver = DokanNet.Dokan;

namespace Qcow2Mount.Dokan;

/// <summary>
/// The Dokan adapter (Dokany 2.x). Mount points: a drive letter ("X:"), null or "" for the next free letter from
/// Z: down, or an empty folder on NTFS. The drive is mounted in the caller's session.
/// </summary>
/// <param name="log">Receives errors that are not the volume's (bugs, unexpected exceptions in callbacks).</param>
public sealed class DokanHost(Action<string>? log = null) : WindowsFileSystemHost
{
    public override string Name => "dokan";

    protected override string DriverName => "Dokan";

    /// <summary>
    /// The mount point as Dokan takes it: "X:\" for a letter ("X:" or "X:\" given; the next free one from Z: down
    /// for null or empty), a folder path unchanged.
    /// </summary>
    internal static string DriverMountPoint(string? mountPoint, IEnumerable<string> usedRoots)
    {
        if (string.IsNullOrWhiteSpace(mountPoint))
        {
            var used = usedRoots.Select(root => char.ToUpperInvariant(root[0])).ToHashSet();
            for (char letter = 'Z'; letter >= 'D'; letter--)
            {
                if (!used.Contains(letter))
                {
                    return $"{letter}:\\";
                }
            }

            throw new VolumeException(VolumeErrorCode.Busy, "No drive letter is free (D: to Z: are all in use).");
        }

        return mountPoint.Length is 2 or 3 && char.IsAsciiLetter(mountPoint[0]) && mountPoint[1] == ':'
            && (mountPoint.Length == 2 || mountPoint[2] is '\\' or '/')
            ? $"{char.ToUpperInvariant(mountPoint[0])}:\\"
            : mountPoint;
    }

    [SupportedOSPlatform("windows")]
    protected override IMountedFileSystem Start(Volume volume, string mountPoint, MountOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var windowsVolume = new WindowsVolume(volume, WindowsIdentity.GetCurrent().User?.Value, log, options.ReadOnly);
        var operations = new DokanOperations(windowsVolume, log);
        string target = DriverMountPoint(mountPoint, Directory.GetLogicalDrives());
        var driverLog = new DokanLog(log);
        var driver = new DokanDriver(driverLog);
        DokanInstance instance;
        try
        {
            instance = new DokanInstanceBuilder(driver)
                .ConfigureLogger(() => driverLog)
                .ConfigureOptions(o =>
                {
                    o.MountPoint = target;
                    o.Options = DokanOptions.CurrentSession | (windowsVolume.IsReadOnly ? DokanOptions.WriteProtection : 0);
                    o.SectorSize = WindowsVolume.SectorSize;
                    o.AllocationUnitSize = WindowsVolume.AllocationUnit;
                    o.TimeOut = options.Timeout;
                    o.SingleThread = options.MaxThreads == 1;
                })
                .Build(operations);
        }
        catch (DokanException e)
        {
            driver.Dispose();
            throw new VolumeException(VolumeErrorCode.Busy, $"Dokan could not mount at {target}: {e.Message}");
        }

        if (!operations.MountedTask.Wait(options.Timeout))
        {
            instance.Dispose();
            driver.Dispose();
            throw new VolumeException(VolumeErrorCode.Busy, $"Dokan did not mount at {target} within {options.Timeout.TotalSeconds:0} s.");
        }

        return new DokanMount(driver, instance, operations, target, options.Timeout);
    }

    protected override string? Unavailability()
    {
        if (!OperatingSystem.IsWindows())
        {
            return "Dokan mounts need Windows.";
        }

        try
        {
            using var driver = new DokanDriver(new NullLogger());
            return driver.DriverVersion > 0 ? null : "the Dokany driver is not running.";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return "Dokany 2.x is not installed (https://github.com/dokan-dev/dokany/releases).";
        }
    }
}

/// <summary>A live Dokan mount: owns the driver instance and, once mounted, the volume.</summary>
[SupportedOSPlatform("windows")]
internal sealed class DokanMount(DokanDriver driver, DokanInstance instance, DokanOperations operations, string mountPoint, TimeSpan timeout)
    : WindowsMount(operations.Volume, operations.UnmountedTask, mountPoint, timeout)
{
    protected override void StopDriver()
    {
        driver.RemoveMountPoint(MountPoint);
        instance.WaitForFileSystemClosed((uint)Math.Min(Timeout.TotalMilliseconds, uint.MaxValue - 1));
        instance.Dispose();
        driver.Dispose();
    }
}
