using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>Reads the commands that walk a whole disk (convert, hash) share.</summary>
internal static class DiskReads
{
    /// <summary>
    /// Opens an image (or one of its internal snapshots) to be read once from start to end. A sequential pass never
    /// reads a compressed cluster twice, so a big decompressed-cluster cache only keeps garbage alive (with the
    /// 64 MiB default, GC promotion and page faults cost ~40% more system time). Unless <paramref name="forceShare"/>,
    /// the image is held as a QEMU reader holds it: one a running VM writes is refused rather than read
    /// half-updated, and nothing starts writing it (or its backing files) until the pass is done.
    /// </summary>
    public static IVirtualDisk OpenForPass(string image, string? format, string? snapshot, bool forceShare, byte[]? password)
    {
        var options = new Qcow2OpenOptions
        {
            Snapshot = snapshot,
            DecompressedCacheBytes = 1 << 20,
            HoldReaderLock = !forceShare,
            Password = password,
        };
        var disk = VirtualDisk.Open(image, format, options);
        if (snapshot is not null && disk is not Qcow2Image)
        {
            disk.Dispose();
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{image}: internal snapshots need a qcow2 image");
        }

        return disk;
    }

    /// <summary>Fills <paramref name="destination"/> from guest <paramref name="offset"/>; a short disk is an I/O error.</summary>
    public static void ReadFully(IVirtualDisk disk, long offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n = disk.ReadAt(offset + done, destination[done..]);
            if (n <= 0)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Io, $"unexpected end of the disk at guest offset {offset + done:#x}");
            }

            done += n;
        }
    }
}
