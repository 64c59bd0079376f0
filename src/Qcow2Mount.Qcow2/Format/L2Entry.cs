namespace Qcow2Mount.Qcow2.Format;

/// <summary>What a cluster (or subcluster) of the guest reads as.</summary>
public enum ClusterKind
{
    /// <summary>Not allocated here: read from the backing file, or zeros without one.</summary>
    Unallocated,
    /// <summary>Reads as zeros (v3 zero flag or extended-L2 zero bit).</summary>
    Zero,
    /// <summary>Data at a host offset in the image (or the external data file).</summary>
    Normal,
    /// <summary>Compressed data described by a compressed descriptor.</summary>
    Compressed,
    /// <summary>An entry the spec forbids (e.g. allocated subcluster in an unallocated cluster).</summary>
    Invalid,
}

/// <summary>Bit accessors for standard L2 entries (the first 64 bits of an extended entry too).</summary>
public static class L2Entry
{
    public const ulong Copied = 1UL << 63;
    public const ulong CompressedFlag = 1UL << 62;
    public const ulong ZeroFlag = 1UL;
    public const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00UL;
    public const ulong ReservedMask = 0x3F00_0000_0000_01FEUL;

    public static bool IsCompressed(ulong entry) => (entry & CompressedFlag) != 0;
    public static bool IsZero(ulong entry) => (entry & ZeroFlag) != 0;
    public static bool IsCopied(ulong entry) => (entry & Copied) != 0;
    public static ulong HostOffset(ulong entry) => entry & OffsetMask;

    /// <summary>
    /// Classifies a standard (non-extended) entry. With an external data file, offset 0 is a valid
    /// host offset; the COPIED flag tells it from "unallocated" (data-file clusters always have refcount 1).
    /// </summary>
    public static ClusterKind Classify(ulong entry, bool hasDataFile)
    {
        if (IsCompressed(entry))
        {
            return ClusterKind.Compressed;
        }

        if (IsZero(entry))
        {
            return ClusterKind.Zero;
        }

        if (HostOffset(entry) != 0 || (hasDataFile && IsCopied(entry)))
        {
            return ClusterKind.Normal;
        }

        return ClusterKind.Unallocated;
    }

    /// <summary>True when the cluster behind a standard entry has storage (a host cluster that is referenced).</summary>
    public static bool HasHostCluster(ulong entry, bool hasDataFile) =>
        !IsCompressed(entry) && (HostOffset(entry) != 0 || (hasDataFile && IsCopied(entry)));

    /// <summary>
    /// Classifies subcluster <paramref name="index"/> of an extended entry: bits 0..31 of the bitmap say
    /// "allocated", bits 32..63 "reads as zero". The standard entry's zero flag is not used with extended L2.
    /// </summary>
    public static ClusterKind ClassifySubcluster(ulong entry, ulong bitmap, int index, bool hasDataFile)
    {
        if (IsCompressed(entry))
        {
            return ClusterKind.Compressed;
        }

        bool allocatedBit = (bitmap & (1UL << index)) != 0;
        bool zeroBit = (bitmap & (1UL << (32 + index))) != 0;
        if (allocatedBit && zeroBit)
        {
            return ClusterKind.Invalid;
        }

        bool hasCluster = HostOffset(entry) != 0 || (hasDataFile && IsCopied(entry));
        if (zeroBit)
        {
            return ClusterKind.Zero;
        }

        if (allocatedBit)
        {
            return hasCluster ? ClusterKind.Normal : ClusterKind.Invalid;
        }

        return ClusterKind.Unallocated;
    }
}

/// <summary>
/// A compressed cluster descriptor: with x = 62 - (cluster_bits - 8), bits 0..x-1 hold the host byte offset and
/// bits x..61 the number of additional 512-byte sectors. The stored size ends at a sector boundary.
/// </summary>
public readonly record struct CompressedDescriptor(long HostOffset, int Size)
{
    public static CompressedDescriptor Decode(ulong entry, int clusterBits)
    {
        int x = 62 - (clusterBits - 8);
        ulong offsetMask = (1UL << x) - 1;
        ulong sectorMask = (1UL << (clusterBits - 8)) - 1;
        long offset = (long)(entry & offsetMask);
        long sectors = (long)((entry >> x) & sectorMask) + 1;
        return new CompressedDescriptor(offset, (int)(sectors * 512 - (offset & 511)));
    }

    public ulong Encode(int clusterBits)
    {
        int x = 62 - (clusterBits - 8);
        long end = HostOffset + Size;
        long sectors = ((end + 511) / 512) - (HostOffset / 512) - 1;
        return L2Entry.CompressedFlag | ((ulong)sectors << x) | (ulong)HostOffset;
    }
}
