using System.Buffers;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.Qcow2.Refcounts;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// The write path. Locking: every write to a guest cluster holds that cluster's stripe lock for the whole
/// operation, so two writes to one unallocated cluster never both allocate it, and a discard never frees a
/// cluster under an in-flight write. Metadata (L1, L2 entries, refcounts) changes under <see cref="_meta"/>,
/// held only for the bookkeeping; data I/O, including copy-on-write, runs outside it, so writes to different
/// clusters proceed in parallel. Overwrites of clusters this image owns alone take no metadata lock at all.
/// <para>
/// Durability order (<see cref="FlushLocked"/>): refcount blocks (increments), fsync; data file, L2 tables, fsync;
/// L1 entries and header, fsync; only then are decrements applied, so freed clusters are reused only after no
/// table on disk points at them. With lazy refcounts the refcount blocks wait for a clean close and the dirty
/// bit, set before the first metadata change, tells the next writable open to rebuild them.
/// </para>
/// </summary>
public sealed partial class Qcow2Image
{
    private const int StripeCount = 256;

    private readonly Lock _meta = new();
    private readonly Lock[] _stripes = CreateStripes();
    private readonly HashSet<long> _dirtyL1 = [];
    private RefcountManager? _refcounts;
    private OverlapGuard? _guard;
    private bool _lazy;
    private bool _dirtyMarked;
    private bool _headerDirty;
    private volatile bool _corruptDetected;

    private static Lock[] CreateStripes()
    {
        var stripes = new Lock[StripeCount];
        for (int i = 0; i < stripes.Length; i++)
        {
            stripes[i] = new Lock();
        }

        return stripes;
    }

    /// <summary>True when the image was opened writable and no corruption has been found since.</summary>
    public bool CanWrite => _refcounts is not null && !_corruptDetected;

    /// <summary>True when lazy refcounts are in use for this open.</summary>
    public bool UsesLazyRefcounts => _lazy;

    /// <summary>Metadata cached now against each cache's size, in tables and blocks (for tests of the bound).</summary>
    internal (int L2Tables, int L2Capacity, int RefcountBlocks, int RefcountCapacity) CacheUsage =>
        (_map.Cache.Count, _map.Cache.Capacity, _refcounts?.CacheUsage.Count ?? 0, _refcounts?.CacheUsage.Capacity ?? 0);

    private bool HasDataFile => !ReferenceEquals(_dataFile, _file);

    private void InitWritable()
    {
        var h = Header;
        _refcounts = RefcountManager.Load(_file, h.ClusterBits, h.RefcountOrder, (long)h.RefcountTableOffset,
            (int)h.RefcountTableClusters, (int)Math.Clamp(Options.RefcountCacheBytes / h.ClusterSize, 16, int.MaxValue));
        _lazy = Options.LazyRefcounts && h.Version >= 3;
        RebuildGuard();
        _refcounts.BeforeWrite = CheckOverlap;
        _refcounts.Placed = (offset, length, kind) => _guard!.Add(offset, length, kind);
        _refcounts.Dropped = (offset, length, kind) => _guard!.Remove(offset, length, kind);

        // Autoclear bits of features this engine does not maintain must go on a writable open.
        var keep = h.AutoclearFeatures & KnownFeatures.Autoclear;
        if (keep != h.AutoclearFeatures)
        {
            Header = h with { AutoclearFeatures = keep };
            WriteHeader();
            Sync(_file);
        }
    }

