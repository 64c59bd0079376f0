using System.Buffers.Binary;
using Qcow2Mount.Qcow2.Caching;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Refcounts;

/// <summary>
/// The refcount table, its blocks (cached, write-back) and the cluster allocator. Not thread-safe: the image
/// calls it under its metadata lock.
/// <para>
/// Increments apply at once and must reach disk before the L2 entries that use them; decrements are deferred
/// until the L2 entries that stopped pointing at the clusters are durable (<see cref="ApplyDeferred"/>), so a
/// crash leaves at most leaks, and a freed cluster is never reused while a table on disk still points at it.
/// </para>
/// </summary>
internal sealed class RefcountManager
{
    private readonly IHostFile _file;
    private readonly int _clusterBits;
    private readonly int _order;
    private readonly int _perBlockBits;
    private readonly BoundedCache<RefcountBlock> _blocks;
    private readonly List<(long Cluster, long Delta)> _deferred = [];
    private long _freeHint;

    /// <summary>Where the next compressed cluster may start inside the last host cluster used for them; 0: none.</summary>
    private long _freeByteOffset;

    public RefcountManager(IHostFile file, int clusterBits, int order, ulong[] table, long tableOffset, int capacityBlocks)
    {
        _file = file;
        _clusterBits = clusterBits;
        _order = order;
        _perBlockBits = clusterBits + 3 - order;
        Table = table;
        TableOffset = tableOffset;
        _blocks = new BoundedCache<RefcountBlock>(capacityBlocks, b => !b.Dirty);
    }

    /// <summary>Refcount table entries (host offsets of blocks), host-endian.</summary>
    public ulong[] Table { get; private set; }

    public long TableOffset { get; private set; }

    /// <summary>Set when the table moved or gained entries; the header must then be rewritten after it.</summary>
    public bool TableDirty { get; private set; }

    /// <summary>Clusters of an old refcount table to free once the new one is on disk.</summary>
    private (long Offset, int Clusters)? _oldTable;

    public bool HasDirtyBlocks => _blocks.Snapshot().Any(kv => kv.Value.Dirty);

    public int ClusterSize => 1 << _clusterBits;

    /// <summary>Host offsets of every refcount block (for the overlap guard).</summary>
    public IEnumerable<long> BlockOffsets => Table.Where(e => e != 0).Select(e => (long)(e & ~511UL));

    public static RefcountManager Load(IHostFile file, int clusterBits, int order, long tableOffset, int tableClusters, int capacityBlocks)
    {
        var bytes = new byte[(long)tableClusters << clusterBits];
        if (file.ReadAt(tableOffset, bytes) != bytes.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, "refcount table is truncated");
        }

