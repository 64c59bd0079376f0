using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Native;

/// <summary>
/// The libfuse3 (3.12 or later) high-level API, bound by exact versioned export names so a newer libfuse with a
/// changed default version cannot silently pair our structs with another ABI. Every P/Invoke lives here.
/// </summary>
internal static unsafe partial class LibFuse
{
    internal const string Library = "libfuse3.so.3";

    /// <summary>fuse_new for API 3.1+: parses <paramref name="args"/>, copies <paramref name="operations"/>.</summary>
    [LibraryImport(Library, EntryPoint = "fuse_new_31")]
    internal static partial nint New(FuseArgs* args, FuseOperations* operations, nuint operationsSize, nint privateData);

    [LibraryImport(Library, EntryPoint = "fuse_mount", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Mount(nint fuse, string mountPoint);

    /// <summary>Closes the /dev/fuse descriptor and, unless the kernel already dropped the mount, unmounts lazily.</summary>
    [LibraryImport(Library, EntryPoint = "fuse_unmount")]
    internal static partial void Unmount(nint fuse);

    [LibraryImport(Library, EntryPoint = "fuse_destroy")]
    internal static partial void Destroy(nint fuse);

    /// <summary>Serves requests on a pool of threads until the file system is unmounted; 0 on a clean end.</summary>
    [LibraryImport(Library, EntryPoint = "fuse_loop_mt_312")]
    internal static partial int LoopMultiThreaded(nint fuse, nint loopConfig);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_create")]
    internal static partial nint LoopConfigCreate();

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_destroy")]
    internal static partial void LoopConfigDestroy(nint loopConfig);

    [LibraryImport(Library, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    internal static partial void LoopConfigSetMaxThreads(nint loopConfig, uint value);

    [LibraryImport(Library, EntryPoint = "fuse_opt_free_args")]
    internal static partial void FreeArgs(FuseArgs* args);

    /// <summary>Thread-local lookup inside libfuse: no blocking, no callbacks, so no GC transition is needed.</summary>
    [LibraryImport(Library, EntryPoint = "fuse_get_context")]
    [SuppressGCTransition]
    internal static partial FuseContext* GetContext();
}

internal static unsafe partial class LibC
{
    private const string Library = "libc";

    [LibraryImport(Library, EntryPoint = "getuid")]
    [SuppressGCTransition]
    internal static partial uint GetUid();

    [LibraryImport(Library, EntryPoint = "getgid")]
    [SuppressGCTransition]
    internal static partial uint GetGid();

    /// <summary>Resolves symbolic links; returns a malloc'ed string or null (errno set).</summary>
    [LibraryImport(Library, EntryPoint = "realpath", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial byte* RealPath(string path, byte* resolved);

    [LibraryImport(Library, EntryPoint = "free")]
    internal static partial void Free(void* pointer);

    /// <summary>An anonymous in-memory file; -1 with errno set on failure.</summary>
    [LibraryImport(Library, EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int MemfdCreate(string name, uint flags);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    internal static partial int FTruncate(int fd, long length);

    [LibraryImport(Library, EntryPoint = "close")]
    internal static partial int Close(int fd);

    /// <summary>MFD_CLOEXEC.</summary>
    internal const uint MemfdCloseOnExec = 1;

    [LibraryImport(Library, EntryPoint = "mmap", SetLastError = true)]
    internal static partial void* MMap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Library, EntryPoint = "munmap")]
    internal static partial int MUnmap(void* address, nuint length);

    internal const int ProtRead = 1, ProtWrite = 2, MapShared = 1;

    /// <summary>MAP_FAILED, (void*)-1.</summary>
    internal static readonly void* MapFailed = (void*)-1;
}