    private void RebuildGuard()
    {
        var h = Header;
        var guard = new OverlapGuard(h.ClusterBits);
        guard.Add(0, h.ClusterSize, MetadataKind.Header);
        guard.Add((long)h.L1TableOffset, h.L1Size * 8L, MetadataKind.ActiveL1);
        foreach (ulong e in _map.L1)
        {
            guard.Add((long)L1Entry.L2Offset(e), h.ClusterSize, MetadataKind.ActiveL2);
        }

        guard.Add(_refcounts!.TableOffset, (long)_refcounts.TableClusters << h.ClusterBits, MetadataKind.RefcountTable);
        foreach (long block in _refcounts.BlockOffsets)
        {
            guard.Add(block, h.ClusterSize, MetadataKind.RefcountBlock);
        }

        if (h.SnapshotCount > 0)
        {
            guard.Add((long)h.SnapshotsOffset, _snapshots.Sum(s => (long)s.StoredSize), MetadataKind.SnapshotTable);
        }

        foreach (var s in _snapshots)
        {
            guard.Add((long)s.L1TableOffset, s.L1Size * 8L, MetadataKind.InactiveL1);
        }

        if (Encryption is { Luks: not null } luks)
        {
            guard.Add(luks.LuksOffset, luks.LuksLength, MetadataKind.CryptoHeader);
        }

        _guard = guard;
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        int clusterSize = _geometry.ClusterSize;
        while (!data.IsEmpty)
        {
            int inCluster = (int)_geometry.OffsetInCluster(offset);
            if (inCluster == 0 && data.Length >= 2 * clusterSize && OverwriteRunInPlace(offset, data) is > 0 and int done)
            {
                offset += done;
                data = data[done..];
                continue;
            }

            int n = Math.Min(data.Length, clusterSize - inCluster);
            long cluster = offset >> _geometry.ClusterBits;
            lock (_stripes[cluster & (StripeCount - 1)])
            {
                if (!TryOverwriteInPlace(offset, data[..n]))
                {
                    WriteCluster(offset, data[..n]);
                }
            }

            offset += n;
            data = data[n..];
        }
    }

    public void WriteZeroes(long offset, long length) => ZeroRange(offset, length, discard: false);

    public void Discard(long offset, long length) => ZeroRange(offset, length, discard: true);

    public void Flush()
    {
        if (_refcounts is null)
        {
            return; // opened read-only: nothing to make durable
        }

        if (_corruptDetected)
        {
            // Like QEMU, which stops all I/O on the image once it marks it corrupt: a flush cannot promise anything.
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{Path}: the image was marked corrupt during this session; what was written since the last flush may not be saved");
        }

        lock (_meta)
        {
            ThrowIfFlushFailed();
            FlushLocked();
        }
    }

    /// <summary>
    /// The first fsync of a host file that failed. Never retried: after a failed fsync Linux may have dropped the
    /// dirty pages it could not write and marked them clean, so the next fsync would succeed without them
    /// (PostgreSQL's "fsyncgate"). From then on flushes fail and a close leaves the image (and its dirty bit) as it is.
    /// A failed write is different: the metadata stays dirty in memory and the next flush writes it again.
    /// </summary>
    private Exception? _flushFailure;

    /// <summary>fsyncs a host file, remembering a failure (see <see cref="_flushFailure"/>).</summary>
    private void Sync(Storage.IHostFile file)
    {
        try
        {
            file.Flush();
        }
        catch (IOException e)
        {
            _flushFailure ??= e;
            throw;
        }
    }

