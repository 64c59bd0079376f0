using System.Buffers;
using Qcow2Mount.Qcow2.Caching;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// Guest offset to extent: the L1 table (active or a snapshot's) and the L2 tables behind it, cached.
/// Lookups return descriptions and never do data I/O.
/// </summary>
internal sealed class ClusterMap
{
    private readonly IHostFile _file;
    private readonly Geometry _geometry;
    private readonly bool _hasDataFile;
    private readonly BoundedCache<L2Table> _cache;

    public ClusterMap(IHostFile file, Geometry geometry, ulong[] l1, bool hasDataFile, BoundedCache<L2Table> cache)
    {
        _file = file;
        _geometry = geometry;
        L1 = l1;
        _hasDataFile = hasDataFile;
        _cache = cache;
    }

    /// <summary>The L1 table, host-endian. Entries are replaced atomically (a 64-bit store).</summary>
    public ulong[] L1 { get; set; }

    public Geometry Geometry => _geometry;

    public BoundedCache<L2Table> Cache => _cache;

    /// <summary>The L2 table for L1 slot <paramref name="l1Index"/>, or null when none is allocated.</summary>
    public L2Table? GetL2(long l1Index)
    {
        if (l1Index >= L1.Length)
        {
            return null;
        }

        ulong l1Entry = Volatile.Read(ref L1[l1Index]);
        long l2Offset = (long)L1Entry.L2Offset(l1Entry);
        if (l2Offset == 0)
        {
            return null;
        }

        return LoadL2(l2Offset);
    }

    public L2Table LoadL2(long l2Offset)
    {
        if ((l2Offset & (_geometry.ClusterSize - 1)) != 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{_file.Path}: L2 table offset 0x{l2Offset:x} is not cluster aligned");
        }

        return _cache.GetOrLoad(l2Offset, this, static (offset, map) => map.ReadL2(offset));
    }

    private L2Table ReadL2(long offset)
    {
        int size = _geometry.ClusterSize;
        if (offset + size > _file.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{_file.Path}: L2 table at 0x{offset:x} lies past the end of the image");
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            int n = _file.ReadAt(offset, buffer.AsSpan(0, size));
            if (n != size)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{_file.Path}: L2 table at 0x{offset:x} is truncated");
            }

            return L2Table.Decode(offset, buffer.AsSpan(0, size));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Describes the longest run starting at <paramref name="guest"/> (at most <paramref name="maxLength"/> bytes)
    /// that reads the same way: zeros, unallocated, one contiguous host range, or part of one compressed cluster.
    /// </summary>
    public Extent Lookup(long guest, int maxLength)
    {
        var g = _geometry;
        long l1Index = g.L1Index(guest);
        int inTable = (int)Math.Min(maxLength, g.L2Span - (guest & (g.L2Span - 1)));
        var table = GetL2(l1Index);
        if (table is null)
        {
            return new Extent(ClusterKind.Unallocated, inTable, 0, default);
        }

        // Walk units (subclusters with extended L2, else clusters) while they read the same way.
        int unitBits = g.SubclusterBits;
        long unitMask = (1L << unitBits) - 1;
        var (kind, host) = Unit(table, guest >> unitBits);
        int length = (int)Math.Min(inTable, (1L << unitBits) - (guest & unitMask));
        if (kind == ClusterKind.Compressed)
        {
            var descriptor = CompressedDescriptor.Decode(table.Words[g.L2Index(guest) * (g.Extended ? 2 : 1)], g.ClusterBits);
            int inCluster = (int)Math.Min(inTable, g.ClusterSize - g.OffsetInCluster(guest));
            return new Extent(kind, inCluster, 0, descriptor);
        }

        if (kind == ClusterKind.Invalid)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{_file.Path}: invalid L2 entry for guest offset 0x{guest:x} (subcluster both allocated and zero, or allocated without a cluster)");
        }

        long hostStart = kind == ClusterKind.Normal ? host + (guest & unitMask) : 0;
        long next = (guest | unitMask) + 1;
        long expectedHost = hostStart + length;
        while (length < inTable)
        {
            var (nextKind, nextHost) = Unit(table, next >> unitBits);
            if (nextKind != kind || (kind == ClusterKind.Normal && nextHost != expectedHost))
            {
                break;
            }

            int add = (int)Math.Min(inTable - length, 1L << unitBits);
            length += add;
            expectedHost += add;
            next += 1L << unitBits;
        }

        return new Extent(kind, length, hostStart, default);
    }

    /// <summary>Kind and host offset (for the unit's first byte) of guest unit <paramref name="unit"/>.</summary>
    private (ClusterKind Kind, long Host) Unit(L2Table table, long unit)
    {
        var g = _geometry;
        if (!g.Extended)
        {
            ulong entry = table.Words[(int)(unit & (g.L2Entries - 1))];
            var kind = L2Entry.Classify(entry, _hasDataFile);
            return kind == ClusterKind.Normal ? (kind, CheckedHost(entry)) : (kind, 0);
        }

        int cluster = (int)((unit >> 5) & (g.L2Entries - 1));
        int sub = (int)(unit & 31);
        ulong e = table.Words[cluster * 2];
        ulong bitmap = table.Words[(cluster * 2) + 1];
        var subKind = L2Entry.ClassifySubcluster(e, bitmap, sub, _hasDataFile);
        return subKind == ClusterKind.Normal ? (subKind, CheckedHost(e) + ((long)sub << g.SubclusterBits)) : (subKind, 0);
    }

    private long CheckedHost(ulong entry)
    {
        long host = (long)L2Entry.HostOffset(entry);
        if ((host & (_geometry.ClusterSize - 1)) != 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{_file.Path}: data cluster offset 0x{host:x} is not cluster aligned");
        }

        return host;
    }
}
