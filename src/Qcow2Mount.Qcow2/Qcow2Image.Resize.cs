using System.Buffers;
using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Refcounts;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// Operations that change the shape of the image rather than guest bytes in place: growing the disk, and storing
/// clusters compressed. Both follow the write path's rules (stripe lock per guest cluster, metadata under
/// <see cref="_meta"/>, data before the tables that point at it, overlap check before every host write).
/// </summary>
public sealed partial class Qcow2Image
{
    /// <summary>QEMU's limit on the L1 table (QCOW_MAX_L1_SIZE).</summary>
    private const long MaxL1Bytes = 32L << 20;

    /// <summary>
    /// Grows the disk to <paramref name="newSize"/> bytes (rounded up to 512, as QEMU does). Shrinking is refused.
    /// Moves the L1 table to a larger one when the new size needs it. Over a backing file that reaches past the
    /// old end, the new area is marked as zeros, so old backing data does not appear in it (QEMU does the same and
    /// refuses, as here, when the image is v2 and has no zero clusters). Snapshots keep their own size and L1.
    /// </summary>
    public void Resize(long newSize)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!CanWrite)
        {
            throw ReadOnlyError();
        }

        if (newSize < 0 || (ulong)newSize > Qcow2Header.MaxVirtualSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: invalid size {newSize}");
        }

        long size = (newSize + 511) & ~511L;
        long oldSize = Length;
        if (size < oldSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: cannot shrink the disk from {oldSize} to {size} bytes: shrinking is not supported");
        }

        if (size == oldSize)
        {
            return;
        }

        bool hideBacking = BackingFile is not null && (_backing is null || _backing.Length > oldSize);
        if (hideBacking && Header.Version < 3)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported,
                $"{Path}: cannot grow a compat=0.10 image whose backing file reaches past its end: the new area would show " +
                "backing data and v2 has no zero clusters to hide it (qemu-img refuses this too)");
        }

        if (hideBacking && Encryption is not null && _cipher is null)
        {
            // Checked before the header changes: the zeros that hide the backing data must be written encrypted.
            throw new Qcow2Exception(Qcow2ErrorCode.Password,
                $"{Path}: growing this encrypted image over its longer backing file writes zeros, which needs its password (--password-file FILE)");
        }

        lock (_meta)
        {
            MarkDirty();
            long l1Entries = _geometry.L1EntriesFor((ulong)size);
            if (Header.HasRawExternalData && _dataFile.Length < size)
            {
                // The raw data file is the guest disk itself; it grows before the header says the disk did.
                _dataFile.SetLength(size);
                Sync(_dataFile);
            }

            if (l1Entries > _map.L1.Length)
            {
                GrowL1(l1Entries, size);
            }
            else
            {
                Header = Header with { Size = (ulong)size };
                WriteHeader();
                Sync(_file);
            }

            Length = size;
        }

        if (hideBacking)
        {
            ZeroRange(oldSize, size - oldSize, discard: false);
            Flush();
        }
    }

    /// <summary>
    /// Moves the active L1 table to new, larger clusters. Order: everything the old table points at is flushed;
    /// the new clusters' refcounts, the new table and then the header reach disk, each fsynced; only then is the
    /// old table released (its decrement deferred like every other), so a crash leaves the old or the new table
    /// complete, and at worst a leak.
    /// </summary>
    private void GrowL1(long entries, long size)
    {
        int clusterBits = _geometry.ClusterBits;
        long bytes = entries * 8;
        if (bytes > MaxL1Bytes)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: a disk of {size} bytes needs an L1 table of {bytes} bytes, over the format's 32 MiB limit");
        }

        int clusters = (int)((bytes + _geometry.ClusterSize - 1) >> clusterBits);
        FlushLocked();
        var refcounts = _refcounts!;
        long newOffset = refcounts.Allocate(clusters);
        CheckOverlap(newOffset, (long)clusters << clusterBits);
        if (!_lazy)
        {
            WriteRefcounts();
        }

        var l1 = new ulong[entries];
        _map.L1.CopyTo(l1, 0);
        var encoded = PointerTable.Encode(l1, (long)clusters << clusterBits);

        _file.WriteAt(newOffset, encoded);
        Sync(_file);

        long oldOffset = (long)Header.L1TableOffset;
        long oldBytes = Header.L1Size * 8L;
        Header = Header with { L1TableOffset = (ulong)newOffset, L1Size = (uint)entries, Size = (ulong)size };
        WriteHeader();
        Sync(_file);

        // Readers and in-place writers may still hold the old array: its entries are the same values.
        _map.L1 = l1;
        _guard!.Add(newOffset, bytes, MetadataKind.ActiveL1);
        if (oldBytes > 0)
        {
            _guard.Remove(oldOffset, oldBytes, MetadataKind.ActiveL1);
            for (long c = oldOffset >> clusterBits; c <= (oldOffset + oldBytes - 1) >> clusterBits; c++)
            {
                refcounts.Update(c, -1);
            }
        }
    }

    /// <summary>
    /// Compressed clusters go neither into an external data file nor into an encrypted image (QEMU reads them
    /// there unencrypted, so a compressed write would store guest data in the clear).
    /// </summary>
    private void RefuseCompressedWrites()
    {
        if (HasDataFile)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"{Path}: compressed clusters cannot be stored in an image with an external data file");
        }

        if (Encryption is not null)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"{Path}: compressed clusters cannot be stored in an encrypted image");
        }
    }

    /// <summary>
    /// Stores one whole, cluster-aligned cluster compressed (the disk's last cluster may be short; it is padded
    /// with zeros). As in QEMU, only an unallocated or zero cluster may be written this way; when compression
    /// does not make the cluster smaller, it is written uncompressed. Compressed clusters are packed byte by byte
    /// into shared host clusters.
    /// </summary>
    public void WriteCompressed(long offset, ReadOnlySpan<byte> cluster)
    {
        var g = _geometry;
        int clusterSize = g.ClusterSize;
        bool lastPartial = cluster.Length > 0 && cluster.Length < clusterSize && offset + cluster.Length == Length;
        if (g.OffsetInCluster(offset) != 0 || (cluster.Length != clusterSize && !lastPartial))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: a compressed write takes one whole cluster at a cluster boundary ({clusterSize} bytes at a multiple of it), got {cluster.Length} bytes at {offset}");
        }

        CheckRange(offset, cluster.Length);
        RefuseCompressedWrites();

        long l1Index = g.L1Index(offset);
        int index = g.L2Index(offset);
        int word = g.Extended ? index * 2 : index;
        lock (_stripes[(offset >> g.ClusterBits) & (StripeCount - 1)])
        {
            ulong old;
            lock (_meta)
            {
                old = _map.GetL2(l1Index)?.Words[word] ?? 0;
            }

            if (L2Entry.IsCompressed(old) || L2Entry.HasHostCluster(old, false))
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                    $"{Path}: cannot write a compressed cluster at {offset}: the cluster is already allocated (only unallocated or zero clusters can be compressed into)");
            }

            byte[] input = ArrayPool<byte>.Shared.Rent(clusterSize);
            byte[] output = ArrayPool<byte>.Shared.Rent(clusterSize);
            try
            {
                cluster.CopyTo(input);
                input.AsSpan(cluster.Length, clusterSize - cluster.Length).Clear();

                // Stored compressed only when it saves at least a byte, as QEMU decides.
                int size = ClusterCompressor.Compress(Header.CompressionType, input.AsSpan(0, clusterSize), output.AsSpan(0, clusterSize - 1));
                if (size < 0)
                {
                    WriteCluster(offset, cluster);
                    return;
                }

                long host;
                lock (_meta)
                {
                    MarkDirty();
                    // The table must be ours before the data lands, as for any allocating write.
                    WritableL2(l1Index);
                    host = _refcounts!.AllocateBytes(size);
                }

                WritePayload(host, output.AsSpan(0, size));
                // A cluster once compressed at this host offset and since freed may still be in the cache.
                _decompressed.Remove(host);

                lock (_meta)
                {
                    var table = _map.GetL2(l1Index)
                        ?? throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L2 table vanished during a write");
                    ulong current = table.Words[word];
                    // Entry first, then the bitmap: a compressed entry reads the same whatever its bitmap says.
                    Volatile.Write(ref table.Words[word], new CompressedDescriptor(host, size).Encode(g.ClusterBits));
                    if (g.Extended)
                    {
                        Volatile.Write(ref table.Words[word + 1], 0);
                    }

                    table.Dirty = true;
                    Release(current);
                    FlushIfCacheFull();
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(input);
                ArrayPool<byte>.Shared.Return(output);
            }
        }
    }
}
