using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Refcounts;
using Qcow2Mount.Qcow2.Snapshots;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Check;

/// <summary>
/// One pass of check (and repair), in qemu-img's order: count references from the header, the active L1/L2 tables,
/// every snapshot's tables, the snapshot table, the refcount structures, the LUKS header and the bitmaps; compare
/// with the stored refcounts (fixing what the mode allows, or rebuilding the refcount structures); then check the
/// COPIED flags of the active layer against the stored refcounts.
/// </summary>
internal sealed class CheckRun
{
    private readonly IHostFile _file;
    private readonly CheckOptions _options;
    private readonly RepairMode _mode;
    private readonly CheckResult _result;
    private Qcow2Header _header = null!;
    private HeaderExtensions _extensions = null!;
    private ReferenceCounts _counts = null!;
    private OnDiskRefcounts _disk = null!;
    private bool _hasDataFile;
    private bool _rebuild;
    private bool _wrote;
    private ulong _nextContiguous;
    private readonly List<(ulong Offset, ulong Size)> _refcountStructures = [];

    public CheckRun(IHostFile file, CheckOptions options, RepairMode mode, CheckResult result)
    {
        _file = file;
        _options = options;
        _mode = mode;
        _result = result;
    }

    private int ClusterBits => _header.ClusterBits;
    private int ClusterSize => _header.ClusterSize;
    private bool FixLeaks => (_mode & RepairMode.Leaks) != 0;
    private bool FixErrors => (_mode & RepairMode.Errors) != 0;

    /// <summary>
    /// Where a cancel may stop the check: anywhere in a plain check; in a repair only while it is counting and has
    /// written nothing (the walk of the active tables already fixes COPIED flags on compressed clusters).
    /// </summary>
    private void StopIfCancelled(bool counting = false)
    {
        if (_mode == RepairMode.None || (counting && !_wrote))
        {
            _options.CancellationToken.ThrowIfCancellationRequested();
        }
    }

    public void Run()
    {
        try
        {
            if (!Open())
            {
                return;
            }

            CountReferences();
            _options.Progress?.Invoke(0.9);
            CompareRefcounts(out long highest);
            if (_rebuild && FixErrors)
            {
                RebuildRefcountStructure();
                if (_rebuild)
                {
                    return; // refused: nothing else is written on top of refcounts known to be broken
                }

                highest = _counts.HighestReferenced();
            }
            else if (_rebuild && _mode != RepairMode.None)
            {
                CheckError("ERROR need to rebuild refcount structures (use repair mode All)");
                return;
            }

            if (_disk.HasDirtyBlocks)
            {
                // Refcounts reach the disk before anything that relies on them (COPIED flags, the header).
                _disk.WriteDirtyBlocks();
                _file.Flush();
            }

            CheckCopiedFlags();
            _result.ImageEndOffset = (highest + 1) << ClusterBits;
            if (_mode != RepairMode.None && _result.CheckErrors == 0 && _result.Corruptions == 0)
            {
                MarkCleanAndConsistent();
            }
        }
        catch (Qcow2Exception e)
        {
            CheckError($"ERROR {e.Message}");
        }
        catch (IOException e)
        {
            CheckError($"ERROR I/O error during check: {e.Message}");
        }
    }

    // ---- header ---------------------------------------------------------------------------------------------

    private bool Open()
    {
        // A header that cannot be read ends the check with its one error (Run reports it).
        (_header, _extensions, _) = MetadataReader.ReadHeader(_file);
        _hasDataFile = _header.HasExternalDataFile;
        long fileClusters = (_file.Length + ClusterSize - 1) >> ClusterBits;
        if (fileClusters > _options.MaxTrackedClusters)
        {
            CheckError($"ERROR image file has {fileClusters} clusters, more than this check tracks ({_options.MaxTrackedClusters}); " +
                "raise CheckOptions.MaxTrackedClusters");
            return false;
        }

        _counts = new ReferenceCounts(fileClusters, ClusterBits, RefcountEntries.MaxValue(_header.RefcountOrder));
        _disk = new OnDiskRefcounts(_file, _header);
        _result.TotalClusters = (long)((_header.Size + (ulong)ClusterSize - 1) >> ClusterBits);
        return true;
    }

