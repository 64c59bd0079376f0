using System.Buffers;
using Qcow2Mount.Qcow2.Caching;
using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Crypto;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// The read path: the mapping says what a guest range is (data at a host offset, zeros, the backing disk's, a
/// compressed cluster), and the bytes come from the host file, the cipher, the backing disk or the decompressed
/// cluster cache. Also the zero-copy mapping (<see cref="TryMapRead"/>) and block status for copies.
/// </summary>
public sealed partial class Qcow2Image
{
    private readonly DecompressedClusterCache _decompressed;
    private readonly SectorCipher? _cipher;

    /// <inheritdoc/>
    public int ReadAt(long offset, Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: negative offset {offset}");
        }

        if (offset >= Length)
        {
            return 0;
        }

        int total = (int)Math.Min(buffer.Length, Length - offset);
        var remaining = buffer[..total];
        long guest = offset;
        while (!remaining.IsEmpty)
        {
            var extent = _map.Lookup(guest, remaining.Length);
            var part = remaining[..extent.Length];
            switch (extent.Kind)
            {
                case ClusterKind.Normal when Encryption is not null:
                    ReadEncrypted(extent.HostOffset, guest, part);
                    break;
                case ClusterKind.Normal:
                    ReadHost(extent.HostOffset, part);
                    break;
                case ClusterKind.Zero:
                    part.Clear();
                    break;
                case ClusterKind.Unallocated:
                    ReadBacking(guest, part);
                    break;
                case ClusterKind.Compressed:
                    ReadCompressed(extent.Compressed, (int)_geometry.OffsetInCluster(guest), part);
                    break;
                default:
                    throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: invalid mapping at guest offset 0x{guest:x}");
            }

            guest += extent.Length;
            remaining = remaining[extent.Length..];
        }

