using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Refcounts;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Check;

/// <summary>
/// The refcounts as stored: the refcount table and its blocks, read straight from the host file (no engine cache).
/// Changes stay in memory until <see cref="WriteDirtyBlocks"/>; a bounded number of blocks is kept.
/// </summary>
internal sealed class OnDiskRefcounts
{
    private const int MaxCachedBlocks = 4096;

    private readonly IHostFile _file;
    private readonly int _clusterBits;
    private readonly int _order;
    private readonly int _blockBits;
    private readonly Dictionary<long, byte[]> _blocks = [];
    private readonly HashSet<long> _dirty = [];

    public OnDiskRefcounts(IHostFile file, Qcow2Header header)
    {
        _file = file;
        _clusterBits = header.ClusterBits;
        _order = header.RefcountOrder;
        _blockBits = header.ClusterBits + 3 - header.RefcountOrder;
        Table = MetadataReader.ReadRefcountTable(file, header.RefcountTableOffset, header.RefcountTableClusters, header.ClusterBits);
    }

    public ulong[] Table { get; }
    public ulong Max => RefcountEntries.MaxValue(_order);
    public bool HasDirtyBlocks => _dirty.Count > 0;

    /// <summary>The stored refcount of a cluster: 0 when no block covers it.</summary>
    /// <exception cref="Qcow2Exception">The covering block's offset is unusable.</exception>
    public ulong Get(long cluster)
    {
        var block = Block(cluster, out int index);
        return block is null ? 0 : RefcountEntries.Get(block, _order, index);
    }

    /// <summary>Changes a stored refcount in memory; false when no block covers the cluster.</summary>
    public bool Set(long cluster, ulong value)
    {
        var block = Block(cluster, out int index);
        if (block is null)
        {
            return false;
        }

        RefcountEntries.Set(block, _order, index, Math.Min(value, Max));
        _dirty.Add(cluster >> _blockBits);
        return true;
    }

    /// <summary>Writes every changed block back in place (the caller flushes).</summary>
    public void WriteDirtyBlocks()
    {
        foreach (long blockIndex in _dirty)
        {
            _file.WriteAt((long)new RefcountTableEntry(Table[blockIndex]).BlockOffset, _blocks[blockIndex]);
        }

        _dirty.Clear();
    }

    private byte[]? Block(long cluster, out int index)
    {
        long blockIndex = cluster >> _blockBits;
        index = (int)(cluster & ((1L << _blockBits) - 1));
        if (blockIndex >= Table.LongLength)
        {
            return null;
        }

        var entry = new RefcountTableEntry(Table[blockIndex]);
        ulong offset = entry.BlockOffset;
        if (!entry.HasBlock)
        {
            return null;
        }

        if (!entry.IsAligned(_clusterBits) || entry.HasReservedBits)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"refcount block {blockIndex} has an unusable offset 0x{entry.Value:x}");
        }

        if (_blocks.TryGetValue(blockIndex, out var cached))
        {
            return cached;
        }

        if (_blocks.Count >= MaxCachedBlocks)
        {
            // Changed blocks must reach the file before they leave memory.
            WriteDirtyBlocks();
            _blocks.Clear();
        }

        var block = new byte[1 << _clusterBits];
        if (offset < (ulong)_file.Length)
        {
            _file.ReadAt((long)offset, block); // a block cut short by EOF reads as zeros, as QEMU reads it
        }

        _blocks[blockIndex] = block;
        return block;
    }
}
