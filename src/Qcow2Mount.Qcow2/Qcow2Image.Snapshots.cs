using System.Text;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.Qcow2.Snapshots;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// Internal snapshots on a writable image: create, delete and apply (revert), with QEMU's semantics. A snapshot
/// is a copy of the active L1 table; every L2 table and data cluster it reaches gains one reference, and the
/// active layer's COPIED flags say whether it still owns a cluster alone (refcount 1).
/// <para>
/// Each operation runs exclusively (all stripe locks, then the metadata lock, so no write is in flight) and starts
/// with a flush, so no decrement is pending and every cached table is clean. Write order, so that a crash leaves
/// at most leaks: increments and new tables first (fsync), then the header or snapshot table that points at them
/// (fsync), and only then the decrements of what nothing on disk points at any more. COPIED flags follow the
/// refcounts on disk: cleared after increments are durable, set after decrements are.
/// </para>
/// </summary>
public sealed partial class Qcow2Image
{
    private List<SnapshotEntry> _snapshots;

    public IReadOnlyList<SnapshotInfo> Snapshots => _snapshots.Select(ToInfo).ToList();

    private static SnapshotInfo ToInfo(SnapshotEntry s) =>
        new(s.Id, s.Name, s.VmStateSizeLarge, s.Date, s.VmClockNanoseconds, s.DiskSize, s.Icount);

    /// <summary>Set once a snapshot operation has passed its checks and starts changing the image.</summary>
    private bool _changingSnapshots;

    /// <summary>Takes an internal snapshot of the active layer (like <c>qemu-img snapshot -c</c>).</summary>
    public SnapshotInfo CreateSnapshot(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Exclusive(() =>
        {
            RefuseWithDataFile();
            if (_snapshots.Any(s => s.Name == name))
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: a snapshot named '{name}' already exists");
            }

            if (_snapshots.Count >= SnapshotTable.MaxSnapshots || Encoding.UTF8.GetByteCount(name) > ushort.MaxValue)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                    $"{Path}: cannot add snapshot '{name}' (at most {SnapshotTable.MaxSnapshots} snapshots, names up to 65535 bytes)");
            }

            // Until the snapshot table points at the copy, the extra references are only leaks.
            var active = _map.L1;
            EnsureReferencesFit(active);
            _changingSnapshots = true;
            AddReferences(active, +1);
            long l1Offset = WriteNewL1(active);
            WriteRefcounts();

            // Shared now: clear COPIED (the refcounts that say so are durable), then write the tables and the copy.
            FixCopiedFlags();
            FlushLocked();

