using System.Buffers.Binary;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Snapshots;

/// <summary>Reads the snapshot table and snapshot L1 tables.</summary>
internal static class SnapshotTable
{
    private const long MaxTableBytes = 64L << 20;

    public static List<SnapshotEntry> Read(IHostFile file, Qcow2Header header)
    {
        var entries = new List<SnapshotEntry>();
        if (header.SnapshotCount == 0)
        {
            return entries;
        }

        long available = Math.Min(MaxTableBytes, file.Length - (long)header.SnapshotsOffset);
        var buffer = new byte[(int)Math.Max(0, available)];
        int read = file.ReadAt((long)header.SnapshotsOffset, buffer);
        var span = buffer.AsSpan(0, read);
        int pos = 0;
        for (uint i = 0; i < header.SnapshotCount; i++)
        {
            SnapshotEntry entry;
            int consumed;
            try
            {
                entry = SnapshotEntry.Parse(span[pos..], out consumed);
            }
            catch (Qcow2Exception e)
            {
                throw new Qcow2Exception(e.Code, $"{file.Path}: snapshot {i + 1} of {header.SnapshotCount}: {e.Message}", e);
            }


            pos += consumed;
            entries.Add(entry);
        }

        return entries;
    }

    public static ulong[] ReadL1(IHostFile file, ulong offset, uint entries, int clusterSize, string what)
    {
        if (entries > (32u << 20) / 8)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: {what}: L1 table is too large ({entries} entries)");
        }

        if (entries == 0)
        {
            return [];
        }

        // offset < 2^56 first: a huge aligned offset plus the table size wraps around 2^64.
        if (offset % (ulong)clusterSize != 0 || offset == 0 || offset >= 1UL << 56 || offset + (entries * 8UL) > (ulong)file.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: {what}: L1 table at 0x{offset:x} is misplaced or past the end of the file");
        }

        var bytes = new byte[entries * 8];
        if (file.ReadAt((long)offset, bytes) != bytes.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: {what}: L1 table is truncated");
        }

        var l1 = new ulong[entries];
        for (int i = 0; i < l1.Length; i++)
        {
            l1[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * 8));
        }

        return l1;
    }
}