    // ---- counting references --------------------------------------------------------------------------------

    private void CountReferences()
    {
        Add(0, (ulong)ClusterSize); // the header is cluster 0 (backing name and extensions live inside it)

        WalkActiveL1();
        WalkSnapshots();
        Add(_header.RefcountTableOffset, (ulong)_header.RefcountTableClusters << ClusterBits);
        _refcountStructures.Add((_header.RefcountTableOffset, (ulong)_header.RefcountTableClusters << ClusterBits));
        CountLuksHeader();
        CountBitmaps();
        CountRefcountBlocks();
    }

    private void Add(ulong offset, ulong size, uint times = 1)
    {
        // As QEMU: metadata pointing a whole cluster or more past the end of the file (a truncated image) is
        // corrupt and not counted; a last cluster the file ends inside is normal (the file need not be padded).
        var end = (UInt128)offset + size;
        if (size > 0 && end > (ulong)_file.Length && end - (ulong)_file.Length >= (ulong)ClusterSize)
        {
            Corruption($"ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x{offset:x} size 0x{size:x}", times);
            return;
        }

        _counts.Add(offset, size, times,
            overflowAt => Corruption($"ERROR: overflow cluster offset=0x{overflowAt:x}"),
            () => Corruption("ERROR too many references past the end of the image; the rest are not counted"));
    }

    private void WalkActiveL1()
    {
        if (_header.L1Size == 0)
        {
            return;
        }

        Add(_header.L1TableOffset, (ulong)_header.L1Size * 8);
        var l1 = MetadataReader.ReadL1ForCheck(_file, _header.L1TableOffset, _header.L1Size);
        for (int i = 0; i < l1.Length; i++)
        {
            StopIfCancelled(counting: true);
            ulong l2Offset = CheckL1Entry(l1[i], i);
            if (l2Offset != 0)
            {
                WalkL2(l2Offset, active: true, times: 1);
            }

            _options.Progress?.Invoke(0.8 * (i + 1) / l1.Length);
        }
    }

    /// <summary>
    /// Every snapshot L1 and L2 counts once per L1 that references it. Identical tables are read once and counted
    /// with their multiplicity, so hostile images with many snapshots sharing huge tables still check in bounded time.
    /// </summary>
    private void WalkSnapshots()
    {
        if (_header.SnapshotCount == 0)
        {
            return;
        }

        var snapshots = SnapshotTable.Read(_file, _header);
        ulong tableSize = (ulong)snapshots.Sum(s => (long)s.StoredSize);
        var l1Tables = new Dictionary<(ulong Offset, uint Size), uint>();
        foreach (var sn in snapshots)
        {
            if ((sn.L1TableOffset & (ulong)(ClusterSize - 1)) != 0)
            {
                Corruption($"ERROR snapshot {sn.Id} ({sn.Name}) l1_offset=0x{sn.L1TableOffset:x}: L1 table is not cluster aligned; " +
                    "snapshot table entry corrupted");
                continue;
            }

            if (sn.L1Size > L1Entry.MaxTableEntries)
            {
                Corruption($"ERROR snapshot {sn.Id} ({sn.Name}) l1_size=0x{sn.L1Size:x}: L1 table is too large; snapshot table entry corrupted");
                continue;
            }

            if (sn.L1Size > 0)
            {
                var key = (sn.L1TableOffset, sn.L1Size);
                l1Tables[key] = l1Tables.GetValueOrDefault(key) + 1;
            }
        }

        var l2Tables = new Dictionary<ulong, uint>();
        foreach (var ((offset, size), times) in l1Tables)
        {
            Add(offset, (ulong)size * 8, times);
            var l1 = MetadataReader.ReadL1ForCheck(_file, offset, size);
            for (int i = 0; i < l1.Length; i++)
            {
                ulong l2Offset = CheckL1Entry(l1[i], i, times);
                if (l2Offset != 0)
                {
                    l2Tables[l2Offset] = l2Tables.GetValueOrDefault(l2Offset) + times;
                }
            }
        }

        foreach (var (l2Offset, times) in l2Tables)
        {
            StopIfCancelled(counting: true);
            WalkL2(l2Offset, active: false, times);
        }

        Add(_header.SnapshotsOffset, tableSize);
    }

