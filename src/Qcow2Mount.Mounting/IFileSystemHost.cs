namespace Qcow2Mount.Mounting;

/// <summary>
/// An OS adapter (FUSE, WinFsp, Dokan) as the service knows it. The executable registers the adapters of the OS
/// it runs on; nothing else references an adapter assembly.
/// </summary>
public interface IFileSystemHost
{
    /// <summary>Short name for configuration and messages ("fuse", "winfsp", "dokan").</summary>
    string Name { get; }

    /// <summary>Whether this adapter can mount on this machine; when not, <paramref name="reason"/> says why in one line.</summary>
    bool IsAvailable(out string reason);

    /// <summary>
    /// Throws <see cref="VolumeException"/> when <paramref name="mountPoint"/> (a full path) cannot take a mount of
    /// this adapter: NotFound, NotDirectory, Busy (with the adapter's advice, e.g. a dead FUSE mount to unmount
    /// first) or AccessDenied. Callers check before opening an image, so a wrong mount point costs nothing; the
    /// mount itself checks again.
    /// </summary>
    void CheckMountPoint(string mountPoint);

    /// <summary>
    /// Mounts <paramref name="volume"/> at <paramref name="mountPoint"/> and returns once the file system is live.
    /// On success the mount owns the volume and disposes it when the file system goes away; on failure (a
    /// <see cref="VolumeException"/>: NotFound, NotDirectory or Busy mount point, rejected options) the caller
    /// still owns it.
    /// </summary>
    IMountedFileSystem Mount(Volume volume, string mountPoint, MountOptions options);
}

/// <summary>A live mount. Disposing it unmounts, forcibly if files are still open.</summary>
public interface IMountedFileSystem : IDisposable
{
    /// <summary>The mount point as mounted (full path).</summary>
    string MountPoint { get; }

    Volume Volume { get; }

    /// <summary>
    /// Completes when the file system is gone and the volume is closed, whoever unmounted it (this process or
    /// an outside <c>fusermount3 -u</c>); faults if closing the volume failed (the final flush).
    /// </summary>
    Task Unmounted { get; }

    /// <summary>
    /// Unmounts and waits until the volume is closed. Without <paramref name="force"/>, a file system with open
    /// files stays mounted and a <see cref="VolumeErrorCode.Busy"/> error is thrown. With it, the mount point is
    /// freed at once; open files are cut off where the OS allows it (Linux: fusectl, usually root), otherwise the
    /// volume closes when the last of them is closed, and <see cref="Unmounted"/> tells when.
    /// Does nothing when already unmounted.
    /// </summary>
    void Unmount(bool force = false);
}

/// <summary>How to mount, bound from the <c>Mount</c> configuration section.</summary>
public sealed record MountOptions
{
    /// <summary>Mount read-only even when the volume could write (the volume itself may also be read-only).</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Let users other than the one mounting see the files (FUSE allow_other; needs user_allow_other in /etc/fuse.conf for non-root).</summary>
    public bool AllowOther { get; init; }

    /// <summary>Extra FUSE <c>-o</c> options, e.g. <c>"uid=1000"</c>; each entry is one option.</summary>
    public IReadOnlyList<string> FuseOptions { get; init; } = [];

    /// <summary>Most threads serving requests at once; 0 for the adapter's default.</summary>
    public int MaxThreads { get; init; }

    /// <summary>
    /// Kernel readahead for the mount, in bytes (Linux: the FUSE connection's read_ahead_kb, which only root may
    /// raise; others keep the kernel's 128 KiB); 0 leaves the kernel's default. Larger windows keep several large
    /// reads in flight, so sequential reads of compressed images inflate on every core.
    /// </summary>
    public int ReadaheadBytes { get; init; } = DefaultReadaheadBytes;

    /// <summary>
    /// Hand data stored as-is in a read-only image's host file to the kernel without copying it through user
    /// memory (Linux: splice); off only to rule it out when chasing a problem.
    /// </summary>
    public bool ZeroCopyReads { get; init; } = true;

    public const int DefaultReadaheadBytes = 8 << 20;

    /// <summary>How long <see cref="IMountedFileSystem.Unmount"/> and mounting wait for the file system to stop or start.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}
