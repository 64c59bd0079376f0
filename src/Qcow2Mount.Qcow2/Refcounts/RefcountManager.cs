using Qcow2Mount.Qcow2.Caching;
using Qcow2Mount.Qcow2.Format;
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

    /// <summary>Runs found free but not counted yet (innermost last): new refcount blocks must stay out of them.</summary>
    private readonly List<(long Start, long End)> _reserved = [];

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
    public IEnumerable<long> BlockOffsets =>
        Table.Select(e => new RefcountTableEntry(e)).Where(e => e.HasBlock).Select(e => (long)e.BlockOffset);

    public static RefcountManager Load(IHostFile file, int clusterBits, int order, long tableOffset, int tableClusters, int capacityBlocks)
    {
        var table = MetadataReader.ReadRefcountTable(file, (ulong)tableOffset, (uint)tableClusters, clusterBits);
        return new RefcountManager(file, clusterBits, order, table, tableOffset, capacityBlocks);
    }

    public ulong Get(long cluster)
    {
        long index = cluster >> _perBlockBits;
        if (index >= Table.Length || BlockOffset(index) is not (> 0 and var offset))
        {
            return 0;
        }

        var block = LoadBlock(offset);
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

    /// <summary>
    /// True when the image should flush now to keep memory bounded: dirty blocks (which cannot be evicted until
    /// written, and with lazy refcounts are otherwise written only at close) hold the cache above its size, or
    /// decrements waiting for a flush pile up (discard-and-rewrite without fsync would grow them without end).
    /// </summary>
    public bool NeedsFlush => BlocksOverCapacity || _deferred.Count > MaxDeferred;

    /// <summary>True while dirty blocks hold the cache above its size.</summary>
    public bool BlocksOverCapacity => _blocks.IsOverCapacity;

    /// <summary>Decrements kept waiting at most (16 bytes each) before the image flushes to apply them.</summary>
    internal const int MaxDeferred = 1 << 16;

    /// <summary>Blocks cached now, and the cache's size in blocks (for tests of the bound).</summary>
    internal (int Count, int Capacity) CacheUsage => (_blocks.Count, _blocks.Capacity);

    /// <summary>Evicts written blocks down to the cache's size (after <see cref="WriteBack"/>).</summary>
    public void TrimCache() => _blocks.Trim();

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
        Claim(start, count);

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
        // A range without a block gets it at its first cluster before the run starts, so the run stays contiguous.
        BlockFor(start);
        if (Get(start) != 0)
        {
            start = FindFree(1, out _);
        }

        Claim(start, 1);
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

    /// <summary>
    /// Gives a free run refcount 1. The blocks counting it are created first, while the run is reserved, so that
    /// none of them is placed inside it.
    /// </summary>
    private void Claim(long start, int count)
    {
        _reserved.Add((start, start + count));
        try
        {
            for (long range = start >> _perBlockBits; range <= (start + count - 1) >> _perBlockBits; range++)
            {
                BlockFor(range << _perBlockBits);
            }
        }
        finally
        {
            _reserved.RemoveAt(_reserved.Count - 1);
        }

        for (int i = 0; i < count; i++)
        {
            Update(start + i, 1);
        }
    }

    /// <summary>The end of the reservation holding <paramref name="cluster"/>, or -1 when it is not reserved.</summary>
    private long ReservedUntil(long cluster)
    {
        foreach (var (start, end) in _reserved)
        {
            if (cluster >= start && cluster < end)
            {
                return end;
            }
        }

        return -1;
    }

    /// <summary>
    /// First fit from the hint; <paramref name="firstFree"/> is the first free cluster the scan met. A range
    /// without a refcount block is all free, and runs may cross ranges: <see cref="Claim"/> then places the
    /// missing blocks outside the run. Clusters reserved by an allocation in progress are not free.
    /// </summary>
    private long FindFree(int count, out long firstFree)
    {
        long cluster = _freeHint;
        int run = 0;
        firstFree = -1;
        while (true)
        {
            if (ReservedUntil(cluster) is var end and >= 0)
            {
                run = 0;
                cluster = end;
                continue;
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

        if (BlockOffset(index) == 0)
        {
            CreateBlock(index);
        }

        return LoadBlock(BlockOffset(index));
    }

    /// <summary>
    /// Where the block of table entry <paramref name="index"/> lies, 0 when there is none (whatever the reserved
    /// bits hold: the offset decides, as in QEMU); a block off a cluster boundary is corruption.
    /// </summary>
    private long BlockOffset(long index)
    {
        var entry = new RefcountTableEntry(Table[index]);
        if (!entry.IsAligned(_clusterBits))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"refcount block {index} at 0x{entry.BlockOffset:x} is not cluster aligned");
        }

        return (long)entry.BlockOffset;
    }

    /// <summary>
    /// Creates the block for a range nothing in which is allocated yet. It goes to the range's first cluster that
    /// no allocation in progress has reserved, describing itself there (QEMU places new blocks the same way); only
    /// when a reserved run covers the whole range does it go to a free cluster elsewhere, counted by that
    /// cluster's own block.
    /// </summary>
    private void CreateBlock(long index)
    {
        long rangeStart = index << _perBlockBits;
        long rangeEnd = rangeStart + (1L << _perBlockBits);
        long home = rangeStart;
        while (home < rangeEnd && ReservedUntil(home) is var end and >= 0)
        {
            home = end;
        }

        bool inOwnRange = home < rangeEnd;
        if (!inOwnRange)
        {
            home = FreeClusterOutside(index);
        }

        var fresh = new RefcountBlock(home << _clusterBits, new byte[ClusterSize]) { Dirty = true };
        _blocks.Add(fresh.Offset, fresh);
        Placed?.Invoke(fresh.Offset, ClusterSize, MetadataKind.RefcountBlock);
        Table[index] = (ulong)fresh.Offset;
        TableDirty = true;
        if (inOwnRange)
        {
            RefcountEntries.Set(fresh.Data, _order, (int)(home - rangeStart), 1);
        }
        else
        {
            Update(home, 1);
        }

        if (home == _freeHint)
        {
            _freeHint++;
        }
    }

    /// <summary>
    /// A free, unreserved cluster outside range <paramref name="index"/> whose own block exists (created here when
    /// its range has none; such a block always finds room in its own range, so this never recurses further).
    /// </summary>
    private long FreeClusterOutside(long index)
    {
        long cluster = _freeHint;
        while (true)
        {
            if (ReservedUntil(cluster) is var end and >= 0)
            {
                cluster = end;
                continue;
            }

            long range = cluster >> _perBlockBits;
            if (range != index)
            {
                BlockFor(cluster);
                if (Get(cluster) == 0 && ReservedUntil(cluster) < 0)
                {
                    return cluster;
                }
            }

            cluster++;
        }
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
        Placed?.Invoke(TableOffset, (long)clusters << _clusterBits, MetadataKind.RefcountTable);
        if (_oldTable is null)
        {
            // The table the header points at stays until the header points at the new one.
            _oldTable = (oldOffset, oldClusters);
        }
        else
        {
            // An intermediate table that never reached the header: nothing on disk points at it, and once the
            // decrements apply its clusters may take anything.
            Dropped?.Invoke(oldOffset, (long)oldClusters << _clusterBits, MetadataKind.RefcountTable);
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
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"refcount block at 0x{offset:x} is truncated");
        }

        return new RefcountBlock(offset, data);
    }

    /// <summary>
    /// Writes dirty blocks, then (if it changed) the table; returns true if the header must point at a new table.
    /// The caller fsyncs before anything that depends on these refcounts is written.
    /// </summary>
    /// <summary>Called before each refcount block or table write (offset, length, kind): the image's overlap check.</summary>
    public Action<long, long, MetadataKind>? BeforeWrite { get; set; }

    /// <summary>Called when a new refcount block or table takes clusters (offset, length, kind): the image's overlap guard.</summary>
    public Action<long, long, MetadataKind>? Placed { get; set; }

    /// <summary>Called when a refcount table that never reached disk is given up (offset, length, kind): the guard forgets it.</summary>
    public Action<long, long, MetadataKind>? Dropped { get; set; }

    public bool WriteBack()
    {
        foreach (var (_, block) in _blocks.Snapshot())
        {
            if (block.Dirty)
            {
                BeforeWrite?.Invoke(block.Offset, ClusterSize, MetadataKind.RefcountBlock);
                _file.WriteAt(block.Offset, block.Data);
                block.Dirty = false;
            }
        }

        if (!TableDirty)
        {
            return false;
        }

        var bytes = PointerTable.Encode(Table);

        BeforeWrite?.Invoke(TableOffset, bytes.Length, MetadataKind.RefcountTable);
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
