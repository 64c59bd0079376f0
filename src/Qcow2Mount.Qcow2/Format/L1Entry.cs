namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// One L1 table entry: bits 9..55 the L2 table's host offset (0: no L2 table), bit 63 COPIED (the L2 table's
/// refcount is 1, so it may be written in place); bits 0..8 and 56..62 are reserved. Tables hold raw entries
/// (<see cref="PointerTable"/>); this type reads them.
/// </summary>
public readonly record struct L1Entry(ulong Value)
{
    public const ulong Copied = 1UL << 63;
    public const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00UL;
    public const ulong ReservedMask = 0x7F00_0000_0000_01FFUL;

    /// <summary>The most entries an L1 table may have: QEMU's 32 MiB limit.</summary>
    public const uint MaxTableEntries = (32u << 20) / PointerTable.EntrySize;

    /// <summary>The L2 table's host offset, 0 when the entry points at none.</summary>
    public ulong L2TableOffset => L2Offset(Value);

    public bool HasL2Table => L2TableOffset != 0;
    public bool IsCopied => (Value & Copied) != 0;
    public bool HasReservedBits => (Value & ReservedMask) != 0;

    /// <summary>The entry with COPIED set or cleared, every other bit kept.</summary>
    public L1Entry WithCopied(bool copied) => new(copied ? Value | Copied : Value & ~Copied);

    /// <summary>The L2 table offset of a raw entry.</summary>
    public static ulong L2Offset(ulong entry) => entry & OffsetMask;

    /// <summary>
    /// Why an L1 table of <paramref name="entries"/> at <paramref name="offset"/> cannot be read from a file of
    /// <paramref name="fileLength"/> bytes (too large, misaligned, over the header, past the end), or null when it can.
    /// </summary>
    public static string? CheckTablePlacement(ulong offset, uint entries, int clusterSize, long fileLength)
    {
        if (entries > MaxTableEntries)
        {
            return $"L1 table is too large ({entries} entries)";
        }

        // offset < 2^56 first: a huge aligned offset plus the table size wraps around 2^64.
        if (entries != 0 && (offset % (ulong)clusterSize != 0 || offset == 0 || offset >= 1UL << 56
            || offset + (entries * (ulong)PointerTable.EntrySize) > (ulong)fileLength))
        {
            return $"L1 table at 0x{offset:x} is misplaced or past the end of the file";
        }

        return null;
    }
}
