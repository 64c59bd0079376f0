namespace Qcow2Mount.Qcow2.Refcounts;

/// <summary>The kinds of metadata <see cref="OverlapGuard"/> tracks (QEMU's QCOW2_OL_* "cached" set).</summary>
[Flags]
internal enum MetadataKind
{
    None = 0,
    Header = 1,
    ActiveL1 = 2,
    ActiveL2 = 4,
    RefcountTable = 8,
    RefcountBlock = 16,
    SnapshotTable = 32,
    InactiveL1 = 64,
    /// <summary>The LUKS header and key slots of an encrypted image: overwriting them loses every key.</summary>
    CryptoHeader = 128,
}

/// <summary>
/// The host clusters that hold metadata (QEMU's "cached" overlap-check level: header, active L1 and L2 tables,
/// refcount table and blocks, snapshot table, snapshot L1 tables), each with every kind of metadata it holds.
/// Every data or metadata write is checked against it first, ignoring only the kind being written (an L2 table
/// may be written over itself, never over a refcount block); a hit means the allocator or the image is broken,
/// and nothing is written.
/// </summary>
internal sealed class OverlapGuard
{
    private readonly int _clusterBits;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, MetadataKind> _clusters = new();

    public OverlapGuard(int clusterBits)
    {
        _clusterBits = clusterBits;
    }

    public void Add(long hostOffset, long length, MetadataKind kind)
    {
        var (first, last) = Clusters(hostOffset, length);
        for (long c = first; c <= last; c++)
        {
            _clusters.AddOrUpdate(c, kind, (_, existing) => existing | kind);
        }
    }

    /// <summary>Forgets <paramref name="kind"/> at the range (other kinds sharing its clusters stay).</summary>
    public void Remove(long hostOffset, long length, MetadataKind kind)
    {
        var (first, last) = Clusters(hostOffset, length);
        for (long c = first; c <= last; c++)
        {
            while (_clusters.TryGetValue(c, out var existing))
            {
                var rest = existing & ~kind;
                if (rest == MetadataKind.None
                    ? _clusters.TryRemove(new KeyValuePair<long, MetadataKind>(c, existing))
                    : _clusters.TryUpdate(c, rest, existing))
                {
                    break;
                }
            }
        }
    }

    /// <summary>The metadata other than <paramref name="own"/> that the range overlaps, described; null when none.</summary>
    public string? Overlaps(long hostOffset, long length, MetadataKind own = MetadataKind.None)
    {
        // Runs before every data write: a plain loop, no iterator allocation.
        var (first, last) = Clusters(hostOffset, length);
        for (long c = first; c <= last; c++)
        {
            if (_clusters.TryGetValue(c, out var kinds) && (kinds & ~own) is var other and not MetadataKind.None)
            {
                return Describe(other);
            }
        }

        return null;
    }

    /// <summary>The first and last cluster of the range; an empty range gives last &lt; first.</summary>
    private (long First, long Last) Clusters(long hostOffset, long length) => length <= 0
        ? (0, -1)
        : (hostOffset >> _clusterBits, (hostOffset + length - 1) >> _clusterBits);

    private static string Describe(MetadataKind kinds) => string.Join(" and ", Enum.GetValues<MetadataKind>()
        .Where(k => k != MetadataKind.None && kinds.HasFlag(k))
        .Select(k => k switch
        {
            MetadataKind.Header => "header",
            MetadataKind.ActiveL1 => "active L1 table",
            MetadataKind.ActiveL2 => "active L2 table",
            MetadataKind.RefcountTable => "refcount table",
            MetadataKind.RefcountBlock => "refcount block",
            MetadataKind.SnapshotTable => "snapshot table",
            _ => "inactive L1 table",
        }));
}
