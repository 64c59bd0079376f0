using System.Buffers.Binary;
using System.Text;

namespace Qcow2Mount.Mounting.Partitions;

/// <summary>One GPT partition entry (UEFI 2.10 §5.3.3): the first 128 bytes of each slot of the entry array.</summary>
internal readonly struct GptEntry
{
    public const int Size = 128;

    private const int TypeGuidOffset = 0;
    private const int UniqueGuidOffset = 16;
    private const int FirstLbaOffset = 32;
    private const int LastLbaOffset = 40;
    private const int AttributesOffset = 48;
    private const int NameOffset = 56;
    private const int NameBytes = 72;

    public Guid TypeGuid { get; init; }
    public Guid UniqueGuid { get; init; }
    public ulong FirstLba { get; init; }

    /// <summary>Last sector, inclusive.</summary>
    public ulong LastLba { get; init; }
    public ulong Attributes { get; init; }
    public string Name { get; init; }

    public bool IsUnused => TypeGuid == Guid.Empty;

    public static GptEntry Parse(ReadOnlySpan<byte> entry)
    {
        string name = Encoding.Unicode.GetString(entry.Slice(NameOffset, NameBytes));
        int end = name.IndexOf('\0', StringComparison.Ordinal);
        return new GptEntry
        {
            // The GUIDs are stored as Windows lays them out (three little-endian fields, then bytes), as Guid(bytes) reads.
            TypeGuid = new Guid(entry.Slice(TypeGuidOffset, 16)),
            UniqueGuid = new Guid(entry.Slice(UniqueGuidOffset, 16)),
            FirstLba = BinaryPrimitives.ReadUInt64LittleEndian(entry[FirstLbaOffset..]),
            LastLba = BinaryPrimitives.ReadUInt64LittleEndian(entry[LastLbaOffset..]),
            Attributes = BinaryPrimitives.ReadUInt64LittleEndian(entry[AttributesOffset..]),
            Name = end >= 0 ? name[..end] : name,
        };
    }
}