    /// <summary>Counts the L2 table an L1 entry points at; returns its offset, or 0 when there is none to walk.</summary>
    private ulong CheckL1Entry(ulong raw, int index, uint times = 1)
    {
        var entry = new L1Entry(raw);
        if (entry.HasReservedBits)
        {
            Corruption($"ERROR L1 entry {index} has reserved bits set: l1_entry={raw:x}", times);
        }

        ulong l2Offset = entry.L2TableOffset;
        if (l2Offset == 0)
        {
            return 0;
        }

        Add(l2Offset, (ulong)ClusterSize, times);
        if ((l2Offset & (ulong)(ClusterSize - 1)) != 0)
        {
            Corruption($"ERROR l2_offset={l2Offset:x}: Table is not cluster aligned; L1 entry corrupted", times);
            return 0;
        }

        return l2Offset;
    }

    private void WalkL2(ulong l2Offset, bool active, uint times)
    {
        var table = new byte[ClusterSize];
        if (l2Offset < (ulong)_file.Length)
        {
            _file.ReadAt((long)l2Offset, table);
        }

        int entrySize = _header.L2EntrySize;
        bool extended = _header.HasExtendedL2;
        bool dirty = false;
        _nextContiguous = 0; // like qemu-img, fragmentation is counted within one L2 table
        for (int j = 0; j < table.Length / entrySize; j++)
        {
            var slot = table.AsSpan(j * entrySize);
            ulong entry = PointerTable.ReadEntry(slot, 0);
            ulong bitmap = extended ? PointerTable.ReadEntry(slot, 1) : 0;
            if (L2Entry.IsCompressed(entry))
            {
                dirty |= CheckCompressed(slot, entry, bitmap, j, active, times);
                continue;
            }

            if ((entry & L2Entry.ReservedMask) != 0)
            {
                Corruption($"ERROR L2 entry has reserved bits set: l2_offset=0x{l2Offset:x} index={j} l2_entry={entry:x}", times);
            }

            if (!extended && L2Entry.IsZero(entry) && _header.Version < 3)
            {
                Corruption($"ERROR zero flag set in a version 2 image: l2_offset=0x{l2Offset:x} index={j} l2_entry={entry:x}", times);
            }

            bool hasCluster = L2Entry.HasHostCluster(entry, _hasDataFile);
            if (extended)
            {
                uint allocated = (uint)bitmap, zero = (uint)(bitmap >> 32);
                if ((allocated & zero) != 0)
                {
                    Corruption($"ERROR offset={L2Entry.HostOffset(entry):x}: subclusters both allocated and zero; L2 bitmap corrupted " +
                        $"(l2_entry={entry:x} bitmap={bitmap:x})", times);
                }
                else if (!hasCluster && allocated != 0)
                {
                    Corruption($"ERROR unallocated cluster has non-zero subcluster allocation map (l2_offset=0x{l2Offset:x} index={j} " +
                        $"bitmap={bitmap:x})", times);
                }
            }

            if (!hasCluster)
            {
                continue;
            }

            ulong offset = L2Entry.HostOffset(entry);
            if (active)
            {
                _result.AllocatedClusters++;
                if (_nextContiguous != 0 && offset != _nextContiguous)
                {
                    _result.FragmentedClusters++;
                }

                _nextContiguous = offset + (ulong)ClusterSize;
            }

            if ((offset & (ulong)(ClusterSize - 1)) != 0)
            {
                Corruption($"ERROR offset={offset:x}: Cluster is not properly aligned; L2 entry corrupted.", times);
                continue;
            }

            if (!_hasDataFile)
            {
                Add(offset, (ulong)ClusterSize, times);
            }
        }

        if (dirty)
        {
            _wrote = true;
            _file.WriteAt((long)l2Offset, table);
        }
    }