        var table = new ulong[bytes.Length / 8];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * 8));
        }

        return new RefcountManager(file, clusterBits, order, table, tableOffset, capacityBlocks);
    }

    public ulong Get(long cluster)
    {
        long index = cluster >> _perBlockBits;
        if (index >= Table.Length || Table[index] == 0)
        {
            return 0;
        }

        var block = LoadBlock((long)(Table[index] & ~511UL));
        return RefcountEntries.Get(block.Data, _order, (int)(cluster & ((1L << _perBlockBits) - 1)));
    }

    /// <summary>Adds <paramref name="delta"/> to a cluster's refcount; decrements wait for <see cref="ApplyDeferred"/>.</summary>
    public void Update(long cluster, long delta)
    {
        if (delta < 0)
        {
            if (_freeByteOffset != 0 && cluster == _freeByteOffset >> _clusterBits)
            {
                // A cluster losing references may soon be free and reused for anything: stop packing into it.
                _freeByteOffset = 0;
            }

            _deferred.Add((cluster, delta));
            return;
        }

        Apply(cluster, delta);
    }

    /// <summary>True when decrements wait for the next flush.</summary>
    public bool HasDeferred => _deferred.Count > 0;

    /// <summary>Applies deferred decrements; call once the metadata that dropped the references is durable.</summary>
    public void ApplyDeferred()
    {
        foreach (var (cluster, delta) in _deferred)
        {
            Apply(cluster, delta);
            if (cluster < _freeHint && Get(cluster) == 0)
            {
                _freeHint = cluster;
            }
        }

        _deferred.Clear();
    }

    private void Apply(long cluster, long delta)
    {
        var block = BlockFor(cluster);
        int slot = (int)(cluster & ((1L << _perBlockBits) - 1));
        ulong current = RefcountEntries.Get(block.Data, _order, slot);
        long next = (long)current + delta;
        if (next < 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"refcount of cluster {cluster} would drop below zero");
        }

        RefcountEntries.Set(block.Data, _order, slot, (ulong)next);
        block.Dirty = true;
    }

    /// <summary>Allocates <paramref name="count"/> contiguous free clusters with refcount 1; returns the host offset.</summary>
    public long Allocate(int count)
    {
        long start = FindFree(count, out long firstFree);
        for (int i = 0; i < count; i++)
        {
            Update(start + i, 1);
        }

        // Keep "every cluster below the hint is in use" true and the hint as high as that allows: otherwise each
        // allocation rescans every cluster from the last freed one (or from 0 on a fresh image), O(n^2) in total.
        if (start == firstFree)
        {
            _freeHint = Math.Max(_freeHint, start + count);
        }
        else
        {
            _freeHint = Math.Max(_freeHint, firstFree);
        }

        return start << _clusterBits;
    }

    /// <summary>
    /// Allocates the first free cluster and as many of the clusters after it as are free, up to
    /// <paramref name="maxCount"/>, each with refcount 1; returns the host offset and the run's length in
    /// <paramref name="count"/>. Unlike <see cref="Allocate"/> it never skips free space to find a longer run, so it
    /// works for any length (a run stops at the refcount block heading the next block's range) and leaves no gaps.
    /// </summary>
    public long AllocateRun(int maxCount, out int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxCount);
        long start = FindFree(1, out _);
        Update(start, 1);
        count = 1;
        while (count < maxCount)
        {
            long next = start + count;
            // A new block for the next range takes that range's first cluster: create it before asking.
            BlockFor(next);
            if (Get(next) != 0)
            {
                break;
            }

            Update(next, 1);
            count++;
        }

        // Everything below the first free cluster was in use, and the run is now.
        _freeHint = Math.Max(_freeHint, start + count);
        return start << _clusterBits;
    }

    /// <summary>
    /// Allocates <paramref name="size"/> bytes (at most one cluster) for a compressed cluster, packed after the
    /// previous one like QEMU: every host cluster the range touches gains one reference, so a host cluster's
    /// refcount is the number of compressed clusters stored (partly) in it. Returns the host byte offset.
    /// </summary>
    public long AllocateBytes(int size)
    {
        if (size <= 0 || size > ClusterSize)
        {
            throw new ArgumentOutOfRangeException(nameof(size));
        }

        long offset = _freeByteOffset;
        ulong max = _order == 6 ? ulong.MaxValue : (1UL << (1 << _order)) - 1;
        if (offset != 0 && Get(offset >> _clusterBits) >= max)
        {
            offset = 0;
        }

        if (offset != 0)
        {
            long cluster = offset >> _clusterBits;
            int freeInCluster = ClusterSize - (int)(offset & (ClusterSize - 1));
            if (size <= freeInCluster)
            {
                Update(cluster, 1);
            }
            else
            {
                // The range runs into the next cluster: usable only when that one is free (its block must exist
                // first, since a new block may take exactly that cluster).
                BlockFor(cluster + 1);
                if (Get(cluster + 1) == 0)
                {
                    Update(cluster, 1);
                    Update(cluster + 1, 1);
                    if (cluster + 1 == _freeHint)
                    {
                        _freeHint++;
                    }
                }
                else
                {
                    offset = 0;
                }
            }
        }

        if (offset == 0)
        {
            offset = Allocate(1);
        }

        long end = offset + size;
        _freeByteOffset = (end & (ClusterSize - 1)) == 0 ? 0 : end;
        return offset;
    }

    /// <summary>First fit from the hint; <paramref name="firstFree"/> is the first free cluster the scan met.</summary>
    private long FindFree(int count, out long firstFree)
    {
        // A new refcount block takes the first cluster of the range it counts, so no free run is ever longer than
        // one block's range: refuse clearly rather than scan forever (tables this large need bigger clusters).
        if (count >= 1L << _perBlockBits)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported,
                $"{_file.Path}: cannot allocate {count} contiguous clusters with {ClusterSize}-byte clusters and {1 << _order}-bit refcounts; " +
                "an image this large needs larger clusters");
        }

        long cluster = _freeHint;
        int run = 0;
        firstFree = -1;
        while (true)
        {
            long index = cluster >> _perBlockBits;
            if (index >= Table.Length || Table[index] == 0)
            {
                // Create the block that will count this cluster first: it takes the first cluster of its range.
                BlockFor(cluster);
            }

            if (Get(cluster) == 0)
            {
                if (firstFree < 0)
                {
                    firstFree = cluster;
                }

                run++;
                if (run == count)
                {
                    return cluster - count + 1;
                }
            }
            else
            {
                run = 0;
            }

            cluster++;
        }
    }

    private RefcountBlock BlockFor(long cluster)
    {
        long index = cluster >> _perBlockBits;
        if (index >= Table.Length)
        {
            GrowTable(index);
        }

        if (Table[index] == 0)
        {
            // No block yet: nothing in its range is allocated, so the block can describe itself from its first
            // cluster (QEMU places new blocks the same way when the range is empty).
            long blockCluster = index << _perBlockBits;
            var fresh = new RefcountBlock(blockCluster << _clusterBits, new byte[ClusterSize]) { Dirty = true };
            _blocks.Add(fresh.Offset, fresh);
            Table[index] = (ulong)fresh.Offset;
            TableDirty = true;
            RefcountEntries.Set(fresh.Data, _order, 0, 1);
            if (blockCluster == _freeHint)
            {
                _freeHint++;
            }
        }

        return LoadBlock((long)(Table[index] & ~511UL));
    }

    /// <summary>
    /// Moves the table to new clusters large enough for <paramref name="index"/>. The in-memory table grows first,
    /// so allocating the new table's own clusters can create the blocks it needs.
    /// </summary>
    private void GrowTable(long index)
    {
        long entriesPerCluster = ClusterSize / 8;
        long neededEntries = Math.Max(index + 1, Table.Length * 2L);
        int clusters = (int)((neededEntries + entriesPerCluster - 1) / entriesPerCluster);
        if ((long)clusters << _clusterBits > 8L << 20)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Io, "image is too large: the refcount table would exceed 8 MiB");
        }

        int oldClusters = (int)(Table.Length * 8L >> _clusterBits);
        var grown = new ulong[(long)clusters * entriesPerCluster];
        Table.CopyTo(grown, 0);
        Table = grown;
        long oldOffset = TableOffset;
        TableOffset = Allocate(clusters);
        if (_oldTable is null)
        {
            // The table the header points at stays until the header points at the new one.
            _oldTable = (oldOffset, oldClusters);
        }
        else
        {
            // An intermediate table that never reached the header: nothing on disk points at it.
            for (int i = 0; i < oldClusters; i++)
            {
                Update((oldOffset >> _clusterBits) + i, -1);
            }
        }

        TableDirty = true;
    }

    private RefcountBlock LoadBlock(long offset) =>
        _blocks.GetOrLoad(offset, this, static (o, self) => self.ReadBlock(o));

    private RefcountBlock ReadBlock(long offset)
    {
        var data = new byte[ClusterSize];
        if (offset + ClusterSize > _file.Length)
        {
            // A block allocated past the end of the file is all zeros until written.
            int n = _file.ReadAt(offset, data);
            data.AsSpan(n).Clear();
        }
        else if (_file.ReadAt(offset, data) != data.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"refcount block at {offset:#x} is truncated");
        }

        return new RefcountBlock(offset, data);
    }

    /// <summary>
    /// Writes dirty blocks, then (if it changed) the table; returns true if the header must point at a new table.
    /// The caller fsyncs before anything that depends on these refcounts is written.
    /// </summary>
    public bool WriteBack()
    {
        foreach (var (_, block) in _blocks.Snapshot())
        {
            if (block.Dirty)
            {
                _file.WriteAt(block.Offset, block.Data);
                block.Dirty = false;
            }
        }

        if (!TableDirty)
        {
            return false;
        }

        var bytes = new byte[Table.Length * 8];
        for (int i = 0; i < Table.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(i * 8), Table[i]);
        }

        _file.WriteAt(TableOffset, bytes);
        TableDirty = false;
        return true;
    }

    /// <summary>After the header points at a moved table: free the old table's clusters.</summary>
    public void FreeOldTable()
    {
        if (_oldTable is { } old)
        {
            _oldTable = null;
            for (int i = 0; i < old.Clusters; i++)
            {
                Update((old.Offset >> _clusterBits) + i, -1);
            }
        }
    }

    public int TableClusters => (int)(Table.Length * 8L >> _clusterBits);
}

internal sealed class RefcountBlock(long offset, byte[] data)
{
    public long Offset { get; } = offset;
    public byte[] Data { get; } = data;
    public bool Dirty { get; set; }
}
