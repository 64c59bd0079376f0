using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// The one-writer-per-image lock: a writable open holds an exclusive open-file-description lock on a byte far
/// past any data (so plain readers, which take no lock, keep working); a second writer fails at once.
/// On Windows the share mode of the writable handle does the same job.
/// </summary>
internal static partial class ImageLock
{
    private const long LockOffset = 0x7FFF_FFFF_0000_0000;
    private const int FOfdSetlk = 37;
    private const short FWrlck = 1;
    private const short FUnlck = 2;

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Len;
        public int Pid;
    }

    public static void AcquireWriter(Microsoft.Win32.SafeHandles.SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var flock = new Flock { Type = FWrlck, Whence = 0, Start = LockOffset, Len = 1 };
        if (Fcntl((int)handle.DangerousGetHandle(), FOfdSetlk, ref flock) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is 11 or 13)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Locked, $"{path}: image is opened for writing by another process");
            }

            // Filesystems without OFD locks (some network mounts): run unlocked rather than refuse.
        }
    }

    /// <summary>
    /// Drops the writer lock explicitly before the handle closes: a child process forked elsewhere in this
    /// process may briefly share the file description, which would otherwise keep the lock alive.
    /// </summary>
    public static void ReleaseWriter(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || handle.IsClosed)
        {
            return;
        }

        var flock = new Flock { Type = FUnlck, Whence = 0, Start = LockOffset, Len = 1 };
        _ = Fcntl((int)handle.DangerousGetHandle(), FOfdSetlk, ref flock);
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command, ref Flock flock);
}
