using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Fuse.Native;
using Qcow2Mount.Mounting;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Fuse;

/// <summary>
/// The fuse_operations callbacks: each one marshals its arguments to one <see cref="Volume"/> call and its result
/// back. Every callback catches everything, so no exception ever unwinds into libfuse; errors become -errno once,
/// in <see cref="Fail"/>. Reads and writes use the handle (nullpath_ok), take no lock and copy the data once,
/// between the engine and libfuse's request buffer.
/// </summary>
[SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Every method is called by libfuse: an exception must become -errno here, never unwind into native code.")]
internal static unsafe class FuseCallbacks
{
    /// <summary>The operations table handed to fuse_new, which copies it.</summary>
    public static FuseOperations Table => new()
    {
        GetAttr = &GetAttr,
        MkDir = &MkDir,
        Unlink = &Unlink,
        RmDir = &RmDir,
        Rename = &Rename,
        Truncate = &Truncate,
        Open = &Open,
        Read = &Read,
        ReadBuf = &ReadBuf,
        Write = &Write,
        StatFs = &StatFs,
        Flush = &Flush,
        Release = &Release,
        FSync = &FSync,
        OpenDir = &OpenDir,
        ReadDir = &ReadDir,
        ReleaseDir = &Release,
        Init = &Init,
        Create = &Create,
        FAllocate = &FAllocate,
    };

    private static FuseMount Current => (FuseMount)GCHandle.FromIntPtr(LibFuse.GetContext()->PrivateData).Target!;

    [UnmanagedCallersOnly]
    private static nint Init(FuseConnInfo* connection, FuseConfig* config)
    {
        // What init returns becomes private_data for every later call, so hand back the mount's handle.
        nint self = LibFuse.GetContext()->PrivateData;
        try
        {
            // max_read must equal the max_read mount option; max_write also sets the kernel's max_pages.
            connection->MaxRead = FuseMount.MaxReadSize;
            connection->MaxWrite = FuseMount.MaxRequestSize;
            connection->MaxReadahead = FuseMount.MaxRequestSize;
            // The kernel keeps at most max_background readahead requests queued (default 12) and skips readahead
            // once congestion_threshold (9) are outstanding: a multi-megabyte window of 512 KiB requests would
            // stall on that, so allow several windows. The kernel caps both for unprivileged mounts.
            connection->MaxBackground = FuseMount.MaxBackgroundRequests;
            connection->CongestionThreshold = FuseMount.MaxBackgroundRequests * 3 / 4;
            config->UseIno = 1;
            config->NullPathOk = 1;
            config->DirectIo = 0;
            config->KernelCache = 0;
            config->AutoCache = 0;
            var mount = (FuseMount)GCHandle.FromIntPtr(self).Target!;
            if (mount.ZeroCopyReads && (connection->Capable & FuseConnInfo.SpliceWrite) != 0)
            {
                connection->Want |= FuseConnInfo.SpliceWrite;
                mount.OnSpliceGranted();
            }

            mount.OnInitialized();
        }
        catch (Exception e)
        {
            Fail(e);
        }

        return self;
    }

    [UnmanagedCallersOnly]
    private static int GetAttr(byte* path, Stat* stat, FuseFileInfo* info)
    {
        try
        {
            var mount = Current;
            var node = path is null ? mount.Volume.NodeOf(info->Handle) : mount.Volume.Find(PathOf(path));
            if (node is null)
            {
                return -Errno.ENOENT;
            }

            mount.Fill(stat, node);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>Directories get handles too: with nullpath_ok, readdir only has the handle to go by.</summary>
    [UnmanagedCallersOnly]
    private static int OpenDir(byte* path, FuseFileInfo* info)
    {
        try
        {
            var volume = Current.Volume;
            var node = volume.Lookup(PathOf(path));
            info->Handle = node.IsDirectory
                ? volume.Open(node, VolumeAccess.Read)
                : throw new VolumeException(VolumeErrorCode.NotDirectory, $"'{node.Path}' is a file, not a directory.");
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int ReadDir(byte* path, void* buffer, delegate* unmanaged<void*, byte*, Stat*, long, int, int> fill,
        long offset, FuseFileInfo* info, int flags)
    {
        try
        {
            var mount = Current;
            var directory = mount.Volume.NodeOf(info->Handle);
            var children = directory.Children;
            Span<byte> name = stackalloc byte[1024];
            Stat stat = default;
            mount.Fill(&stat, directory);
            if (!AddEntry(fill, buffer, ".", &stat, name) || !AddEntry(fill, buffer, "..", &stat, name))
            {
                return 0;
            }

            foreach (var child in children)
            {
                stat = default;
                mount.Fill(&stat, child);
                if (!AddEntry(fill, buffer, child.Name, &stat, name))
                {
                    break;
                }
            }

            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Open(byte* path, FuseFileInfo* info)
    {
        try
        {
            var mount = Current;
            var access = (info->Flags & 3) switch // O_ACCMODE
            {
                0 => VolumeAccess.Read,   // O_RDONLY
                1 => VolumeAccess.Write,  // O_WRONLY
                _ => VolumeAccess.ReadWrite,
            };
            if (mount.ReadOnly && access.HasFlag(VolumeAccess.Write))
            {
                return -Errno.EROFS;
            }

            var node = mount.Volume.Lookup(PathOf(path));
            info->Handle = mount.Volume.Open(node, access);
            if (node.IsReadOnly || mount.ReadOnly)
            {
                // Contents never change under a read-only file: keep the kernel's page cache across opens.
                info->Bits |= FuseFileInfo.KeepCacheBit;
            }

            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Read(byte* path, byte* buffer, nuint size, long offset, FuseFileInfo* info)
    {
        try
        {
            return Current.Volume.Read(info->Handle, offset, new Span<byte>(buffer, checked((int)size)));
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>
    /// Reads as libfuse's read_buf, which libfuse prefers over <see cref="Read"/>. Data a read-only image stores
    /// as-is goes back as descriptor ranges that libfuse splices into the reply (the kernel moves page references;
    /// nothing is copied through our memory), zero ranges as ranges of <see cref="FuseMount.ZeroFile"/>. Anything
    /// else (compressed clusters, writable images) is read into the thread's <see cref="ReplyBuffer"/> and goes
    /// back as a range of its in-memory file; short replies, and any without such a buffer, as malloc'ed memory.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int ReadBuf(byte* path, FuseBufVec** result, nuint size, long offset, FuseFileInfo* info)
    {
        FuseBufVec* vector = null;
        try
        {
            var mount = Current;
            // The kernel never asks for more than max_read.
            int length = (int)Math.Min(size, FuseMount.MaxReadSize);
            var segments = t_segments ??= new HostSegment[MaxSegments];
            if (mount.ZeroCopyReads && mount.Volume.TryMapRead(info->Handle, offset, length, segments, out int count)
                && ZerosFit(segments.AsSpan(0, count)))
            {
                vector = FuseBufVec.Allocate(count);
                for (int i = 0; i < count; i++)
                {
                    var segment = segments[i];
                    var buffer = vector->Buffer(i);
                    buffer->Size = (nuint)segment.Length;
                    buffer->Flags = FuseBuf.IsFd | FuseBuf.FdSeek | FuseBuf.FdRetry;
                    buffer->Fd = segment.IsZero ? mount.ZeroFile : (int)segment.File!.DangerousGetHandle();
                    buffer->Pos = segment.IsZero ? 0 : segment.Position;
                }

                Array.Clear(segments, 0, count);
                *result = vector;
                return 0;
            }

            vector = FuseBufVec.Allocate(1);
            var reply = vector->Buffer(0);
            // libfuse copies replies under two pages itself rather than splicing them; those stay in memory.
#pragma warning disable CA2000 // Wrong: the reply buffer is the mount's, kept per thread and reused; the mount disposes it.
            var replyBuffer = length >= MinSplicedReply ? mount.ThreadReplyBuffer() : null;
#pragma warning restore CA2000
            if (replyBuffer is not null)
            {
                reply->Size = (nuint)mount.Volume.Read(info->Handle, offset, replyBuffer.Span[..length]);
                reply->Flags = FuseBuf.IsFd | FuseBuf.FdSeek | FuseBuf.FdRetry;
                reply->Fd = replyBuffer.Fd;
                reply->Pos = 0;
            }
            else
            {
                reply->Mem = NativeMemory.Alloc((nuint)Math.Max(length, 1));
                reply->Size = (nuint)mount.Volume.Read(info->Handle, offset, new Span<byte>(reply->Mem, length));
            }

            *result = vector;
            return 0;
        }
        catch (Exception e)
        {
            if (vector is not null)
            {
                FuseBufVec.Free(vector);
            }

            return Fail(e);
        }
    }

    /// <summary>Smallest reply libfuse splices (two pages); it copies shorter ones into memory first.</summary>
    private static readonly int MinSplicedReply = 2 * Environment.SystemPageSize;

    /// <summary>Whether every zero segment fits in the zero file (requests never exceed it; this keeps it so).</summary>
    private static bool ZerosFit(ReadOnlySpan<HostSegment> segments)
    {
        foreach (var segment in segments)
        {
            if (segment.IsZero && segment.Length > FuseMount.MaxReadSize)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Segments one read may map to before it falls back to copying (each is one splice call). libfuse sizes its
    /// pipe at a page per buffer plus the reply; a segment can straddle two pages more than its bytes fill, and 32 keeps the worst case inside the pipe for 128 KiB and 512 KiB replies alike.
    /// </summary>
    private const int MaxSegments = 32;

    [ThreadStatic]
    private static HostSegment[]? t_segments;

    [UnmanagedCallersOnly]
    private static int Write(byte* path, byte* buffer, nuint size, long offset, FuseFileInfo* info)
    {
        try
        {
            return Current.Volume.Write(info->Handle, offset, new ReadOnlySpan<byte>(buffer, checked((int)size)));
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    private const int FallocKeepSize = 0x01, FallocPunchHole = 0x02, FallocZeroRange = 0x10;

    /// <summary>
    /// fallocate(2): PUNCH_HOLE (with KEEP_SIZE, as the kernel requires) discards, ZERO_RANGE writes zeros; both
    /// make the range read as zeros (fstrim through a loop device ends up here). Allocating (mode 0) or growing
    /// the file is not supported: disk.raw has the guest disk's fixed size.
    /// </summary>
    [UnmanagedCallersOnly]
    private static int FAllocate(byte* path, int mode, long offset, long length, FuseFileInfo* info)
    {
        try
        {
            bool keepSize = (mode & FallocKeepSize) != 0;
            var volume = Current.Volume;
            if (!keepSize && length > 0 && offset > volume.NodeOf(info->Handle).Length - length)
            {
                return -Errno.ENOSPC; // would grow the file, and the kernel would believe it had
            }

            switch (mode & ~FallocKeepSize)
            {
                case FallocPunchHole when keepSize:
                    volume.ZeroRange(info->Handle, offset, length, deallocate: true);
                    return 0;
                case FallocZeroRange:
                    volume.ZeroRange(info->Handle, offset, length, deallocate: false);
                    return 0;
                default:
                    return -Errno.EOPNOTSUPP;
            }
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>Called on every close(2) of a descriptor: make what was written durable (cheap when nothing was).</summary>
    [UnmanagedCallersOnly]
    private static int Flush(byte* path, FuseFileInfo* info)
    {
        try
        {
            Current.Volume.Flush(info->Handle);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int FSync(byte* path, int dataOnly, FuseFileInfo* info)
    {
        try
        {
            Current.Volume.Flush(info->Handle);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>Release and releasedir: the last close of a file or directory handle.</summary>
    [UnmanagedCallersOnly]
    private static int Release(byte* path, FuseFileInfo* info)
    {
        try
        {
            Current.Volume.Close(info->Handle);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Truncate(byte* path, long size, FuseFileInfo* info)
    {
        try
        {
            var volume = Current.Volume;
            if (info is not null)
            {
                volume.SetLength(info->Handle, size);
            }
            else
            {
                volume.SetLength(volume.Lookup(PathOf(path)), size);
            }

            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int StatFs(byte* path, StatVfs* stat)
    {
        try
        {
            const uint blockSize = 4096;
            var space = Current.Volume.GetSpace();
            stat->BlockSize = blockSize;
            stat->FragmentSize = blockSize;
            stat->Blocks = (ulong)((space.TotalBytes + blockSize - 1) / blockSize);
            stat->BlocksFree = (ulong)(space.FreeBytes / blockSize);
            stat->BlocksAvailable = stat->BlocksFree;
            stat->Files = (ulong)space.FileCount;
            stat->MaxNameLength = 255;
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Create(byte* path, uint mode, FuseFileInfo* info)
    {
        try
        {
            Current.Volume.CreateFile(PathOf(path));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int MkDir(byte* path, uint mode)
    {
        try
        {
            Current.Volume.CreateDirectory(PathOf(path));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Unlink(byte* path)
    {
        try
        {
            Current.Volume.Delete(PathOf(path));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int RmDir(byte* path)
    {
        try
        {
            Current.Volume.RemoveDirectory(PathOf(path));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    [UnmanagedCallersOnly]
    private static int Rename(byte* from, byte* to, uint flags)
    {
        try
        {
            Current.Volume.Rename(PathOf(from), PathOf(to));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e);
        }
    }

    /// <summary>Adds one entry; false when libfuse's buffer is full.</summary>
    private static bool AddEntry(delegate* unmanaged<void*, byte*, Stat*, long, int, int> fill, void* buffer, string entry,
        Stat* stat, Span<byte> scratch)
    {
        int length = Encoding.UTF8.GetBytes(entry, scratch[..^1]);
        scratch[length] = 0;
        fixed (byte* text = scratch)
        {
            // Offset 0: the whole directory is listed in one call, as libfuse allows.
            return fill(buffer, text, stat, 0, 0) == 0;
        }
    }

    private static string PathOf(byte* path) => Marshal.PtrToStringUTF8((nint)path) ?? "/";

    /// <summary>The one place a callback's exception becomes -errno; surprises are also reported to the mount's log.</summary>
    private static int Fail(Exception exception)
    {
        if (exception is not VolumeException and not Qcow2.Qcow2Exception)
        {
            try
            {
                Current.Report(exception);
            }
            catch
            {
                // Reporting must not fail the callback; the errno below still goes back to the kernel.
            }
        }

        return -Errno.From(exception);
    }
}
