using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Native;

// Layouts of libfuse 3.12+ and glibc on x86-64 (checked against /usr/include/fuse3 with offsetof). Every native
// struct the adapter touches is here; FuseHost refuses other architectures rather than guess their stat layout.

/// <summary>struct fuse_args.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseArgs
{
    public int Count;
    public byte** Values;
    public int Allocated;
}

/// <summary>struct fuse_context (leading part).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseContext
{
    public nint Fuse;
    public uint Uid;
    public uint Gid;
    public int Pid;
    public nint PrivateData;
    public uint Umask;
}

/// <summary>struct fuse_file_info (40 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct FuseFileInfo
{
    [FieldOffset(0)] public int Flags;
    /// <summary>The bit fields writepage, direct_io, keep_cache, flush, nonseekable, ... from bit 0 up.</summary>
    [FieldOffset(4)] public uint Bits;
    [FieldOffset(16)] public ulong Handle;
    [FieldOffset(24)] public ulong LockOwner;
    [FieldOffset(32)] public uint PollEvents;

    public const uint DirectIoBit = 1u << 1;
    public const uint KeepCacheBit = 1u << 2;
}

/// <summary>struct fuse_buf (40 bytes): one piece of a reply, in memory or in a file.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal unsafe struct FuseBuf
{
    [FieldOffset(0)] public nuint Size;
    [FieldOffset(8)] public int Flags;
    [FieldOffset(16)] public void* Mem;
    [FieldOffset(24)] public int Fd;
    [FieldOffset(32)] public long Pos;

    /// <summary>FUSE_BUF_IS_FD: the data is in <see cref="Fd"/>, not <see cref="Mem"/>.</summary>
    public const int IsFd = 1 << 1;

    /// <summary>FUSE_BUF_FD_SEEK: read at <see cref="Pos"/> (pread-style), not at the descriptor's own offset.</summary>
    public const int FdSeek = 1 << 2;

    /// <summary>FUSE_BUF_FD_RETRY: keep splicing until the whole size is moved.</summary>
    public const int FdRetry = 1 << 3;
}

/// <summary>
/// struct fuse_bufvec: count, idx, off, then count <see cref="FuseBuf"/>s. read_buf hands libfuse one allocated
/// with malloc; libfuse frees it, and the memory of every buffer that is not a descriptor, with free.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseBufVec
{
    public nuint Count;
    public nuint Index;
    public nuint Offset;

    public static FuseBufVec* Allocate(int buffers)
    {
        var vector = (FuseBufVec*)NativeMemory.AllocZeroed((nuint)(sizeof(FuseBufVec) + buffers * sizeof(FuseBuf)));
        vector->Count = (nuint)buffers;
        return vector;
    }

    /// <summary>Frees a vector libfuse never received, with the memory of its memory buffers.</summary>
    public static void Free(FuseBufVec* vector)
    {
        for (nuint i = 0; i < vector->Count; i++)
        {
            if ((vector->Buffer((int)i)->Flags & FuseBuf.IsFd) == 0)
            {
                NativeMemory.Free(vector->Buffer((int)i)->Mem);
            }
        }

        NativeMemory.Free(vector);
    }

    public FuseBuf* Buffer(int index)
    {
        fixed (FuseBufVec* self = &this)
        {
            return (FuseBuf*)(self + 1) + index;
        }
    }
}

/// <summary>struct fuse_conn_info (128 bytes); only the sizes are set.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConnInfo
{
    [FieldOffset(0)] public uint ProtoMajor;
    [FieldOffset(4)] public uint ProtoMinor;
    [FieldOffset(8)] public uint MaxWrite;
    [FieldOffset(12)] public uint MaxRead;
    [FieldOffset(16)] public uint MaxReadahead;
    [FieldOffset(20)] public uint Capable;
    [FieldOffset(24)] public uint Want;
    [FieldOffset(28)] public uint MaxBackground;
    [FieldOffset(32)] public uint CongestionThreshold;

    /// <summary>FUSE_CAP_SPLICE_WRITE: libfuse may splice reply data from descriptors into /dev/fuse.</summary>
    public const uint SpliceWrite = 1u << 7;
}

/// <summary>struct fuse_config (128 bytes): the high-level library's settings, adjustable in init.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConfig
{
    [FieldOffset(24)] public double EntryTimeout;
    [FieldOffset(32)] public double NegativeTimeout;
    [FieldOffset(40)] public double AttrTimeout;
    [FieldOffset(64)] public int UseIno;
    [FieldOffset(72)] public int DirectIo;
    [FieldOffset(76)] public int KernelCache;
    [FieldOffset(80)] public int AutoCache;
    [FieldOffset(104)] public int NullPathOk;
}