        return total;
    }

    /// <inheritdoc/>
    public bool TryMapRead(long offset, int length, Span<HostSegment> segments, out int count)
    {
        count = 0;
        // Encrypted data must pass through the cipher: no host ranges to hand out.
        if (_disposed || Options.Writable || CanWrite || Encryption is not null || offset < 0 || length <= 0 || offset > Length - length)
        {
            return false;
        }

        long guest = offset;
        long end = offset + length;
        while (guest < end)
        {
            var extent = _map.Lookup(guest, (int)(end - guest));
            bool mapped = extent.Kind switch
            {
                // Only bytes inside the host file: past its end QEMU reads zeros, or the image is corrupt, which
                // the copying read path reports.
                ClusterKind.Normal => _dataFile is HostFile host && extent.HostOffset >= 0
                    && extent.HostOffset <= host.Length - extent.Length
                    && HostSegments.Append(segments, ref count, new HostSegment(host.Handle, extent.HostOffset, extent.Length)),
                ClusterKind.Zero => HostSegments.Append(segments, ref count, new HostSegment(null, 0, extent.Length)),
                ClusterKind.Unallocated => MapBacking(guest, extent.Length, segments, ref count),
                _ => false,
            };
            if (!mapped)
            {
                return false;
            }

            guest += extent.Length;
        }

        return true;
    }

    private bool MapBacking(long guest, int length, Span<HostSegment> segments, ref int count)
    {
        long inside = _backing is null ? 0 : Math.Clamp(_backing.Length - guest, 0, length);
        if (inside > 0)
        {
            if (_backing is not IHostMappedDisk backing
                || !backing.TryMapRead(guest, (int)inside, segments[count..], out int added))
            {
                return false;
            }

            HostSegments.MergeAt(segments, ref count, added);
        }

        return inside == length || HostSegments.Append(segments, ref count, new HostSegment(null, 0, (int)(length - inside)));
    }

    /// <summary>
    /// Block status, as qemu-img convert uses it: whether the guest range at <paramref name="offset"/> reads as
    /// zeros by the metadata alone (zero clusters, unallocated with nothing behind), and how far that answer holds
    /// (at most <paramref name="maxLength"/>). Lets a copy skip zero ranges without reading them.
    /// </summary>
    public (bool KnownZero, long Length) GetBlockStatus(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || offset >= Length || maxLength <= 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: block status at {offset} (+{maxLength}) lies outside the disk");
        }

        long end = offset + Math.Min(maxLength, Length - offset);
        bool? known = null;
        long guest = offset;
        while (guest < end)
        {
            var extent = _map.Lookup(guest, (int)Math.Min(end - guest, 1 << 30));
            long length = extent.Length;
            bool zero = extent.Kind switch
            {
                ClusterKind.Zero => true,
                ClusterKind.Unallocated when _backing is null => true,
                ClusterKind.Unallocated when _backing is Qcow2Image backing && guest < backing.Length =>
                    BackingStatus(backing, guest, ref length),
                ClusterKind.Unallocated => guest >= _backing!.Length,
                _ => false,
            };
            known ??= zero;
            if (zero != known)
            {
                break;
            }

            guest += length;
        }

        return (known ?? false, guest - offset);
    }

    private static bool BackingStatus(Qcow2Image backing, long guest, ref long length)
    {
        var (zero, n) = backing.GetBlockStatus(guest, length);
        length = n;
        return zero;
    }

    private void ReadHost(long host, Span<byte> destination)
    {
        int n = _dataFile.ReadAt(host, destination);
        if (n < destination.Length)
        {
            if (n == 0 && ReferenceEquals(_dataFile, _file) && host >= _file.Length)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: data cluster at 0x{host:x} lies past the end of the image");
            }

            // Past the end of a shorter data file (or a partly written last cluster): zeros, as QEMU reads it.
            destination[n..].Clear();
        }
    }

    /// <summary>
    /// Reads and decrypts the whole 512-byte sectors around <paramref name="destination"/>: LUKS counts IVs in host
    /// sectors, legacy AES in guest sectors (the two are aligned alike, clusters being whole sectors).
    /// </summary>
    private void ReadEncrypted(long host, long guest, Span<byte> destination)
    {
        var cipher = _cipher ?? throw new Qcow2Exception(Qcow2ErrorCode.Password, $"{Path}: image is encrypted and was opened without its password");
        const int Sector = SectorCipher.SectorSize;
        int lead = (int)(host % Sector);
        int length = (lead + destination.Length + Sector - 1) / Sector * Sector;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var sectors = buffer.AsSpan(0, length);
            ReadHost(host - lead, sectors);
            cipher.Decrypt(((Encryption!.UsesHostSectors ? host : guest) - lead) / Sector, sectors);
            sectors.Slice(lead, destination.Length).CopyTo(destination);
            sectors.Clear();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void ReadBacking(long guest, Span<byte> destination)
    {
        if (_backing is null)
        {
            destination.Clear();
            return;
        }

        int n = _backing.ReadAt(guest, destination);
        destination[n..].Clear();
    }

    private void ReadCompressed(CompressedDescriptor descriptor, int offsetInCluster, Span<byte> destination)
    {
        if (destination.Length == _geometry.ClusterSize)
        {
            // The whole cluster is wanted (convert, large mount reads): inflate straight into the caller's buffer.
            // Caching it would only copy a cluster nobody asks for again soon.
            DecompressInto(descriptor, destination);
            return;
        }

        if (_decompressed.TryRead(descriptor.HostOffset, offsetInCluster, destination, out int cachedLength))
        {
            return;
        }

        // A miss inflates into this thread's scratch cluster. Deflate can stop as soon as the wanted bytes are
        // out, which halves the average cost of a small random read; a second miss on the same cluster (the
        // cached prefix was too short) inflates all of it, so reading a cluster piece by piece costs at most
        // two inflates. zstd decodes whole blocks (a qcow2 cluster is one block), so it always inflates it all.
        int end = offsetInCluster + destination.Length;
        int wanted = Header.CompressionType == CompressionType.Deflate && cachedLength == 0
            ? Math.Min(_geometry.ClusterSize, (end + 4095) & ~4095)
            : _geometry.ClusterSize;
        var scratch = t_scratch is { } buffer && buffer.Length >= _geometry.ClusterSize
            ? buffer
            : t_scratch = GC.AllocateUninitializedArray<byte>(_geometry.ClusterSize);
        DecompressInto(descriptor, scratch.AsSpan(0, wanted), partial: wanted < _geometry.ClusterSize);
        scratch.AsSpan(offsetInCluster, destination.Length).CopyTo(destination);
        _decompressed.Store(descriptor.HostOffset, scratch.AsSpan(0, wanted));
    }

    [ThreadStatic]
    private static byte[]? t_scratch;

    /// <summary>
    /// Inflates the compressed cluster into <paramref name="cluster"/>: all of it, or with <paramref name="partial"/>
    /// only its first <paramref name="cluster"/>.Length bytes.
    /// </summary>
    private void DecompressInto(CompressedDescriptor descriptor, Span<byte> cluster, bool partial = false)
    {
        if (descriptor.HostOffset <= 0 || descriptor.HostOffset >= _file.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{Path}: compressed cluster at 0x{descriptor.HostOffset:x} lies outside the image");
        }

        byte[] source = ArrayPool<byte>.Shared.Rent(descriptor.Size);
        try
        {
            int n = _file.ReadAt(descriptor.HostOffset, source.AsSpan(0, descriptor.Size));
            try
            {
                ClusterDecompressor.Decompress(Header.CompressionType, source.AsSpan(0, n), cluster, partial);
            }
            catch (Qcow2Exception e)
            {
                throw new Qcow2Exception(e.Code, $"{Path}: {e.Message} (host offset 0x{descriptor.HostOffset:x})", e);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(source);
        }
    }
}
