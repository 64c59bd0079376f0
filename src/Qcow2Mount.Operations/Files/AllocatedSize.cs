using System.Runtime.InteropServices;

namespace Qcow2Mount.Operations;

/// <summary>
/// Bytes a file occupies on the host (what <c>qemu-img info</c> calls "disk size": st_blocks * 512), which for
/// sparse or preallocated files differs from the length. .NET exposes no such call, hence the P/Invokes.
/// </summary>
internal static partial class AllocatedSize
{
    private const int AtFdCwd = -100;
    private const uint StatxBlocks = 0x400;
    private const int StatxBlocksOffset = 48; // struct statx: mask u32, blksize u32, attributes u64, nlink, uid, gid u32, mode u16, pad, ino u64, size u64, blocks u64
    private const int StatxBufferSize = 256;

    /// <summary>Allocated bytes, or the file length where the platform cannot tell.</summary>
    public static long Of(string path)
    {
        if (OperatingSystem.IsLinux() && TryStatx(path, out long linuxBytes))
        {
            return linuxBytes;
        }

        if (OperatingSystem.IsWindows() && TryCompressedSize(path, out long windowsBytes))
        {
            return windowsBytes;
        }

        return new FileInfo(path).Length;
    }

    private static unsafe bool TryStatx(string path, out long bytes)
    {
        // statx has one layout on every architecture, unlike struct stat.
        byte* buffer = stackalloc byte[StatxBufferSize];
        new Span<byte>(buffer, StatxBufferSize).Clear();
        bytes = 0;
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxBlocks, buffer) != 0 || (*(uint*)buffer & StatxBlocks) == 0)
            {
                return false;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return false; // C libraries older than glibc 2.28.
        }

        bytes = *(long*)(buffer + StatxBlocksOffset) * 512;
        return true;
    }

    private static bool TryCompressedSize(string path, out long bytes)
    {
        uint low = GetCompressedFileSizeW(path, out uint high);
        bytes = ((long)high << 32) | low;
        return low != uint.MaxValue || Marshal.GetLastPInvokeError() == 0;
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("kernel32", EntryPoint = "GetCompressedFileSizeW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    private static partial uint GetCompressedFileSizeW(string path, out uint high);
}
