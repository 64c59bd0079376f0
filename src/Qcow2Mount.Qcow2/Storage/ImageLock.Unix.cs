using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// The Linux half of <see cref="ImageLock"/>: open-file-description locks (fcntl F_OFD_SETLK), which belong to the
/// open file rather than the process, so two opens in one process see each other as they would across processes.
/// A writable open holds an exclusive lock on a byte far past any data (so plain readers, which take no lock, keep
/// working); a second writer fails at once. It also speaks QEMU's lock protocol (block/file-posix.c): shared locks
/// on byte 100 + permission bit for each permission held and 200 + bit for each permission it does not share,
/// checked against the other side's bytes first. A writable open takes what a QEMU qcow2 writer takes (consistent
/// read, write and resize held; write and resize not shared), so a running VM or a qemu-img that writes the image
/// refuses us and we refuse them. A reader holds a shared lock on the byte after ours, which this tool's writers
/// check, and, unless it forces sharing, what a QEMU reader holds (consistent read held; write and resize not
/// shared), as qemu-img does without -U. Other Unix systems number the OFD commands differently: there the image
/// goes unlocked, as on a Linux file system without OFD locks.
/// </summary>
internal static partial class ImageLock
{
    private const long LockOffset = 0x7FFF_FFFF_0000_0000;
    private const long ReaderOffset = LockOffset + 1;
    private const int FOfdGetlk = 36;
    private const int FOfdSetlk = 37;
    private const short FRdlck = 0;
    private const short FWrlck = 1;
    private const short FUnlck = 2;

    // QEMU's BLK_PERM_* bits and lock byte bases.
    private const int PermBase = 100;
    private const int SharedBase = 200;
    private const int ConsistentRead = 0, Write = 1, Resize = 3;
    private static readonly int[] HeldPermissions = [ConsistentRead, Write, Resize];
    private static readonly int[] UnsharedPermissions = [Write, Resize];
    private static readonly int[] ReaderHeldPermissions = [ConsistentRead];
    private static readonly string[] PermissionNames = ["consistent read", "write", "write unchanged", "resize"];

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Len;
        public int Pid;
    }

    private static void AcquireUnixWriter(SafeFileHandle handle, string path)
    {
        var flock = new Flock { Type = FWrlck, Whence = 0, Start = LockOffset, Len = 1 };
        if (Fcntl((int)handle.DangerousGetHandle(), FOfdSetlk, ref flock) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is 11 or 13)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Locked, $"{path}: image is opened for writing by another process");
            }

            // Filesystems without OFD locks (some network mounts): run unlocked rather than refuse.
            return;
        }

        // As QEMU (raw_handle_perm_lock): apply our bytes first, then check the other side's, so that two openers
        // racing always see each other; a conflict releases everything again.
        int fd = (int)handle.DangerousGetHandle();
        TakeQemuLocks(fd, HeldPermissions, UnsharedPermissions);
        if (IsLockedByOthers(fd, ReaderOffset))
        {
            ReleaseUnix(handle);
            throw new Qcow2Exception(Qcow2ErrorCode.Locked, $"{path}: image is mounted by qcow2mount (read-only, or as a backing file); unmount it first");
        }

        if (QemuConflict(fd, HeldPermissions, UnsharedPermissions) is { } conflict)
        {
            ReleaseUnix(handle);
            throw new Qcow2Exception(Qcow2ErrorCode.Locked, $"{path}: image is in use by another program (QEMU or qemu-img {conflict})");
        }
    }

    /// <summary>
    /// Holds the reader lock of a long-lived read-only open: this tool's writers refuse the image while it is held,
    /// and it is refused while one of them writes. It also takes what a QEMU reader takes (consistent read held;
    /// write and resize not shared), refusing an image that QEMU or qemu-img has open for writing or resizing;
    /// with <paramref name="forceShare"/> it shares everything, as qemu-img -U. A file system without OFD locks
    /// simply goes unprotected.
    /// </summary>
    private static void AcquireUnixReader(SafeFileHandle handle, string path, bool forceShare)
    {
        // Apply, then check (see AcquireWriter).
        int fd = (int)handle.DangerousGetHandle();
        int[] unshared = forceShare ? [] : UnsharedPermissions;
        SetShared(fd, ReaderOffset);
        TakeQemuLocks(fd, ReaderHeldPermissions, unshared);
        if (IsLockedByOthers(fd, LockOffset))
        {
            ReleaseUnix(handle);
            throw new Qcow2Exception(Qcow2ErrorCode.Locked, $"{path}: image is being written by qcow2mount (a writable mount, snapshot, resize or check --repair); try again when it is done");
        }

        if (QemuConflict(fd, ReaderHeldPermissions, unshared) is { } conflict)
        {
            ReleaseUnix(handle);
            throw new Qcow2Exception(Qcow2ErrorCode.Locked, forceShare
                ? $"{path}: image is in use by another program (QEMU {conflict})"
                : $"{path}: image is in use by another program (a running VM or qemu-img {conflict}); -U (--force-share) reads it anyway, though reads of an image being written can be inconsistent");
        }
    }

    /// <summary>
    /// QEMU's raw_check_lock_bytes for the given permissions: nobody may refuse to share what we hold (200 + bit),
    /// and nobody may hold what we refuse to share (100 + bit). Returns what the other side does, or null.
    /// </summary>
    private static string? QemuConflict(int fd, int[] held, int[] unshared)
    {
        foreach (int bit in held)
        {
            if (IsLockedByOthers(fd, SharedBase + bit))
            {
                return $"does not share \"{PermissionNames[bit]}\"";
            }
        }

        foreach (int bit in unshared)
        {
            if (IsLockedByOthers(fd, PermBase + bit))
            {
                return $"holds the \"{PermissionNames[bit]}\" lock";
            }
        }

        return null;
    }

    /// <summary>QEMU's raw_apply_lock_bytes: a shared lock on 100 + bit for each held and 200 + bit for each unshared permission.</summary>
    private static void TakeQemuLocks(int fd, int[] held, int[] unshared)
    {
        foreach (int bit in held)
        {
            SetShared(fd, PermBase + bit);
        }

        foreach (int bit in unshared)
        {
            SetShared(fd, SharedBase + bit);
        }
    }

    private static bool IsLockedByOthers(int fd, long offset)
    {
        var flock = new Flock { Type = FWrlck, Whence = 0, Start = offset, Len = 1 };
        return Fcntl(fd, FOfdGetlk, ref flock) == 0 && flock.Type != FUnlck;
    }

    private static void SetShared(int fd, long offset)
    {
        var flock = new Flock { Type = FRdlck, Whence = 0, Start = offset, Len = 1 };
        _ = Fcntl(fd, FOfdSetlk, ref flock);
    }

    /// <summary>
    /// Drops the writer (or reader) lock explicitly before the handle closes: a child process forked elsewhere in this
    /// process may briefly share the file description, which would otherwise keep the lock alive.
    /// </summary>
    private static void ReleaseUnix(SafeFileHandle handle)
    {
        // Our byte and QEMU's bytes (100-299) go together.
        int fd = (int)handle.DangerousGetHandle();
        var flock = new Flock { Type = FUnlck, Whence = 0, Start = LockOffset, Len = 2 };
        _ = Fcntl(fd, FOfdSetlk, ref flock);
        var qemu = new Flock { Type = FUnlck, Whence = 0, Start = PermBase, Len = 2 * PermBase };
        _ = Fcntl(fd, FOfdSetlk, ref qemu);
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, ref Flock flock);
}
