using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// Who may open an image at the same time. One writer at a time; a reader that holds its lock (a mount, and info,
/// convert, check, hash and snapshot list unless given -U) keeps writers out and is kept out by one, unless it
/// forces sharing; plain readers take no lock. Each OS does this its own way: Linux with byte-range locks taken
/// after the open (<c>ImageLock.Unix.cs</c>, which also speaks QEMU's lock protocol), Windows with the share mode
/// the file is opened with (<c>ImageLock.Windows.cs</c>). Either way a conflict is a
/// <see cref="Qcow2ErrorCode.Locked"/> error.
/// </summary>
internal static partial class ImageLock
{
    /// <summary>The share mode to open the image with; on Windows this is the lock itself.</summary>
    public static FileShare ShareMode(bool writable, bool lockWriter, bool lockReader, bool forceShare) =>
        OperatingSystem.IsWindows()
            ? WindowsShareMode(writable, lockWriter, lockReader, forceShare)
            : FileShare.ReadWrite | FileShare.Delete;

    /// <summary>Takes the writer's lock on a freshly opened handle (Windows: the share mode already did).</summary>
    public static void AcquireWriter(SafeFileHandle handle, string path)
    {
        if (OperatingSystem.IsLinux())
        {
            AcquireUnixWriter(handle, path);
        }
    }

    /// <summary>
    /// Holds the reader lock of a long-lived read-only open: this tool's writers refuse the image while it is held,
    /// and it is refused while one of them writes; QEMU's writers likewise, unless <paramref name="forceShare"/>
    /// shares everything as qemu-img -U does. Windows: the share mode already did.
    /// </summary>
    public static void AcquireReader(SafeFileHandle handle, string path, bool forceShare)
    {
        if (OperatingSystem.IsLinux())
        {
            AcquireUnixReader(handle, path, forceShare);
        }
    }

    /// <summary>
    /// Drops the lock explicitly before the handle closes: on Linux a child process forked elsewhere in this process
    /// may briefly share the file description, which would otherwise keep the lock alive. Windows: closing the
    /// handle ends its share mode.
    /// </summary>
    public static void Release(SafeFileHandle handle)
    {
        if (OperatingSystem.IsLinux() && !handle.IsClosed)
        {
            ReleaseUnix(handle);
        }
    }

    /// <summary>
    /// The <see cref="Qcow2ErrorCode.Locked"/> error for an open the OS refused because another handle does not share
    /// the file (Windows' sharing and lock violations), or null for any other I/O error.
    /// </summary>
    public static Qcow2Exception? LockedError(IOException error, string path, bool writable) =>
        IsSharingViolation(error.HResult)
            ? new Qcow2Exception(Qcow2ErrorCode.Locked, writable
                ? $"{path}: image is in use by another process (a writer, or a read-only mount or reader that does not share it); try again when it is closed"
                : $"{path}: image is being written by another process; -U (--force-share) reads it anyway, though reads of an image being written can be inconsistent",
                error)
            : null;
}