    /// <summary>Counts every host cluster a compressed cluster's bytes touch. True when the entry was repaired.</summary>
    private bool CheckCompressed(Span<byte> slot, ulong entry, ulong bitmap, int index, bool active, uint times)
    {
        bool repaired = false;
        if (L2Entry.IsCopied(entry))
        {
            if (active && FixErrors)
            {
                Message($"Repairing: coffset={entry & ~L2Entry.Copied:x}: copied flag must never be set for compressed clusters");
                PointerTable.WriteEntry(slot, 0, entry & ~L2Entry.Copied);
                _result.CorruptionsFixed++;
                repaired = true;
            }
            else
            {
                Corruption($"ERROR: coffset={entry & ~L2Entry.Copied:x}: copied flag must never be set for compressed clusters", times);
            }
        }

        if (_hasDataFile)
        {
            Corruption($"ERROR compressed cluster {index} with data file, entry=0x{entry:x}", times);
            return repaired;
        }

        if (bitmap != 0)
        {
            Corruption($"ERROR compressed cluster {index} with non-zero subcluster allocation bitmap, entry=0x{entry:x}", times);
        }

        if (active)
        {
            _result.AllocatedClusters++;
            _result.CompressedClusters++;
            _result.FragmentedClusters++; // compressed clusters are fragmented by definition
        }

        var descriptor = CompressedDescriptor.Decode(entry & ~L2Entry.Copied, ClusterBits);
        Add((ulong)descriptor.HostOffset, (ulong)descriptor.Size, times);
        return repaired;
    }

    private void CountLuksHeader()
    {
        if (_header.CryptMethod != CryptMethod.Luks)
        {
            return;
        }

        if (_extensions.LuksHeaderLocation is var (offset, length))
        {
            Add((ulong)offset, (ulong)length);
        }
    }

    /// <summary>
    /// Bitmaps count only while the autoclear bit says the extension is current (QEMU ignores a stale one, whose
    /// clusters then show as leaks): the directory, each bitmap table, and each data cluster of a table.
    /// </summary>
    private void CountBitmaps()
    {
        if ((_header.AutoclearFeatures & AutoclearFeatures.Bitmaps) == 0)
        {
            return;
        }

        if (_extensions.Bitmaps is not { } bitmaps)
        {
            return;
        }

        if (bitmaps.Validate(ClusterSize, _file.Length) is { } problem)
        {
            Corruption($"ERROR {problem}");
            return;
        }

        Add(bitmaps.DirectoryOffset, bitmaps.DirectorySize);
        var directory = new byte[bitmaps.DirectorySize];
        _file.ReadAt((long)bitmaps.DirectoryOffset, directory);
        int pos = 0;
        for (uint i = 0; i < bitmaps.Count; i++)
        {
            BitmapDirectoryEntry bitmap;
            try
            {
                bitmap = BitmapDirectoryEntry.Parse(directory.AsSpan(pos), out int consumed);
                pos += consumed;
            }
            catch (Qcow2Exception e)
            {
                Corruption($"ERROR {e.Message}");
                return;
            }

            if (bitmap.Validate(ClusterSize, _file.Length) is { } tableProblem)
            {
                Corruption($"ERROR bitmap {i}: {tableProblem}");
                continue;
            }

            Add(bitmap.TableOffset, bitmap.TableBytes);
            var table = new byte[bitmap.TableBytes];
            _file.ReadAt((long)bitmap.TableOffset, table);
            foreach (ulong raw in PointerTable.Decode(table))
            {
                ulong dataOffset = new BitmapTableEntry(raw).DataOffset;
                if (dataOffset != 0)
                {
                    Add(dataOffset, (ulong)ClusterSize);
                }
            }
        }
    }

