using System.Buffers.Binary;
using System.Text;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// One entry of the bitmap directory: 24 fixed bytes (bitmap_table_offset u64, bitmap_table_size u32 in entries,
/// flags u32, type u8, granularity_bits u8, name_size u16, extra_data_size u32), then extra data and the name,
/// padded to 8 bytes. TableSize counts the bitmap table's entries (8 bytes each).
/// </summary>
public readonly record struct BitmapDirectoryEntry(
    ulong TableOffset, uint TableSize, uint Flags, byte Type, byte GranularityBits, string Name, ReadOnlyMemory<byte> ExtraData)
{
    public const int FixedSize = 24;

    private const int OffTableOffset = 0, OffTableSize = 8, OffFlags = 12, OffType = 16, OffGranularityBits = 17,
        OffNameSize = 18, OffExtraDataSize = 20;

    /// <summary>Bytes of the bitmap table.</summary>
    public ulong TableBytes => (ulong)TableSize * PointerTable.EntrySize;

    /// <summary>Bytes this entry takes in the directory, padding included.</summary>
    public int StoredSize => Align8(FixedSize + ExtraData.Length + Encoding.UTF8.GetByteCount(Name));

    /// <summary>Parses one entry at the start of <paramref name="data"/>; returns the bytes it took, padding included.</summary>
    public static BitmapDirectoryEntry Parse(ReadOnlySpan<byte> data, out int consumed)
    {
        if (data.Length < FixedSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, "bitmap directory is truncated");
        }

        int nameSize = BinaryPrimitives.ReadUInt16BigEndian(data[OffNameSize..]);
        uint extraSize = BinaryPrimitives.ReadUInt32BigEndian(data[OffExtraDataSize..]);
        long total = FixedSize + (long)extraSize + nameSize;
        if (total > data.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, "bitmap directory entry runs past the end of the directory");
        }

        consumed = Align8((int)total);
        return new BitmapDirectoryEntry(
            BinaryPrimitives.ReadUInt64BigEndian(data[OffTableOffset..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[OffTableSize..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[OffFlags..]),
            data[OffType],
            data[OffGranularityBits],
            Encoding.UTF8.GetString(data.Slice(FixedSize + (int)extraSize, nameSize)),
            data.Slice(FixedSize, (int)extraSize).ToArray());
    }

    /// <summary>Writes the entry (padded) into <paramref name="destination"/>; returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        byte[] name = Encoding.UTF8.GetBytes(Name);
        int size = StoredSize;
        destination[..size].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffTableOffset..], TableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffTableSize..], TableSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffFlags..], Flags);
        destination[OffType] = Type;
        destination[OffGranularityBits] = GranularityBits;
        BinaryPrimitives.WriteUInt16BigEndian(destination[OffNameSize..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffExtraDataSize..], (uint)ExtraData.Length);
        ExtraData.Span.CopyTo(destination[FixedSize..]);
        name.CopyTo(destination[(FixedSize + ExtraData.Length)..]);
        return size;
    }

    /// <summary>Why the bitmap table cannot be read from a file of <paramref name="fileLength"/> bytes, or null when it can.</summary>
    public string? Validate(int clusterSize, long fileLength)
    {
        // The table size is at most 2^32 entries: offset + bytes cannot wrap once the offset is below 2^56.
        if (TableOffset % (ulong)clusterSize != 0 || TableOffset >= 1UL << 56 || TableOffset + TableBytes > (ulong)fileLength)
        {
            return $"table at 0x{TableOffset:x} is misaligned or past the end of the image";
        }

        return null;
    }

    private static int Align8(int n) => (n + 7) & ~7;
}
