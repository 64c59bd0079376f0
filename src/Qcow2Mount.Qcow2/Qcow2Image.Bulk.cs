using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// Bulk writes for filling a new image (convert): runs of whole clusters that hold nothing yet, so there is never
/// old content to copy or release. A run is allocated with one refcount update per cluster but one pass over the
/// free space, written with one call per contiguous host range, and linked under one metadata lock per L2 table,
/// where <see cref="WriteAt"/> allocates, writes and links each cluster on its own.
/// <para>
/// These calls take no stripe locks: the caller must not write the same guest clusters from another thread at the
/// same time. A cluster found allocated when its entry is linked fails the call rather than lose either write.
/// </para>
/// </summary>
public sealed partial class Qcow2Image
{
    /// <summary>
    /// Compresses one whole cluster the way <see cref="WriteCompressedClusters"/> stores it (the image's compression
    /// type; zero-padded by the caller when the disk's last cluster is short). Thread-safe, so a caller can compress
    /// on many threads and write in order on one. Returns the compressed length, or -1 when compressing does not
    /// save at least a byte (QEMU then stores the cluster uncompressed).
    /// </summary>
    public int CompressCluster(ReadOnlySpan<byte> cluster, Span<byte> destination)
    {
        if (cluster.Length != _geometry.ClusterSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: a cluster to compress must be {_geometry.ClusterSize} bytes, got {cluster.Length}");
        }

        var output = destination[..Math.Min(destination.Length, _geometry.ClusterSize - 1)];
        return ClusterCompressor.Compress(Header.CompressionType, cluster, output);
    }

    /// <summary>
    /// Stores whole clusters of data at cluster-aligned <paramref name="offset"/> into clusters that are unallocated
    /// or read as zeros (not compressed, not allocated). <paramref name="data"/> is a multiple of the cluster size;
    /// when the disk ends inside the last cluster, that cluster is passed whole, padded with zeros.
    /// </summary>
    public void WriteNewClusters(long offset, ReadOnlySpan<byte> data)
    {
        CheckClusterRun(offset, data.Length / _geometry.ClusterSize, data.Length % _geometry.ClusterSize != 0);
        if (HasDataFile)
        {
            // Guest clusters map 1:1 into the data file: nothing to allocate, the general path is as fast.
            WriteAt(offset, data[..(int)Math.Min(data.Length, Length - offset)]);
            return;
        }

        var g = _geometry;
        while (!data.IsEmpty)
        {
            long l1Index = g.L1Index(offset);
            int first = g.L2Index(offset);
            int wanted = Math.Min(data.Length >> g.ClusterBits, g.L2Entries - first);
            long host;
            int count;
            lock (_meta)
            {
                MarkDirty();
                var table = WritableL2(l1Index);
                RequireEmpty(table.Words, first, wanted, offset);
                // As many clusters as lie free in one run: the run ends early at a cluster in use.
                host = _refcounts!.AllocateRun(wanted, out count);
            }

            var part = data[..(count << g.ClusterBits)];
            WriteData(host, offset, part);

            lock (_meta)
            {
                var table = _map.GetL2(l1Index)
                    ?? throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L2 table vanished during a write");
                Pin(table);
                RequireEmpty(table.Words, first, count, offset);
                for (int i = 0; i < count; i++)
                {
                    long at = host + ((long)i << g.ClusterBits);
                    if (g.Extended)
                    {
                        // Entry first, then the bitmap (every subcluster allocated, none reading as zeros).
                        Volatile.Write(ref table.Words[(first + i) * 2], (ulong)at | L2Entry.Copied);
                        Volatile.Write(ref table.Words[((first + i) * 2) + 1], uint.MaxValue);
                    }
                    else
                    {
                        Volatile.Write(ref table.Words[first + i], (ulong)at | L2Entry.Copied);
                    }
                }

                FlushIfCacheFull();
            }

            offset += part.Length;
            data = data[part.Length..];
        }
    }

