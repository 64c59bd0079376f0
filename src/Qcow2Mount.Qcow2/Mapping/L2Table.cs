using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// One L2 table in memory, decoded to host-endian words (entries, or entry/bitmap pairs with extended L2).
/// Its bytes become words only in <see cref="Decode"/> and <see cref="Encode"/>, through <see cref="PointerTable"/>.
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
        return new L2Table(hostOffset, PointerTable.Decode(bytes));
    }

    public void Encode(Span<byte> destination)
    {
        PointerTable.Encode(Words, destination);
    }
}
