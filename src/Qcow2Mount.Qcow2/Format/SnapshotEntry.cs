using System.Buffers.Binary;
using System.Text;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// One entry of the snapshot table: 40 fixed bytes, extra data (v3: at least 16 bytes: vm_state_size_large,
/// disk_size; since QEMU 5.2 also icount), the id and name strings, padded to 8 bytes.
/// </summary>
public sealed record SnapshotEntry
{
    public const int FixedSize = 40;
    public const int MaxExtraSize = 1024;

    public ulong L1TableOffset { get; init; }
    public uint L1Size { get; init; }
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public uint DateSeconds { get; init; }
    public uint DateNanoseconds { get; init; }
    public ulong VmClockNanoseconds { get; init; }
    public uint VmStateSize { get; init; }
    public ReadOnlyMemory<byte> ExtraData { get; init; }

    /// <summary>The known fields of <see cref="ExtraData"/>.</summary>
    public SnapshotExtraData Extra => SnapshotExtraData.Parse(ExtraData.Span);

    /// <summary>Guest size when the snapshot was taken (extra data), or null when the entry does not say.</summary>
    public ulong? DiskSize => Extra.DiskSize;

    public ulong VmStateSizeLarge => Extra.VmStateSizeLarge ?? VmStateSize;

    /// <summary>icount (-1 when not recorded).</summary>
    public long Icount => Extra.Icount ?? -1;

    public DateTimeOffset Date => DateTimeOffset.FromUnixTimeSeconds(DateSeconds).AddTicks(DateNanoseconds / 100);

    /// <summary>Bytes this entry takes in the table, padding included.</summary>
    public int StoredSize => Align8(FixedSize + ExtraData.Length + Encoding.UTF8.GetByteCount(Id) + Encoding.UTF8.GetByteCount(Name));

    /// <summary>Parses one entry at the start of <paramref name="data"/>; returns the bytes it took.</summary>
    public static SnapshotEntry Parse(ReadOnlySpan<byte> data, out int consumed)
    {
        if (data.Length < FixedSize)
        {
            throw Corrupt("snapshot table is truncated");
        }

        int idLength = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        int nameLength = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        uint extraSize = BinaryPrimitives.ReadUInt32BigEndian(data[36..]);
        if (extraSize > MaxExtraSize)
        {
            // A field beyond its limit, like an oversized L1: the header (here the table entry) is invalid.
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"snapshot extra data is too large ({extraSize} bytes, at most {MaxExtraSize})");
        }

        int total = FixedSize + (int)extraSize + idLength + nameLength;
        if (total > data.Length)
        {
            throw Corrupt("snapshot table entry runs past the end of the table");
        }

        int pos = FixedSize;
        var extra = data.Slice(pos, (int)extraSize).ToArray();
        pos += (int)extraSize;
        string id = Encoding.UTF8.GetString(data.Slice(pos, idLength));
        pos += idLength;
        string name = Encoding.UTF8.GetString(data.Slice(pos, nameLength));
        consumed = Align8(total);
        return new SnapshotEntry
        {
            L1TableOffset = BinaryPrimitives.ReadUInt64BigEndian(data),
            L1Size = BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            DateSeconds = BinaryPrimitives.ReadUInt32BigEndian(data[16..]),
            DateNanoseconds = BinaryPrimitives.ReadUInt32BigEndian(data[20..]),
            VmClockNanoseconds = BinaryPrimitives.ReadUInt64BigEndian(data[24..]),
            VmStateSize = BinaryPrimitives.ReadUInt32BigEndian(data[32..]),
            ExtraData = extra,
            Id = id,
            Name = name,
        };
    }

    /// <summary>Writes the entry (padded) into <paramref name="destination"/>; returns the bytes written.</summary>
    public int WriteTo(Span<byte> destination)
    {
        byte[] id = Encoding.UTF8.GetBytes(Id), name = Encoding.UTF8.GetBytes(Name);
        int size = StoredSize;
        destination[..size].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(destination, L1TableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], L1Size);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], (ushort)id.Length);
        BinaryPrimitives.WriteUInt16BigEndian(destination[14..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], DateSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], DateNanoseconds);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], VmClockNanoseconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[32..], VmStateSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[36..], (uint)ExtraData.Length);
        ExtraData.Span.CopyTo(destination[FixedSize..]);
        id.CopyTo(destination[(FixedSize + ExtraData.Length)..]);
        name.CopyTo(destination[(FixedSize + ExtraData.Length + id.Length)..]);
        return size;
    }

    private static int Align8(int n) => (n + 7) & ~7;

    private static Qcow2Exception Corrupt(string message) => new(Qcow2ErrorCode.Corrupt, message);
}
