using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>An <see cref="IHostFile"/> on <see cref="RandomAccess"/>.</summary>
public sealed partial class HostFile : IHostFile
{
    private readonly SafeFileHandle _handle;

    /// <summary>
    /// Linux file systems (ext4, XFS, btrfs) run a buffered write under the inode's exclusive lock, so writers of one
    /// file never overlap in the kernel; there, concurrent writers spin on that lock and burn the cores the copy and
    /// writeback need (half the CPU time of 64 writers of 1 MiB). Queuing them here costs no parallelism. Windows
    /// may overlap non-extending writes to one file, so it is left alone there. Null when not used.
    /// </summary>
    private readonly Lock? _writeQueue = OperatingSystem.IsLinux() ? new Lock() : null;
    private long _length;
    private bool _locked;

    private HostFile(string path, SafeFileHandle handle, bool canWrite)
    {
        Path = path;
        _handle = handle;
        CanWrite = canWrite;
        _length = RandomAccess.GetLength(handle);
    }

    public string Path { get; }
    public bool CanWrite { get; }
    public long Length => Volatile.Read(ref _length);

    /// <summary>The OS handle, for zero-copy transfers (<see cref="IHostMappedDisk"/>); owned by this file.</summary>
    internal SafeFileHandle Handle => _handle;

    /// <summary>Opens an existing file. Read-only opens never take write access to the file.</summary>
    /// <param name="path">The file to open.</param>
    /// <param name="writable">Open for reading and writing; otherwise for reading only.</param>
    /// <param name="lockWriter">Refuse a second writer of the same file (readers stay welcome).</param>
    /// <param name="lockReader">
    /// A read-only open holds the reader lock, which this tool's writers respect, and QEMU's reader locks (a mount).
    /// </param>
    /// <param name="forceShare">With <paramref name="lockReader"/>: no QEMU locks (QEMU's force-share).</param>
    public static HostFile Open(string path, bool writable, bool lockWriter = false, bool lockReader = false, bool forceShare = false)
    {
        try
        {
            // On Windows the share mode is the lock; on Linux a lock taken once the file is open (ImageLock).
            var share = ImageLock.ShareMode(writable, lockWriter, lockReader, forceShare);
            var handle = File.OpenHandle(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read,
                share, FileOptions.RandomAccess);
            if (writable && lockWriter)
            {
                try
                {
                    ImageLock.AcquireWriter(handle, path);
                }
                catch
                {
                    handle.Dispose();
                    throw;
                }
            }

            if (!writable && lockReader)
            {
                try
                {
                    ImageLock.AcquireReader(handle, path, forceShare);
                }
                catch
                {
                    handle.Dispose();
                    throw;
                }
            }

            return new HostFile(path, handle, writable) { _locked = (writable && lockWriter) || (!writable && lockReader) };
        }
        catch (FileNotFoundException e)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"{path}: no such file", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"{path}: no such file", e);
        }
        catch (UnauthorizedAccessException e) when (Directory.Exists(path))
        {
            // .NET reports opening a directory as a file as access denied.
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{path}: is a directory, not an image file", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Io, $"{path}: permission denied", e);
        }
        catch (IOException e) when (ImageLock.LockedError(e, path, writable) is { } locked)
        {
            throw locked;
        }
        catch (IOException e)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Io, $"{path}: {e.Message}", e);
        }
    }

    /// <summary>Creates (or truncates) a file for writing.</summary>
    public static HostFile Create(string path)
    {
        try
        {
            var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            return new HostFile(path, handle, true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Io, $"{path}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Host offsets in qcow2 metadata have at most 56 bits (L2 entries carry bits 9-55); a read or write outside
    /// that range can only come from corrupt metadata, and fails here as such rather than deep in the runtime.
    /// </summary>
    public const long MaxHostOffset = 1L << 56;

    public int ReadAt(long offset, Span<byte> buffer)
    {
        CheckRange(offset, buffer.Length);
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        try
        {
            if (_writeQueue is { } queue)
            {
                lock (queue)
                {
                    RandomAccess.Write(_handle, data, offset);
                }
            }
            else
            {
                RandomAccess.Write(_handle, data, offset);
            }
        }
        catch (ArgumentOutOfRangeException e)
        {
            // EFBIG: past the largest file this file system holds (16 TiB on ext4 with 4 KiB blocks).
            throw new Qcow2Exception(Qcow2ErrorCode.Io,
                $"{Path}: cannot write at 0x{offset:x}: the file system does not allow a file that large", e);
        }

        long end = offset + data.Length;
        long current = Volatile.Read(ref _length);
        while (end > current)
        {
            long seen = Interlocked.CompareExchange(ref _length, end, current);
            if (seen == current)
            {
                break;
            }

            current = seen;
        }
    }

    private void CheckRange(long offset, int length)
    {
        if (offset < 0 || offset > MaxHostOffset - length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{Path}: host offset 0x{offset:x} is outside any valid image (corrupt metadata)");
        }
    }

    public void SetLength(long length)
    {
        RandomAccess.SetLength(_handle, length);
        Volatile.Write(ref _length, length);
    }

    public void Flush() => RandomAccess.FlushToDisk(_handle);

    public void PunchHole(long offset, long length)
    {
        if (!OperatingSystem.IsLinux() || length <= 0)
        {
            return;
        }

        // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; failure only means the space stays allocated.
        _ = Fallocate((int)_handle.DangerousGetHandle(), 0x02 | 0x01, offset, length);
    }

    public void Dispose()
    {
        if (_locked)
        {
            ImageLock.Release(_handle);
        }

        _handle.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(int fd, int mode, long offset, long length);
}
