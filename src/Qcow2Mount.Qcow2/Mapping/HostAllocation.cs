using System.Runtime.InteropServices;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// Holes in a host file (SEEK_DATA / SEEK_HOLE), as QEMU's file driver reports them: bytes in a hole or past
/// the end read as zeros. Where the OS cannot say (Windows, other file kinds), everything inside the file is data.
/// </summary>
internal static partial class HostAllocation
{
    private const int SeekData = 3;
    private const int SeekHole = 4;

    /// <summary>Whether <paramref name="offset"/> of <paramref name="file"/> holds data, and for how many of the next <paramref name="length"/> bytes that stays so.</summary>
    public static (bool IsData, long Length) Query(IHostFile file, long offset, long length)
    {
        long size = file.Length;
        if (offset >= size)
        {
            return (false, length);
        }

        long inFile = Math.Min(length, size - offset);
        if (file is not HostFile host || !(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()))
        {
            return (true, inFile);
        }

        bool added = false;
        try
        {
            host.Handle.DangerousAddRef(ref added);
            int fd = (int)host.Handle.DangerousGetHandle();
            // lseek moves the descriptor's position, which nothing here uses: all I/O is positional.
            long data = LSeek(fd, offset, SeekData);
            if (data < 0)
            {
                // ENXIO: no data at or after offset. Any other failure: claim data, as QEMU does when it cannot tell.
                return Marshal.GetLastPInvokeError() == 6 ? (false, inFile) : (true, inFile);
            }

            if (data > offset)
            {
                return (false, Math.Min(inFile, data - offset));
            }

            long hole = LSeek(fd, offset, SeekHole);
            return hole > offset ? (true, Math.Min(inFile, hole - offset)) : (true, inFile);
        }
        finally
        {
            if (added)
            {
                host.Handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Bytes the host stores for the file, as QEMU's bdrv_get_allocated_file_size sees them: st_blocks * 512 on
    /// Linux (x64 and arm64 keep st_blocks at byte 64 of struct stat); elsewhere what SEEK_DATA finds, or the length.
    /// </summary>
    public static unsafe long AllocatedBytes(IHostFile file)
    {
        if (OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64)
        {
            byte* stat = stackalloc byte[256];
            if (Stat(file.Path, stat) == 0)
            {
                return *(long*)(stat + 64) * 512;
            }
        }

        return DataExtentBytes(file);
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Stat(string path, byte* buffer);

    /// <summary>Bytes the file's data extents cover, found with SEEK_DATA/SEEK_HOLE.</summary>
    private static long DataExtentBytes(IHostFile file)
    {
        long total = 0;
        long offset = 0;
        long size = file.Length;
        while (offset < size)
        {
            var (isData, run) = Query(file, offset, size - offset);
            if (isData)
            {
                total += run;
            }

            offset += Math.Max(run, 1);
        }

        return total;
    }

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(int fd, long offset, int whence);
}