    /// <summary>
    /// Stores consecutive clusters, already compressed with <see cref="CompressCluster"/>, starting at
    /// cluster-aligned <paramref name="offset"/>: cluster i's payload is the next <c>sizes[i]</c> bytes of
    /// <paramref name="payloads"/>. The payloads are packed byte by byte as <see cref="WriteCompressed"/> packs them,
    /// and written with one call per contiguous host range. The clusters must be unallocated or read as zeros.
    /// </summary>
    public void WriteCompressedClusters(long offset, ReadOnlySpan<byte> payloads, ReadOnlySpan<int> sizes)
    {
        var g = _geometry;
        CheckClusterRun(offset, sizes.Length, lastPartial: false);
        RefuseCompressedWrites();

        long total = 0;
        foreach (int size in sizes)
        {
            if (size <= 0 || size >= g.ClusterSize)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                    $"{Path}: a compressed cluster takes 1..{g.ClusterSize - 1} bytes, got {size}");
            }

            total += size;
        }

        if (total != payloads.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: compressed sizes add up to {total} bytes, but {payloads.Length} were given");
        }

        int stackCount = Math.Min(sizes.Length, g.L2Entries);
        Span<long> hosts = stackCount <= 256 ? stackalloc long[stackCount] : new long[stackCount];
        while (!sizes.IsEmpty)
        {
            long l1Index = g.L1Index(offset);
            int first = g.L2Index(offset);
            int count = Math.Min(sizes.Length, g.L2Entries - first);
            lock (_meta)
            {
                MarkDirty();
                // The table must be ours before the data lands, as for any allocating write.
                var table = WritableL2(l1Index);
                RequireEmpty(table.Words, first, count, offset);
                for (int i = 0; i < count; i++)
                {
                    hosts[i] = _refcounts!.AllocateBytes(sizes[i]);
                }
            }

            // Consecutive payloads usually land back to back: one write per contiguous host range.
            int payloadStart = 0;
            for (int i = 0, runStart = 0, runBytes = 0; i < count; i++)
            {
                runBytes += sizes[i];
                _decompressed.Remove(hosts[i]);
                if (i + 1 == count || hosts[i + 1] != hosts[i] + sizes[i])
                {
                    WritePayload(hosts[runStart], payloads.Slice(payloadStart, runBytes));
                    payloadStart += runBytes;
                    runStart = i + 1;
                    runBytes = 0;
                }
            }

            lock (_meta)
            {
                var table = _map.GetL2(l1Index)
                    ?? throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: L2 table vanished during a write");
                Pin(table);
                RequireEmpty(table.Words, first, count, offset);
                for (int i = 0; i < count; i++)
                {
                    ulong entry = new CompressedDescriptor(hosts[i], sizes[i]).Encode(g.ClusterBits);
                    if (g.Extended)
                    {
                        // Compressed clusters have an empty bitmap; the entry alone decides how they read.
                        Volatile.Write(ref table.Words[(first + i) * 2], entry);
                        Volatile.Write(ref table.Words[((first + i) * 2) + 1], 0);
                    }
                    else
                    {
                        Volatile.Write(ref table.Words[first + i], entry);
                    }
                }

                FlushIfCacheFull();
            }

            offset += (long)count << g.ClusterBits;
            payloads = payloads[payloadStart..];
            sizes = sizes[count..];
        }
    }

    /// <summary>
    /// A run of <paramref name="clusters"/> whole clusters from cluster-aligned <paramref name="offset"/>; only the
    /// disk's last cluster may reach past its end.
    /// </summary>
    private void CheckClusterRun(long offset, int clusters, bool lastPartial)
    {
        var g = _geometry;
        if (clusters <= 0 || lastPartial || g.OffsetInCluster(offset) != 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: a bulk write takes whole clusters ({g.ClusterSize} bytes) at a cluster boundary, at {offset}");
        }

        long end = offset + ((long)clusters << g.ClusterBits);
        long lastClusterEnd = (Length + g.ClusterSize - 1) & ~(long)(g.ClusterSize - 1);
        CheckRange(offset, Math.Min(end, Length) - offset);
        if (end > lastClusterEnd)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"{Path}: range {offset}+{end - offset} lies outside the disk ({Length} bytes)");
        }
    }

    /// <summary>Fails unless the entries hold no data: the bulk writes never copy, free or share a cluster.</summary>
    private void RequireEmpty(ulong[] words, int first, int count, long offset)
    {
        int stride = _geometry.Extended ? 2 : 1;
        for (int i = 0; i < count; i++)
        {
            ulong entry = words[(first + i) * stride];
            if (L2Entry.IsCompressed(entry) || L2Entry.HasHostCluster(entry, false))
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                    $"{Path}: cannot bulk-write the cluster at {offset + ((long)i << _geometry.ClusterBits)}: it is already allocated");
            }
        }
    }
}
