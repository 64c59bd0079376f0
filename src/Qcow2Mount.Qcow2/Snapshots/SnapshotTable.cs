using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Snapshots;

/// <summary>Reads, looks up and encodes the snapshot table.</summary>
internal static class SnapshotTable
{
    public const long MaxTableBytes = 64L << 20;
    public const int MaxSnapshots = 65536;

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

    /// <summary>A snapshot by id first, then by name, the way qemu-img resolves the argument of -a and -d.</summary>
    public static SnapshotEntry? Find(IEnumerable<SnapshotEntry> entries, string idOrName) =>
        entries.FirstOrDefault(s => s.Id == idOrName) ?? entries.FirstOrDefault(s => s.Name == idOrName);

    /// <summary>One more than the largest numeric id (non-numeric ids count as 0), as QEMU numbers snapshots.</summary>
    public static string NextId(IEnumerable<SnapshotEntry> entries) =>
        (entries.Select(s => ulong.TryParse(s.Id, out ulong n) ? n : 0).DefaultIfEmpty(0UL).Max() + 1)
            .ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The table as stored: the entries back to back, each padded to 8 bytes.</summary>
    public static byte[] Encode(IReadOnlyList<SnapshotEntry> entries)
    {
        var bytes = new byte[entries.Sum(e => (long)e.StoredSize)];
        int pos = 0;
        foreach (var entry in entries)
        {
            pos += entry.WriteTo(bytes.AsSpan(pos));
        }

        return bytes;
    }
}
