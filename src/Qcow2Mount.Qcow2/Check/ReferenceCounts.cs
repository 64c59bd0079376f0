namespace Qcow2Mount.Qcow2.Check;

/// <summary>
/// The refcounts rebuilt from the metadata: one uint per host cluster of the file, plus a small map for references
/// past the end of the file (each of those is a corruption; there can be no more of them than entries that point).
/// </summary>
internal sealed class ReferenceCounts
{
    private const int MaxPastEndClusters = 1 << 20;

    private readonly uint[] _counts;
    private readonly Dictionary<long, uint> _pastEnd = [];
    private readonly ulong _max;

    public ReferenceCounts(long fileClusters, int clusterBits, ulong refcountMax)
    {
        _counts = new uint[fileClusters];
        ClusterBits = clusterBits;
        _max = Math.Min(refcountMax, uint.MaxValue);
    }

    public int ClusterBits { get; }
    public long FileClusters => _counts.LongLength;

    /// <summary>Clusters past the end of the file that something references, in order.</summary>
    public IEnumerable<long> PastEndClusters => _pastEnd.Keys.Order();

    public uint this[long cluster] => cluster < _counts.LongLength ? _counts[cluster] : _pastEnd.GetValueOrDefault(cluster);

    /// <summary>Highest cluster with a nonzero count, or -1.</summary>
    public long HighestReferenced()
    {
        long highest = _pastEnd.Count > 0 ? _pastEnd.Keys.Max() : -1;
        if (highest >= 0)
        {
            return highest;
        }

        for (long i = _counts.LongLength - 1; i >= 0; i--)
        {
            if (_counts[i] != 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Counts <paramref name="times"/> references to every cluster that [offset, offset+size) touches.
    /// Returns the offsets of clusters whose count would overflow the refcount width (those are not raised).
    /// </summary>
    public void Add(ulong offset, ulong size, uint times, Action<ulong> overflow, Action tooManyPastEnd)
    {
        if (size == 0 || times == 0)
        {
            return;
        }

        ulong last = offset + size - 1;
        if (last < offset)
        {
            last = ulong.MaxValue;
        }

        long first = (long)(offset >> ClusterBits);
        long end = (long)(last >> ClusterBits);
        for (long k = first; k <= end && k >= 0; k++)
        {
            if (k < _counts.LongLength)
            {
                if (_counts[k] + (ulong)times > _max)
                {
                    overflow((ulong)k << ClusterBits);
                    continue;
                }

                _counts[k] += times;
            }
            else
            {
                uint current = _pastEnd.GetValueOrDefault(k);
                if (current == 0 && _pastEnd.Count >= MaxPastEndClusters)
                {
                    tooManyPastEnd();
                    return;
                }

                if (current + (ulong)times > _max)
                {
                    overflow((ulong)k << ClusterBits);
                    continue;
                }

                _pastEnd[k] = current + times;
            }
        }
    }

    /// <summary>Removes one reference per cluster (used to forget the old refcount structures before a rebuild).</summary>
    public void Remove(ulong offset, ulong size)
    {
        if (size == 0)
        {
            return;
        }

        long first = (long)(offset >> ClusterBits);
        long end = (long)((offset + size - 1) >> ClusterBits);
        for (long k = first; k <= end && k < _counts.LongLength; k++)
        {
            if (_counts[k] > 0)
            {
                _counts[k]--;
            }
        }
    }
}
