using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Operations;

/// <summary>Reads the commands that walk a whole disk (convert, hash) share.</summary>
internal static class DiskReads
{
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
