namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// One entry of a persistent dirty bitmap's table: bits 9..55 the host offset of a cluster of bitmap data (0: the
/// cluster is not stored; bit 0 then says whether it reads as all ones), other bits reserved.
/// </summary>
public readonly record struct BitmapTableEntry(ulong Value)
{
    public const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00UL;
    public const ulong ReservedMask = 0xFF00_0000_0000_01FEUL;

    /// <summary>The data cluster's host offset, 0 when the cluster is not stored.</summary>
    public ulong DataOffset => Value & OffsetMask;

    public bool HasReservedBits => (Value & ReservedMask) != 0;
}
