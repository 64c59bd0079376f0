namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// One refcount table entry: bits 9..63 the refcount block's host offset (0: no block yet, every cluster it would
/// cover has refcount 0), bits 0..8 reserved. The spec gives the offset all of bits 9..63 (QEMU's REFT_OFFSET_MASK
/// is 0xffff_ffff_ffff_fe00), unlike L1 and L2 entries whose offsets stop at bit 55. Tables hold raw entries
/// (<see cref="PointerTable"/>); this type reads them.
/// </summary>
public readonly record struct RefcountTableEntry(ulong Value)
{
    public const ulong OffsetMask = ~ReservedMask;
    public const ulong ReservedMask = 0x1FFUL;

    /// <summary>The refcount block's host offset; 0 when there is no block, whatever the reserved bits hold.</summary>
    public ulong BlockOffset => Value & OffsetMask;

    public bool HasBlock => BlockOffset != 0;
    public bool HasReservedBits => (Value & ReservedMask) != 0;

    /// <summary>True when the block offset lies on a cluster boundary (a misaligned block is corruption).</summary>
    public bool IsAligned(int clusterBits) => (BlockOffset & ((1UL << clusterBits) - 1)) == 0;
}