            var now = DateTimeOffset.UtcNow;
            var entry = new SnapshotEntry
            {
                Id = SnapshotTable.NextId(_snapshots),
                Name = name,
                L1TableOffset = (ulong)l1Offset,
                L1Size = (uint)active.Length,
                DateSeconds = (uint)now.ToUnixTimeSeconds(),
                DateNanoseconds = (uint)(now.UtcTicks % TimeSpan.TicksPerSecond * 100),
                ExtraData = SnapshotExtraData.ForDiskSnapshot((ulong)Length).ToArray(),
            };
            ReplaceSnapshotTable([.. _snapshots, entry]);
            ApplyDecrementsNow();
            return ToInfo(entry);
        });
    }

    /// <summary>Deletes an internal snapshot by id or name (like <c>qemu-img snapshot -d</c>).</summary>
    public SnapshotInfo DeleteSnapshot(string idOrName)
    {
        ArgumentException.ThrowIfNullOrEmpty(idOrName);
        return Exclusive(() =>
        {
            RefuseWithDataFile();
            var entry = FindSnapshot(idOrName);
            var l1 = MetadataReader.ReadL1(_file, entry.L1TableOffset, entry.L1Size, ClusterSize, $"snapshot '{entry.Name}'");

            // The table without the entry first: from then on nothing on disk reaches the snapshot's tables.
            _changingSnapshots = true;
            ReplaceSnapshotTable(_snapshots.Where(s => !ReferenceEquals(s, entry)).ToList());
            AddReferences(l1, -1);
            FreeClusters((long)entry.L1TableOffset, entry.L1Size * 8L);
            ApplyDecrementsNow();
            ForgetFreedTables(l1);

            // What the active layer owns alone again gets COPIED back, after the lower refcounts are durable.
            FixCopiedFlags();
            FlushLocked();
            return ToInfo(entry);
        });
    }

    /// <summary>
    /// Reverts the active layer to an internal snapshot (like <c>qemu-img snapshot -a</c>): the active L1 becomes a
    /// copy of the snapshot's, and the disk takes the snapshot's size. The snapshot itself stays.
    /// </summary>
    public SnapshotInfo ApplySnapshot(string idOrName)
    {
        ArgumentException.ThrowIfNullOrEmpty(idOrName);
        return Exclusive(() =>
        {
            RefuseWithDataFile();
            var entry = FindSnapshot(idOrName);
            var snapshotL1 = MetadataReader.ReadL1(_file, entry.L1TableOffset, entry.L1Size, ClusterSize, $"snapshot '{entry.Name}'");
            long length = SnapshotLength(Path, Header, entry);

            // A new active L1 (never shrinking, as QEMU keeps it) in fresh clusters: one header write switches to it.
            var oldL1 = _map.L1;
            var newL1 = new ulong[Math.Max(oldL1.Length, snapshotL1.Length)];
            for (int i = 0; i < snapshotL1.Length; i++)
            {
                newL1[i] = snapshotL1[i] & ~L1Entry.Copied;
            }

            EnsureReferencesFit(snapshotL1);
            _changingSnapshots = true;
            AddReferences(snapshotL1, +1);
            long l1Offset = WriteNewL1(newL1);
            WriteRefcounts();

            long oldOffset = (long)Header.L1TableOffset;
            Header = Header with { L1TableOffset = (ulong)l1Offset, L1Size = (uint)newL1.Length, Size = (ulong)length };
            WriteHeader();
            Sync(_file);

            // The old active layer is unreachable now: drop its references and its L1 table.
            AddReferences(oldL1, -1);
            FreeClusters(oldOffset, oldL1.Length * 8L);
            _map.L1 = newL1;
            _map.Cache.Clear();
            Length = length;
            ApplyDecrementsNow();

            FixCopiedFlags();
            FlushLocked();
            return ToInfo(entry);
        });
    }

    /// <summary>
    /// Runs a snapshot operation with no write in flight: every stripe lock in index order, then the metadata lock
    /// (the write path takes a stripe before the metadata lock, so this order cannot deadlock with it).
    /// </summary>
    private T Exclusive<T>(Func<T> operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!CanWrite)
        {
            throw ReadOnlyError();
        }

        int taken = 0;
        try
        {
            for (; taken < _stripes.Length; taken++)
            {
                _stripes[taken].Enter();
            }

            lock (_meta)
            {
                try
                {
                    FlushLocked();
                    return operation();
                }
                catch when (_changingSnapshots)
                {
                    // Failed half way (I/O error): memory and disk may disagree about the L1 table or refcounts.
                    // The disk holds at most leaks; this instance takes no more writes (reopen to go on).
                    _corruptDetected = true;
                    throw;
                }
                finally
                {
                    _changingSnapshots = false;
                    // Host clusters may have been freed: cached decompressed data keyed by them must go.
                    _decompressed.Clear();
                    RebuildGuard();
                }
            }
        }
        finally
        {
            while (taken > 0)
            {
                _stripes[--taken].Exit();
            }
        }
    }

    private void RefuseWithDataFile()
    {
        if (HasDataFile)
        {
            // As QEMU: data clusters in an external file are not refcounted, so nothing could keep a snapshot's data.
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"{Path}: internal snapshots are not supported with an external data file");
        }
    }

    private SnapshotEntry FindSnapshot(string idOrName) =>
        SnapshotTable.Find(_snapshots, idOrName)
            ?? throw new Qcow2Exception(Qcow2ErrorCode.SnapshotNotFound, $"{Path}: no snapshot with id or name '{idOrName}'");

    /// <summary>
    /// Adds <paramref name="addend"/> to the refcount of every L2 table and data cluster an L1 table reaches.
    /// Decrements wait for <see cref="ApplyDecrementsNow"/>.
    /// </summary>
    private void AddReferences(ulong[] l1, long addend)
    {
        foreach (long cluster in ReachableClusters(l1))
        {
            _refcounts!.Update(cluster, addend);
        }
    }

    /// <summary>
    /// Refuses, before anything changes, when one more reference from <paramref name="l1"/> would overflow a
    /// refcount (always with refcount_bits=1, where QEMU refuses snapshots too).
    /// </summary>
    private void EnsureReferencesFit(ulong[] l1)
    {
        int bits = Header.RefcountBits;
        ulong max = bits == 64 ? ulong.MaxValue : (1UL << bits) - 1;
        var added = new Dictionary<long, ulong>();
        foreach (long cluster in ReachableClusters(l1))
        {
            ulong n = added[cluster] = added.GetValueOrDefault(cluster) + 1;
            if (_refcounts!.Get(cluster) > max - n)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                    $"{Path}: refcount_bits={bits} cannot count another reference to cluster {cluster} (snapshots need wider refcounts)");
            }
        }
    }

    /// <summary>
    /// Host clusters an L1 table holds a reference to, once per reference: its L2 tables and their data clusters
    /// (compressed data: every host cluster its byte range touches).
    /// </summary>
    private IEnumerable<long> ReachableClusters(ulong[] l1)
    {
        var g = _geometry;
        int stride = g.Extended ? 2 : 1;
        foreach (ulong l1Entry in l1)
        {
            long l2Offset = (long)L1Entry.L2Offset(l1Entry);
            if (l2Offset == 0)
            {
                continue;
            }

            var words = PeekL2(l2Offset);
            yield return l2Offset >> g.ClusterBits;
            for (int i = 0; i < g.L2Entries; i++)
            {
                ulong entry = words[i * stride];
                if (L2Entry.IsCompressed(entry))
                {
                    var d = CompressedDescriptor.Decode(entry, g.ClusterBits);
                    for (long c = d.HostOffset >> g.ClusterBits; c <= (d.HostOffset + d.Size - 1) >> g.ClusterBits; c++)
                    {
                        yield return c;
                    }
                }
                else if (L2Entry.HasHostCluster(entry, false))
                {
                    yield return (long)L2Entry.HostOffset(entry) >> g.ClusterBits;
                }
            }
        }
    }

    /// <summary>An L2 table's words: the cached table if there is one, else read from disk without caching it.</summary>
    private ulong[] PeekL2(long offset)
    {
        if (_map.Cache.TryGet(offset, out var cached))
        {
            return cached.Words;
        }

        if ((offset & (ClusterSize - 1)) != 0 || offset + ClusterSize > _file.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L2 table at 0x{offset:x} is misaligned or past the end of the image");
        }

        var bytes = new byte[ClusterSize];
        if (_file.ReadAt(offset, bytes) != bytes.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L2 table at 0x{offset:x} is truncated");
        }

        return L2Table.Decode(offset, bytes).Words;
    }

    /// <summary>
    /// Sets COPIED on active L1 and L2 entries exactly when the refcount is 1 (compressed entries never have it);
    /// marks what changed dirty for the next flush.
    /// </summary>
    private void FixCopiedFlags()
    {
        var g = _geometry;
        int stride = g.Extended ? 2 : 1;
        var l1 = _map.L1;
        for (int i = 0; i < l1.Length; i++)
        {
            ulong l1Entry = l1[i];
            long l2Offset = (long)L1Entry.L2Offset(l1Entry);
            if (l2Offset == 0)
            {
                continue;
            }

            ulong wantedL1 = _refcounts!.Get(l2Offset >> g.ClusterBits) == 1 ? l1Entry | L1Entry.Copied : l1Entry & ~L1Entry.Copied;
            if (wantedL1 != l1Entry)
            {
                Volatile.Write(ref l1[i], wantedL1);
                _dirtyL1.Add(i);
            }

            var table = _map.LoadL2(l2Offset);
            for (int j = 0; j < g.L2Entries; j++)
            {
                ulong entry = table.Words[j * stride];
                if (L2Entry.IsCompressed(entry) || !L2Entry.HasHostCluster(entry, false))
                {
                    continue;
                }

                bool owned = _refcounts.Get((long)L2Entry.HostOffset(entry) >> g.ClusterBits) == 1;
                ulong wanted = owned ? entry | L2Entry.Copied : entry & ~L2Entry.Copied;
                if (wanted != entry)
                {
                    Pin(table);
                    Volatile.Write(ref table.Words[j * stride], wanted);
                }
            }

            FlushIfCacheFull();
        }
    }

    /// <summary>Writes an L1 table (without COPIED flags) to newly allocated clusters; 0 for an empty table.</summary>
    private long WriteNewL1(ulong[] l1)
    {
        if (l1.Length == 0)
        {
            return 0;
        }

        var bytes = PointerTable.Encode(l1.Select(e => e & ~L1Entry.Copied).ToArray());

        long offset = _refcounts!.Allocate(ClustersFor(bytes.Length));
        CheckOverlap(offset, bytes.Length);
        _file.WriteAt(offset, bytes);
        return offset;
    }

    /// <summary>
    /// Writes a new snapshot table to fresh clusters and points the header at it (each step fsynced), then drops
    /// the old table's clusters (deferred: the caller applies them).
    /// </summary>
    private void ReplaceSnapshotTable(List<SnapshotEntry> entries)
    {
        long oldOffset = (long)Header.SnapshotsOffset;
        long oldBytes = Header.SnapshotCount == 0 ? 0 : _snapshots.Sum(s => (long)s.StoredSize);
        long offset = 0;
        if (entries.Count > 0)
        {
            var bytes = SnapshotTable.Encode(entries);
            if (bytes.Length > SnapshotTable.MaxTableBytes)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: the snapshot table would exceed 64 MiB");
            }

            offset = _refcounts!.Allocate(ClustersFor(bytes.Length));
            CheckOverlap(offset, bytes.Length);
            _file.WriteAt(offset, bytes);
        }

        // The table and its refcounts are durable before the header points at them.
        WriteRefcounts();
        Header = Header with { SnapshotCount = (uint)entries.Count, SnapshotsOffset = (ulong)offset };
        WriteHeader();
        Sync(_file);
        // A new list, not an edit in place: readers of Snapshots take no lock.
        _snapshots = entries;
        FreeClusters(oldOffset, oldBytes);
    }

    private void FreeClusters(long offset, long bytes)
    {
        if (offset == 0 || bytes <= 0)
        {
            return;
        }

        long first = offset >> _geometry.ClusterBits;
        for (long c = 0; c < ClustersFor(bytes); c++)
        {
            _refcounts!.Update(first + c, -1);
        }
    }

    /// <summary>
    /// Applies the pending decrements and makes them durable. Only for references that no table or header on disk
    /// holds any more (the header or snapshot table that dropped them has been fsynced).
    /// </summary>
    private void ApplyDecrementsNow()
    {
        _refcounts!.ApplyDeferred();
        WriteRefcounts();
    }

    /// <summary>Freed L2 tables may be reused as anything: cached copies of them must not be found by offset.</summary>
    private void ForgetFreedTables(ulong[] l1)
    {
        foreach (ulong l1Entry in l1)
        {
            long l2Offset = (long)L1Entry.L2Offset(l1Entry);
            if (l2Offset != 0 && _refcounts!.Get(l2Offset >> _geometry.ClusterBits) == 0)
            {
                _map.Cache.Remove(l2Offset);
            }
        }
    }

    private int ClustersFor(long bytes) => (int)((bytes + ClusterSize - 1) >> _geometry.ClusterBits);
}
