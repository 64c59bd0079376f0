using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>The address arithmetic of one image: clusters, subclusters, L2 tables.</summary>
internal readonly record struct Geometry
{
    public Geometry(Qcow2Header header)
    {
        ClusterBits = header.ClusterBits;
        Extended = header.HasExtendedL2;
        L2Bits = ClusterBits - (Extended ? 4 : 3);
        SubclusterBits = Extended ? ClusterBits - 5 : ClusterBits;
    }

    public int ClusterBits { get; }
    public bool Extended { get; }

    /// <summary>log2 of the entries in one L2 table.</summary>
    public int L2Bits { get; }

    /// <summary>log2 of the unit the L2 describes: a subcluster with extended L2, else a cluster.</summary>
    public int SubclusterBits { get; }

    public int ClusterSize => 1 << ClusterBits;
    public int SubclusterSize => 1 << SubclusterBits;
    public int L2Entries => 1 << L2Bits;

    /// <summary>ulongs per L2 table (entries, or entry+bitmap pairs).</summary>
    public int L2Words => ClusterSize / 8;

    public long L1Index(long guest) => guest >> (ClusterBits + L2Bits);
    public int L2Index(long guest) => (int)((guest >> ClusterBits) & (L2Entries - 1));
    public int SubclusterIndex(long guest) => (int)((guest >> SubclusterBits) & 31);
    public long OffsetInCluster(long guest) => guest & (ClusterSize - 1);

    /// <summary>Guest bytes covered by one L2 table.</summary>
    public long L2Span => 1L << (ClusterBits + L2Bits);

    public long L1EntriesFor(ulong size) => (long)((size + (ulong)L2Span - 1) / (ulong)L2Span);
}
