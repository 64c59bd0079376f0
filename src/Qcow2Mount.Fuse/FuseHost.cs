using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Native;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Fuse;

/// <summary>The Linux adapter: mounts a <see cref="Volume"/> with libfuse3 (3.12 or later).</summary>
/// <param name="log">Receives errors that are not the volume's (bugs, unexpected exceptions in callbacks).</param>
public sealed class FuseHost(Action<string>? log = null) : IFileSystemHost
{
    public string Name => "fuse";

    public bool IsAvailable(out string reason)
    {
        reason = Unavailability() ?? "";
        return reason.Length == 0;
    }

    public IMountedFileSystem Mount(Volume volume, string mountPoint, MountOptions options)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(options);
        if (Unavailability() is { } reason)
        {
            throw new VolumeException(VolumeErrorCode.NotSupported, $"FUSE unavailable: {reason}");
        }

        return FuseMount.Start(volume, mountPoint, options, log);
    }

    /// <summary>FUSE mounts on an existing directory; a dead FUSE mount there (its server killed) is unmounted with fusermount3.</summary>
    public void CheckMountPoint(string mountPoint)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        if (Directory.Exists(mountPoint))
        {
            return;
        }

        if (UnusableReason(mountPoint) is { } unusable)
        {
            // Most often a mount whose server died (kill -9): stat fails with ENOTCONN, not ENOENT.
            throw unusable.DeadMount
                ? new VolumeException(VolumeErrorCode.Busy,
                    $"Mount point '{mountPoint}' cannot be used ({unusable.Reason}); the file system there died: unmount it first (fusermount3 -u '{mountPoint}').")
                : new VolumeException(VolumeErrorCode.AccessDenied, $"Mount point '{mountPoint}' cannot be used ({unusable.Reason}).");
        }

        throw File.Exists(mountPoint)
            ? new VolumeException(VolumeErrorCode.NotDirectory, $"Mount point '{mountPoint}' is a file, not a directory.")
            : new VolumeException(VolumeErrorCode.NotFound, $"Mount point '{mountPoint}' does not exist.");
    }

    /// <summary>
    /// Why a path that is not a usable directory cannot even be looked at (not "does not exist"), and whether it is
    /// a dead mount (ENOTCONN: its FUSE server is gone); null when it simply is not there.
    /// </summary>
    private static (string Reason, bool DeadMount)? UnusableReason(string path)
    {
        try
        {
            File.GetAttributes(path);
            return null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // .NET appends " : 'path'" to the OS's text; the caller names the path itself.
            string reason = e.Message.Replace($" : '{path}'", "", StringComparison.Ordinal).ReplaceLineEndings(" ").TrimEnd('.');
            return (reason, e.HResult == Errno.ENOTCONN);
        }
    }

    private static string? Unavailability()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "FUSE mounts need Linux.";
        }

        if (RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return $"the FUSE adapter's native layouts are for x86-64, not {RuntimeInformation.ProcessArchitecture}.";
        }

        if (!File.Exists("/dev/fuse"))
        {
            return "/dev/fuse is missing (load the fuse module; in a container, pass the device).";
        }

        if (!NativeLibrary.TryLoad(LibFuse.Library, out nint library))
        {
            return $"{LibFuse.Library} is not installed (package fuse3).";
        }

        if (!NativeLibrary.TryGetExport(library, "fuse_loop_mt_312", out _))
        {
            return $"{LibFuse.Library} is older than libfuse 3.12.";
        }

        bool hasFusermount = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, "fusermount3")));
        return hasFusermount ? null : "fusermount3 is not on PATH (package fuse3).";
    }
}