/// <summary>struct timespec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;
}

/// <summary>glibc struct stat on x86-64 (144 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal struct Stat
{
    [FieldOffset(0)] public ulong Device;
    [FieldOffset(8)] public ulong Inode;
    [FieldOffset(16)] public ulong LinkCount;
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(28)] public uint Uid;
    [FieldOffset(32)] public uint Gid;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public long BlockSize;
    [FieldOffset(64)] public long Blocks;
    [FieldOffset(72)] public TimeSpec AccessTime;
    [FieldOffset(88)] public TimeSpec ModifyTime;
    [FieldOffset(104)] public TimeSpec ChangeTime;

    public const uint DirectoryType = 0x4000; // S_IFDIR
    public const uint RegularType = 0x8000;   // S_IFREG
}

/// <summary>glibc struct statvfs on x86-64 (112 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 112)]
internal struct StatVfs
{
    [FieldOffset(0)] public ulong BlockSize;
    [FieldOffset(8)] public ulong FragmentSize;
    [FieldOffset(16)] public ulong Blocks;
    [FieldOffset(24)] public ulong BlocksFree;
    [FieldOffset(32)] public ulong BlocksAvailable;
    [FieldOffset(40)] public ulong Files;
    [FieldOffset(48)] public ulong FilesFree;
    [FieldOffset(56)] public ulong FilesAvailable;
    [FieldOffset(64)] public ulong FileSystemId;
    [FieldOffset(72)] public ulong Flags;
    [FieldOffset(80)] public ulong MaxNameLength;
}

/// <summary>
/// struct fuse_operations of libfuse 3.12+ (42 function pointers, 336 bytes), in header order. The operations the
/// adapter implements are typed; the rest stay null, which libfuse answers with ENOSYS (or its default).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseOperations
{
    public delegate* unmanaged<byte*, Stat*, FuseFileInfo*, int> GetAttr;
    public nint ReadLink;
    public nint MkNod;
    public delegate* unmanaged<byte*, uint, int> MkDir;
    public delegate* unmanaged<byte*, int> Unlink;
    public delegate* unmanaged<byte*, int> RmDir;
    public nint SymLink;
    public delegate* unmanaged<byte*, byte*, uint, int> Rename;
    public nint Link;
    public nint ChMod;
    public nint ChOwn;
    public delegate* unmanaged<byte*, long, FuseFileInfo*, int> Truncate;
    public delegate* unmanaged<byte*, FuseFileInfo*, int> Open;
    public delegate* unmanaged<byte*, byte*, nuint, long, FuseFileInfo*, int> Read;
    public delegate* unmanaged<byte*, byte*, nuint, long, FuseFileInfo*, int> Write;
    public delegate* unmanaged<byte*, StatVfs*, int> StatFs;
    public delegate* unmanaged<byte*, FuseFileInfo*, int> Flush;
    public delegate* unmanaged<byte*, FuseFileInfo*, int> Release;
    public delegate* unmanaged<byte*, int, FuseFileInfo*, int> FSync;
    public nint SetXAttr;
    public nint GetXAttr;
    public nint ListXAttr;
    public nint RemoveXAttr;
    public delegate* unmanaged<byte*, FuseFileInfo*, int> OpenDir;
    public delegate* unmanaged<byte*, void*, delegate* unmanaged<void*, byte*, Stat*, long, int, int>, long, FuseFileInfo*, int, int> ReadDir;
    public delegate* unmanaged<byte*, FuseFileInfo*, int> ReleaseDir;
    public nint FSyncDir;
    public delegate* unmanaged<FuseConnInfo*, FuseConfig*, nint> Init;
    public nint Destroy;
    public nint Access;
    public delegate* unmanaged<byte*, uint, FuseFileInfo*, int> Create;
    public nint Lock;
    public nint UTimeNs;
    public nint BMap;
    public nint IoCtl;
    public nint Poll;
    public nint WriteBuf;
    public delegate* unmanaged<byte*, FuseBufVec**, nuint, long, FuseFileInfo*, int> ReadBuf;
    public nint FLock;
    public delegate* unmanaged<byte*, int, long, long, FuseFileInfo*, int> FAllocate;
    public nint CopyFileRange;
    public nint LSeek;
}