    private void ThrowIfFlushFailed()
    {
        if (_flushFailure is { } earlier)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Io,
                $"{Path}: an earlier flush failed ({earlier.Message}); data written before it may be lost: check the image", earlier);
        }
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!CanWrite)
        {
            throw ReadOnlyError();
        }

        if (Encryption is not null && _cipher is null)
        {
            // Before anything is allocated: a write that failed later would leak its cluster.
            throw new Qcow2Exception(Qcow2ErrorCode.Password, $"{Path}: image is encrypted and was opened without its password; its data cannot be written");
        }

        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: range {offset}+{length} lies outside the disk ({Length} bytes)");
        }
    }

    /// <summary>Fast path: the cluster is ours alone and every touched subcluster is allocated.</summary>
    private bool TryOverwriteInPlace(long guest, ReadOnlySpan<byte> data)
    {
        int inCluster = (int)_geometry.OffsetInCluster(guest);
        long host = InPlaceHost(guest, inCluster, data.Length);
        if (host < 0)
        {
            return false;
        }

        WriteData(host + inCluster, guest, data);
        return true;
    }

    /// <summary>
    /// Whole clusters from cluster-aligned <paramref name="guest"/> that can each be overwritten in place and lie
    /// back to back on the host go out as one write, as QEMU issues one request where we would issue one per
    /// cluster (a 1 MiB overwrite was 16 writes). Holds the stripe locks of every cluster it may cover, taken in
    /// stripe order so that two runs can never wait on each other. Returns the bytes written, 0 when the first
    /// cluster needs the general path.
    /// </summary>
    private int OverwriteRunInPlace(long guest, ReadOnlySpan<byte> data)
    {
        var g = _geometry;
        int wanted = Math.Min(Math.Min(data.Length >> g.ClusterBits, MaxRunClusters), g.L2Entries - g.L2Index(guest));
        if (wanted < 2)
        {
            return 0;
        }

        long first = guest >> g.ClusterBits;
        Span<int> stripes = stackalloc int[wanted];
        for (int i = 0; i < wanted; i++)
        {
            stripes[i] = (int)((first + i) & (StripeCount - 1));
        }

        stripes.Sort();
        foreach (int stripe in stripes)
        {
            _stripes[stripe].Enter();
        }

        try
        {
            long host = InPlaceHost(guest, 0, g.ClusterSize);
            if (host < 0)
            {
                return 0;
            }

            int run = 1;
            while (run < wanted && InPlaceHost(guest + ((long)run << g.ClusterBits), 0, g.ClusterSize) == host + ((long)run << g.ClusterBits))
            {
                run++;
            }

            WriteData(host, guest, data[..(run << g.ClusterBits)]);
            return run << g.ClusterBits;
        }
        finally
        {
            foreach (int stripe in stripes)
            {
                _stripes[stripe].Exit();
            }
        }
    }

    /// <summary>Most clusters one in-place run covers (and stripe locks it holds).</summary>
    private const int MaxRunClusters = 32;

    /// <summary>
    /// The host offset of <paramref name="guest"/>'s cluster when <paramref name="length"/> bytes at
    /// <paramref name="inCluster"/> can be written there in place (the cluster is ours alone and every touched
    /// subcluster allocated); -1 when not. The caller holds the cluster's stripe lock.
    /// </summary>
    private long InPlaceHost(long guest, int inCluster, int length)
    {
        long l1Index = _geometry.L1Index(guest);
        if (l1Index >= _map.L1.Length || (Volatile.Read(ref _map.L1[l1Index]) & L1Entry.Copied) == 0)
        {
            return -1;
        }

        var table = _map.GetL2(l1Index);
        if (table is null)
        {
            return -1;
        }

        int index = _geometry.L2Index(guest);
        ulong entry;
        if (_geometry.Extended)
        {
            ulong bitmap = Volatile.Read(ref table.Words[(index * 2) + 1]);
            entry = Volatile.Read(ref table.Words[index * 2]);
            ulong wanted = SubclusterMask(inCluster, length);
            if ((bitmap & wanted) != wanted)
            {
                return -1;
            }
        }
        else
        {
            entry = Volatile.Read(ref table.Words[index]);
            if (L2Entry.IsZero(entry))
            {
                return -1;
            }
        }

        return L2Entry.IsCopied(entry) && L2Entry.HasHostCluster(entry, HasDataFile) ? (long)L2Entry.HostOffset(entry) : -1;
    }

    /// <summary>Bitmap bits (allocation half) of the subclusters touched by a range inside one cluster.</summary>
    private ulong SubclusterMask(int inCluster, int length)
    {
        int first = inCluster >> _geometry.SubclusterBits;
        int last = (inCluster + length - 1) >> _geometry.SubclusterBits;
        return (last == 31 ? uint.MaxValue : (1UL << (last + 1)) - 1) & ~((1UL << first) - 1);
    }

    /// <summary>Slow path: allocate (or copy on write) the cluster, write the data, then link it.</summary>
    private void WriteCluster(long guest, ReadOnlySpan<byte> data)
    {
        var g = _geometry;
        long l1Index = g.L1Index(guest);
        int index = g.L2Index(guest);
        int inCluster = (int)g.OffsetInCluster(guest);
        long clusterGuest = guest - inCluster;
        ulong oldEntry, oldBitmap = 0;
        long host;
        bool reuse;

        lock (_meta)
        {
            MarkDirty();
            var table = WritableL2(l1Index);
            oldEntry = table.Words[g.Extended ? index * 2 : index];
            if (g.Extended)
            {
                oldBitmap = table.Words[(index * 2) + 1];
            }

            reuse = L2Entry.IsCopied(oldEntry) && L2Entry.HasHostCluster(oldEntry, HasDataFile);
            host = reuse ? (long)L2Entry.HostOffset(oldEntry) : AllocateDataCluster(clusterGuest);
        }

        // Which bytes of the cluster get written, and whether old content must be copied around the new data.
        int regionStart, regionEnd;
        bool fullCopy = !reuse && (L2Entry.IsCompressed(oldEntry) || L2Entry.HasHostCluster(oldEntry, HasDataFile));
        if (g.Extended && !fullCopy)
        {
            regionStart = (inCluster >> g.SubclusterBits) << g.SubclusterBits;
            regionEnd = (((inCluster + data.Length - 1) >> g.SubclusterBits) + 1) << g.SubclusterBits;
        }
        else
        {
            regionStart = 0;
            regionEnd = g.ClusterSize;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(regionEnd - regionStart);
        try
        {
            var region = buffer.AsSpan(0, regionEnd - regionStart);
            bool covered = inCluster == regionStart && inCluster + data.Length == regionEnd;
            if (!covered)
            {
                if (!g.Extended && reuse && L2Entry.IsZero(oldEntry))
                {
                    region.Clear();
                }
                else
                {
                    // The guest view before this write: backing data, zeros, compressed or shared cluster data.
                    region.Clear();
                    ReadAt(clusterGuest + regionStart, region);
                }
            }

            data.CopyTo(region[(inCluster - regionStart)..]);
            WriteData(host + regionStart, clusterGuest + regionStart, region);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        lock (_meta)
        {
            var table = _map.GetL2(l1Index)
                ?? throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L2 table vanished during a write");
            Pin(table);
            ulong newEntry = (ulong)host | L2Entry.Copied;
            if (g.Extended)
            {
                ulong allocated = fullCopy || !reuse && L2Entry.HasHostCluster(oldEntry, HasDataFile)
                    ? uint.MaxValue
                    : (oldBitmap & uint.MaxValue) | SubclusterMask(regionStart, regionEnd - regionStart);
                ulong zeros = (oldBitmap >> 32) & ~allocated & uint.MaxValue;
                // Entry first, then bitmap: a reader in between sees the old bitmap, which reads the old data.
                Volatile.Write(ref table.Words[index * 2], newEntry);
                Volatile.Write(ref table.Words[(index * 2) + 1], allocated | (zeros << 32));
            }
            else
            {
                Volatile.Write(ref table.Words[index], newEntry);
            }

            if (!reuse)
            {
                Release(oldEntry);
            }

            FlushIfCacheFull();
        }
    }

    /// <summary>
    /// Marks a table dirty before its words change and makes sure the cache holds this very copy: readers load and
    /// evict tables without the metadata lock, and a change made to an evicted copy would be lost.
    /// </summary>
    private void Pin(L2Table table)
    {
        table.Dirty = true;
        _map.Cache.EnsureCached(table.HostOffset, table);
    }

    /// <summary>Drops this image's reference to the storage behind an L2 entry (deferred until flush).</summary>
    private void Release(ulong entry)
    {
        if (L2Entry.IsCompressed(entry))
        {
            var d = CompressedDescriptor.Decode(entry, _geometry.ClusterBits);
            for (long c = d.HostOffset >> _geometry.ClusterBits; c <= (d.HostOffset + d.Size - 1) >> _geometry.ClusterBits; c++)
            {
                _refcounts!.Update(c, -1);
            }
        }
        else if (!HasDataFile && L2Entry.HasHostCluster(entry, false))
        {
            _refcounts!.Update((long)L2Entry.HostOffset(entry) >> _geometry.ClusterBits, -1);
        }
    }

    private long AllocateDataCluster(long clusterGuest) =>
        // External data files map guest clusters 1:1; their clusters are not refcounted in the image.
        HasDataFile ? clusterGuest : _refcounts!.Allocate(1);

    /// <summary>The L2 table for an L1 slot, allocated or copied so this image owns it alone.</summary>
    private L2Table WritableL2(long l1Index)
    {
        if (l1Index >= _map.L1.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L1 table is too small for the disk");
        }

        ulong l1Entry = _map.L1[l1Index];
        long oldOffset = (long)L1Entry.L2Offset(l1Entry);
        if (oldOffset != 0 && (l1Entry & L1Entry.Copied) != 0)
        {
            return _map.LoadL2(oldOffset);
        }

        long newOffset = _refcounts!.Allocate(1);
        CheckOverlap(newOffset, _geometry.ClusterSize);
        var words = oldOffset == 0 ? new ulong[_geometry.L2Words] : (ulong[])_map.LoadL2(oldOffset).Words.Clone();
        var table = new L2Table(newOffset, words) { Dirty = true };
        _map.Cache.Add(newOffset, table);
        _guard!.Add(newOffset, _geometry.ClusterSize, MetadataKind.ActiveL2);
        Volatile.Write(ref _map.L1[l1Index], (ulong)newOffset | L1Entry.Copied);
        _dirtyL1.Add(l1Index);
        if (oldOffset != 0)
        {
            // The old table stays with the snapshots that share it.
            _refcounts.Update(oldOffset >> _geometry.ClusterBits, -1);
            _guard.Remove(oldOffset, _geometry.ClusterSize, MetadataKind.ActiveL2);
        }

        return table;
    }

    private void ZeroRange(long offset, long length, bool discard)
    {
        CheckRange(offset, length);
        var g = _geometry;
        long end = offset + length;
        while (offset < end)
        {
            int inCluster = (int)g.OffsetInCluster(offset);
            int n = (int)Math.Min(end - offset, g.ClusterSize - inCluster);
            long cluster = offset >> g.ClusterBits;
            bool wholeCluster = inCluster == 0 && (n == g.ClusterSize || offset + n == Length);
            lock (_stripes[cluster & (StripeCount - 1)])
            {
                if (!wholeCluster || !TryZeroCluster(offset, discard))
                {
                    WriteZeroBytes(offset, n);
                }
            }

            offset += n;
        }
    }

    /// <summary>Marks a whole cluster as reading zeros and frees its storage; false when only real zeros will do.</summary>
    private bool TryZeroCluster(long guest, bool discard)
    {
        var g = _geometry;
        bool hasBacking = BackingFile is not null;
        if (Header.HasRawExternalData || (Header.Version < 3 && hasBacking))
        {
            // A raw data file must hold the guest view itself; v2 has no zero flag to hide backing data.
            return false;
        }

        lock (_meta)
        {
            long l1Index = g.L1Index(guest);
            if (!hasBacking && (_map.L1[l1Index] & L1Entry.OffsetMask) == 0)
            {
                // No L2 table and nothing behind: the cluster already reads as zeros.
                return true;
            }

            MarkDirty();
            var table = WritableL2(l1Index);
            Pin(table);
            int index = g.L2Index(guest);
            ulong old = table.Words[g.Extended ? index * 2 : index];
            if (g.Extended)
            {
                // Bitmap first: a reader in between sees zero bits with the old cluster, which reads as zeros.
                Volatile.Write(ref table.Words[(index * 2) + 1], (ulong)uint.MaxValue << 32);
                Volatile.Write(ref table.Words[index * 2], 0);
            }
            else
            {
                Volatile.Write(ref table.Words[index], Header.Version >= 3 ? L2Entry.ZeroFlag : 0);
            }

            // Only a cluster this layer owns alone (COPIED): a shared one still holds a snapshot's data.
            if (discard && Options.PunchHoles && !HasDataFile && L2Entry.IsCopied(old) && !L2Entry.IsCompressed(old) && L2Entry.HasHostCluster(old, false))
            {
                _file.PunchHole((long)L2Entry.HostOffset(old), g.ClusterSize);
            }

            Release(old);
            FlushIfCacheFull();
        }

        return true;
    }

    private void WriteZeroBytes(long offset, int length)
    {
        byte[] zeros = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Array.Clear(zeros, 0, length);
            if (!TryOverwriteInPlace(offset, zeros.AsSpan(0, length)))
            {
                WriteCluster(offset, zeros.AsSpan(0, length));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(zeros);
        }
    }

    /// <summary>Writes guest data (of guest offset <paramref name="guest"/>) at <paramref name="host"/>, encrypted if the image is.</summary>
    private void WriteData(long host, long guest, ReadOnlySpan<byte> data)
    {
        if (Encryption is not null)
        {
            WriteEncrypted(host, guest, data);
            return;
        }

        WritePayload(host, data);
    }

    /// <summary>Writes bytes as they are to be stored (plain data, a compressed payload) at <paramref name="host"/>.</summary>
    private void WritePayload(long host, ReadOnlySpan<byte> data)
    {
        if (!HasDataFile)
        {
            CheckOverlap(host, data.Length);
        }

        _dataFile.WriteAt(host, data);
    }

    /// <summary>
    /// Encrypts whole 512-byte sectors and writes them. A write that starts or ends inside a sector keeps the rest
    /// of that sector: it is read and decrypted first (the caller holds the cluster's stripe lock, so nobody else
    /// writes it meanwhile).
    /// </summary>
    private void WriteEncrypted(long host, long guest, ReadOnlySpan<byte> data)
    {
        var cipher = _cipher ?? throw new Qcow2Exception(Qcow2ErrorCode.Password,
            $"{Path}: image is encrypted and was opened without its password; its data cannot be written");
        const int Sector = Crypto.SectorCipher.SectorSize;
        int lead = (int)(host % Sector);
        int length = (lead + data.Length + Sector - 1) / Sector * Sector;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var sectors = buffer.AsSpan(0, length);
            if (lead != 0)
            {
                ReadEncrypted(host - lead, guest - lead, sectors[..Sector]);
            }

            int tail = (lead + data.Length) % Sector;
            if (tail != 0 && (length > Sector || lead == 0))
            {
                ReadEncrypted(host - lead + length - Sector, guest - lead + length - Sector, sectors[^Sector..]);
            }

            data.CopyTo(sectors[lead..]);
            cipher.Encrypt(((Encryption!.UsesHostSectors ? host : guest) - lead) / Sector, sectors);
            WritePayload(host - lead, sectors);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Before a write of <paramref name="length"/> bytes at <paramref name="host"/>: it may cover metadata of kind <paramref name="own"/> (its own), no other.</summary>
    private void CheckOverlap(long host, long length, MetadataKind own = MetadataKind.None)
    {
        if (_guard!.Overlaps(host, length, own) is { } what)
        {
            MarkCorrupt($"write at 0x{host:x} (+{length}) would overwrite the {what}");
        }
    }

    /// <summary>Sets the corrupt bit, makes the image read-only, and fails the write that found the problem.</summary>
    private void MarkCorrupt(string reason)
    {
        _corruptDetected = true;
        lock (_meta)
        {
            Header = Header with { IncompatibleFeatures = Header.IncompatibleFeatures | IncompatibleFeatures.Corrupt };
            if (Header.Version >= 3)
            {
                WriteHeader();
                Sync(_file);
            }
        }

        throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: marking image as corrupt: {reason}; further writes refused");
    }

    /// <summary>With lazy refcounts, the dirty bit must be durable before the first metadata change.</summary>
    private void MarkDirty()
    {
        if (!_lazy || _dirtyMarked)
        {
            return;
        }

        Header = Header with { IncompatibleFeatures = Header.IncompatibleFeatures | IncompatibleFeatures.Dirty };
        WriteHeader();
        Sync(_file);
        _dirtyMarked = true;
    }

    /// <summary>
    /// Writes dirty metadata back when it holds a cache above its configured size, so memory stays bounded however
    /// long a writer goes without fsync. With lazy refcounts the blocks are written too: refcounts on disk are then
    /// at least the true ones (decrements wait for the flush), which leaves at most leaks after a crash.
    /// </summary>
    private void FlushIfCacheFull()
    {
        var refcounts = _refcounts!;
        bool blocksOver = refcounts.BlocksOverCapacity;
        if (_map.Cache.IsOverCapacity || refcounts.NeedsFlush)
        {
            FlushLocked();
            if (_lazy && blocksOver)
            {
                WriteRefcounts();
            }

            // Written tables and blocks are evictable now; trim so the next write does not flush again.
            _map.Cache.Trim();
            refcounts.TrimCache();
        }
    }

    private void FlushLocked()
    {
        var refcounts = _refcounts!;
        if (!_lazy)
        {
            WriteRefcounts();
        }

        // Data (in a separate data file) and L2 tables before the L1 entries that point at them.
        if (HasDataFile)
        {
            Sync(_dataFile);
        }

        bool wroteTables = false;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(_geometry.ClusterSize);
        try
        {
            foreach (var (_, table) in _map.Cache.Snapshot())
            {
                if (table.Dirty)
                {
                    table.Encode(buffer.AsSpan(0, _geometry.ClusterSize));
                    CheckOverlap(table.HostOffset, _geometry.ClusterSize, MetadataKind.ActiveL2);
                    _file.WriteAt(table.HostOffset, buffer.AsSpan(0, _geometry.ClusterSize));
                    table.Dirty = false;
                    wroteTables = true;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (wroteTables || _dirtyL1.Count > 0 || _headerDirty)
        {
            Sync(_file);
        }

        if (_dirtyL1.Count > 0 || _headerDirty)
        {
            Span<byte> entry = stackalloc byte[PointerTable.EntrySize];
            foreach (long index in _dirtyL1)
            {
                PointerTable.WriteEntry(entry, 0, _map.L1[index]);
                CheckOverlap((long)Header.L1TableOffset + (index * 8), 8, MetadataKind.ActiveL1);
                _file.WriteAt((long)Header.L1TableOffset + (index * 8), entry);
            }

            _dirtyL1.Clear();
            if (_headerDirty)
            {
                WriteHeader();
            }

            Sync(_file);
        }
        else if (!wroteTables)
        {
            // Overwrites in place only: their data still has to be durable.
            Sync(_file);
        }

        // Nothing on disk points at released clusters any more: apply the decrements.
        refcounts.ApplyDeferred();
    }

    /// <summary>Refcount blocks, then (when it moved) the table and the header that points at it; fsynced.</summary>
    private void WriteRefcounts()
    {
        var refcounts = _refcounts!;
        if (refcounts.WriteBack())
        {
            Sync(_file);
            Header = Header with
            {
                RefcountTableOffset = (ulong)refcounts.TableOffset,
                RefcountTableClusters = (uint)refcounts.TableClusters,
            };
            WriteHeader();
            _headerDirty = false;
            Sync(_file);
            RebuildGuard();

            // The header points at the new table now; the old one's clusters go with the next decrements.
            refcounts.FreeOldTable();
        }

        Sync(_file);
    }

    private void WriteHeader()
    {
        var bytes = new byte[Header.Version >= 3 ? Header.HeaderLength : Qcow2Header.V2Size];
        Header.WriteTo(bytes);
        _file.WriteAt(0, bytes);
    }

    /// <summary>Clean close: metadata, refcounts (lazy or deferred), then the dirty bit off.</summary>
    private void CloseWritable()
    {
        lock (_meta)
        {
            // After a failed flush, a clean close would clear the dirty bit over data that may be gone.
            ThrowIfFlushFailed();
            FlushLocked();
            WriteRefcounts();
            if (_refcounts!.HasDeferred)
            {
                _refcounts.ApplyDeferred();
                WriteRefcounts();
            }

            if (_dirtyMarked)
            {
                Header = Header with { IncompatibleFeatures = Header.IncompatibleFeatures & ~IncompatibleFeatures.Dirty };
                WriteHeader();
                Sync(_file);
                _dirtyMarked = false;
            }
        }
    }
}