    private void CountRefcountBlocks()
    {
        var table = _disk.Table;
        long fileClusters = _counts.FileClusters;
        for (long i = 0; i < table.LongLength; i++)
        {
            StopIfCancelled(counting: true);
            var entry = new RefcountTableEntry(table[i]);
            ulong offset = entry.BlockOffset;
            if (entry.HasReservedBits)
            {
                Corruption($"ERROR refcount table entry {i} has reserved bits set");
                _rebuild = true;
                continue;
            }

            if (!entry.IsAligned(ClusterBits))
            {
                Corruption($"ERROR refcount block {i} is not cluster aligned; refcount table entry corrupted");
                _rebuild = true;
                continue;
            }

            if (offset == 0)
            {
                continue;
            }

            if ((offset >> ClusterBits) >= (ulong)fileClusters)
            {
                Corruption($"ERROR refcount block {i} is outside image");
                _rebuild = true;
                continue;
            }

            Add(offset, (ulong)ClusterSize);
            _refcountStructures.Add((offset, (ulong)ClusterSize));
            uint count = _counts[(long)(offset >> ClusterBits)];
            if (count != 1)
            {
                Corruption($"ERROR refcount block {i} refcount={count}");
                _rebuild = true;
            }
        }
    }

    // ---- comparing and repairing refcounts ------------------------------------------------------------------

    private void CompareRefcounts(out long highest)
    {
        highest = -1;
        foreach (long cluster in ClustersToCompare())
        {
            if ((cluster & 0xFFFF) == 0)
            {
                StopIfCancelled();
            }

            ulong stored;
            try
            {
                stored = _disk.Get(cluster);
            }
            catch (Qcow2Exception e)
            {
                CheckError($"Can't get refcount for cluster {cluster}: {e.Message}");
                continue;
            }

            ulong computed = _counts[cluster];
            if (stored > 0 || computed > 0)
            {
                highest = cluster;
            }

            if (stored == computed)
            {
                continue;
            }

            bool fixing = false;
            if (stored == 0)
            {
                _rebuild = true; // no block to raise the count in, or the cluster is treated as free: rebuild
            }
            else if (stored > computed && FixLeaks || stored < computed && FixErrors)
            {
                fixing = true;
            }

            string verb = fixing ? "Repairing" : stored < computed ? "ERROR" : "Leaked";
            Message($"{verb} cluster {cluster} refcount={stored} reference={computed}");
            if (fixing && _disk.Set(cluster, computed))
            {
                if (stored > computed)
                {
                    _result.LeaksFixed++;
                }
                else
                {
                    _result.CorruptionsFixed++;
                }

                continue;
            }

            if (stored < computed)
            {
                _result.Corruptions++;
            }
            else
            {
                _result.Leaks++;
            }
        }
    }

    private IEnumerable<long> ClustersToCompare()
    {
        for (long i = 0; i < _counts.FileClusters; i++)
        {
            yield return i;
        }

        foreach (long pastEnd in _counts.PastEndClusters)
        {
            yield return pastEnd;
        }
    }

