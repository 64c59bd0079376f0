using System.Buffers;
using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// Storing one cluster compressed (<see cref="WriteCompressed"/>), under the write path's rules: stripe lock per
/// guest cluster, metadata under <see cref="_meta"/>, data before the tables that point at it, overlap check
/// before every host write. Bulk compressed writes for a new image are in <c>Qcow2Image.Bulk.cs</c>.
/// </summary>
public sealed partial class Qcow2Image
{
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
