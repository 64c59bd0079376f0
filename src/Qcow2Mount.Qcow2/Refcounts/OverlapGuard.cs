namespace Qcow2Mount.Qcow2.Refcounts;

/// <summary>
/// The host clusters that hold metadata (QEMU's "cached" overlap-check level: header, active L1 and L2 tables,
/// refcount table and blocks, snapshot table, snapshot L1 tables). Every data or metadata write is checked
/// against it first; a hit means the allocator or the image is broken, and nothing is written.
/// </summary>
internal sealed class OverlapGuard
{
    private readonly int _clusterBits;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<long, string> _clusters = new();

    public OverlapGuard(int clusterBits)
    {
        _clusterBits = clusterBits;
    }

    public void Clear() => _clusters.Clear();

    public void Add(long hostOffset, long length, string what)
    {
        if (length <= 0)
        {
            return;
        }

        long first = hostOffset >> _clusterBits, last = (hostOffset + length - 1) >> _clusterBits;
        for (long c = first; c <= last; c++)
        {
            _clusters[c] = what;
        }
    }

    public void Remove(long hostOffset, long length)
    {
        if (length <= 0)
        {
            return;
        }

        long first = hostOffset >> _clusterBits, last = (hostOffset + length - 1) >> _clusterBits;
        for (long c = first; c <= last; c++)
        {
            _clusters.TryRemove(c, out _);
        }
    }

    /// <summary>What metadata the range overlaps, or null.</summary>
    public string? Overlaps(long hostOffset, long length)
    {
        if (length <= 0)
        {
            return null;
        }

        long first = hostOffset >> _clusterBits, last = (hostOffset + length - 1) >> _clusterBits;
        for (long c = first; c <= last; c++)
        {
            if (_clusters.TryGetValue(c, out var what))
            {
                return what;
            }
        }

        return null;
    }
}