    /// <summary>
    /// Writes a new refcount table and blocks after everything in use, counting exactly the references found,
    /// then points the header at them. The old structures are simply no longer referenced (refcount 0).
    /// Order: blocks and table, flush; header, flush.
    /// </summary>
    private void RebuildRefcountStructure()
    {
        Message("Rebuilding refcount structure");
        foreach (var (offset, size) in _refcountStructures)
        {
            _counts.Remove(offset, size);
        }

        long highest = _counts.HighestReferenced();
        if (highest >= _counts.FileClusters)
        {
            // The data is not there; covering far-away offsets could also write gigabytes of refcount blocks.
            CheckError($"ERROR cannot rebuild the refcount structure: cluster {highest} is referenced past the end of the image");
            return;
        }

        int order = _header.RefcountOrder;
        long perBlock = RefcountEntries.PerBlock(ClusterBits, order);
        long start = _counts.FileClusters;
        long blocks = 1, tableClusters = 1;
        while (true)
        {
            long end = start + blocks + tableClusters;
            long neededBlocks = (end + perBlock - 1) / perBlock;
            long neededTable = (neededBlocks * 8 + ClusterSize - 1) >> ClusterBits;
            if (neededBlocks <= blocks && neededTable <= tableClusters)
            {
                break;
            }

            blocks = Math.Max(blocks, neededBlocks);
            tableClusters = Math.Max(tableClusters, neededTable);
        }

        if (tableClusters << ClusterBits > 8L << 20)
        {
            CheckError("ERROR the rebuilt refcount table would exceed 8 MiB");
            return;
        }

        long blocksStart = start, tableStart = start + blocks, newEnd = tableStart + tableClusters;
        ulong max = RefcountEntries.MaxValue(order);
        var block = new byte[ClusterSize];
        var table = new ulong[blocks];
        for (long b = 0; b < blocks; b++)
        {
            Array.Clear(block);
            for (long k = 0; k < perBlock; k++)
            {
                long cluster = b * perBlock + k;
                ulong value = cluster >= blocksStart && cluster < newEnd ? 1 : _counts[cluster];
                if (value != 0)
                {
                    RefcountEntries.Set(block, order, (int)k, Math.Min(value, max));
                }
            }

            long blockOffset = (blocksStart + b) << ClusterBits;
            _file.WriteAt(blockOffset, block);
            table[b] = new RefcountTableEntry((ulong)blockOffset).Value;
        }

        _file.WriteAt(tableStart << ClusterBits, PointerTable.Encode(table, tableClusters << ClusterBits));
        _file.Flush();

        _header = _header with { RefcountTableOffset = (ulong)(tableStart << ClusterBits), RefcountTableClusters = (uint)tableClusters };
        WriteHeader();
        _file.Flush();

        // What the old pass reported is now fixed: the new structures hold exactly the counted references.
        _result.CorruptionsFixed += _result.Corruptions;
        _result.LeaksFixed += _result.Leaks;
        _result.Corruptions = 0;
        _result.Leaks = 0;
        _rebuild = false;
        _counts.Add((ulong)(blocksStart << ClusterBits), (ulong)((blocks + tableClusters) << ClusterBits), 1, _ => { }, () => { });
        _disk = new OnDiskRefcounts(_file, _header);
    }

    // ---- COPIED flags ---------------------------------------------------------------------------------------

