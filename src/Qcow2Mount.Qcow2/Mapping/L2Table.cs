using System.Buffers.Binary;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// One L2 table in memory, decoded to host-endian words (entries, or entry/bitmap pairs with extended L2).
/// Byte swapping happens only in <see cref="Decode"/> and <see cref="Encode"/>.
/// </summary>
internal sealed class L2Table
{
    public L2Table(long hostOffset, ulong[] words)
    {
        HostOffset = hostOffset;
        Words = words;
    }

    public long HostOffset { get; }
    public ulong[] Words { get; }

    private volatile bool _dirty;

    /// <summary>Set when the table differs from disk; cleared once written. Set before changing words.</summary>
    public bool Dirty
    {
        get => _dirty;
        set => _dirty = value;
    }

    public static L2Table Decode(long hostOffset, ReadOnlySpan<byte> bytes)
    {
        var words = new ulong[bytes.Length / 8];
        for (int i = 0; i < words.Length; i++)
        {
            words[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes[(i * 8)..]);
        }

        return new L2Table(hostOffset, words);
    }

    public void Encode(Span<byte> destination)
    {
        for (int i = 0; i < Words.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination[(i * 8)..], Words[i]);
        }
    }
}