    /// <summary>
    /// In the active layer, COPIED must be set exactly when the stored refcount is 1 (data-file clusters always
    /// count as 1). Repaired only when the refcounts themselves are sound.
    /// </summary>
    private void CheckCopiedFlags()
    {
        if (_header.L1Size == 0)
        {
            return;
        }

        bool repair = FixErrors && _result.CheckErrors == 0 && _result.Corruptions == 0;
        var l1 = MetadataReader.ReadL1ForCheck(_file, _header.L1TableOffset, _header.L1Size);
        bool l1Dirty = false;
        int entrySize = _header.L2EntrySize;
        var table = new byte[ClusterSize];
        for (int i = 0; i < l1.Length; i++)
        {
            StopIfCancelled();
            var l1Entry = new L1Entry(l1[i]);
            ulong l2Offset = l1Entry.L2TableOffset;
            if (l2Offset == 0 || (l2Offset & (ulong)(ClusterSize - 1)) != 0)
            {
                continue;
            }

            if (!TryStoredRefcount(l2Offset, out ulong refcount))
            {
                continue;
            }

            if ((refcount == 1) != l1Entry.IsCopied)
            {
                Message($"{(repair ? "Repairing" : "ERROR")} OFLAG_COPIED L2 cluster: l1_index={i} l1_entry={l1[i]:x} refcount={refcount}");
                if (repair)
                {
                    l1[i] = l1Entry.WithCopied(refcount == 1).Value;
                    l1Dirty = true;
                    _result.CorruptionsFixed++;
                }
                else
                {
                    _result.Corruptions++;
                }
            }

            if (l2Offset >= (ulong)_file.Length)
            {
                continue;
            }

            Array.Clear(table);
            _file.ReadAt((long)l2Offset, table);
            bool l2Dirty = false;
            for (int j = 0; j < table.Length / entrySize; j++)
            {
                var slot = table.AsSpan(j * entrySize);
                ulong entry = PointerTable.ReadEntry(slot, 0);
                if (L2Entry.IsCompressed(entry) || !L2Entry.HasHostCluster(entry, _hasDataFile))
                {
                    continue;
                }

                ulong dataRefcount = 1;
                if (!_hasDataFile && !TryStoredRefcount(L2Entry.HostOffset(entry), out dataRefcount))
                {
                    continue;
                }

                if ((dataRefcount == 1) != L2Entry.IsCopied(entry))
                {
                    Message($"{(repair ? "Repairing" : "ERROR")} OFLAG_COPIED data cluster: l2_entry={entry:x} refcount={dataRefcount}");
                    if (repair)
                    {
                        PointerTable.WriteEntry(slot, 0, dataRefcount == 1 ? entry | L2Entry.Copied : entry & ~L2Entry.Copied);
                        l2Dirty = true;
                        _result.CorruptionsFixed++;
                    }
                    else
                    {
                        _result.Corruptions++;
                    }
                }
            }

            if (l2Dirty)
            {
                _wrote = true;
                _file.WriteAt((long)l2Offset, table);
            }
        }

        if (l1Dirty)
        {
            _file.WriteAt((long)_header.L1TableOffset, PointerTable.Encode(l1));
        }

        if (repair)
        {
            _file.Flush();
        }
    }

    private bool TryStoredRefcount(ulong offset, out ulong refcount)
    {
        try
        {
            refcount = _disk.Get((long)(offset >> ClusterBits));
            return true;
        }
        catch (Qcow2Exception)
        {
            refcount = 0;
            return false;
        }
    }

    // ---- header ---------------------------------------------------------------------------------------------

    private void MarkCleanAndConsistent()
    {
        const IncompatibleFeatures flags = IncompatibleFeatures.Dirty | IncompatibleFeatures.Corrupt;
        if ((_header.IncompatibleFeatures & flags) == 0)
        {
            return;
        }

        _header = _header with { IncompatibleFeatures = _header.IncompatibleFeatures & ~flags };
        WriteHeader();
        _file.Flush();
        Message("Cleared the dirty and corrupt bits");
    }

    /// <summary>Rewrites only the fixed header bytes: extensions and the backing name after them stay as they are.</summary>
    private void WriteHeader()
    {
        int length = _header.Version >= 3 ? (int)_header.HeaderLength : Qcow2Header.V2Size;
        var bytes = new byte[length];
        _file.ReadAt(0, bytes);
        _header.WriteTo(bytes);
        _file.WriteAt(0, bytes);
    }

    // ---- reporting ------------------------------------------------------------------------------------------

    private void Corruption(string message, uint times = 1)
    {
        _result.Corruptions += (int)Math.Min(times, int.MaxValue);
        Message(times > 1 ? $"{message} (in a table {times} snapshots share)" : message);
    }

    private void CheckError(string message)
    {
        _result.CheckErrors++;
        Message(message);
    }

    private void Message(string message)
    {
        if (_result._messages.Count < _options.MaxMessages)
        {
            _result._messages.Add(message);
        }
    }
}
