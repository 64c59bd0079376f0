using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;

namespace Qcow2Mount.Qcow2;

/// <summary>Block status of this layer alone, for <see cref="DiskMap"/> and <see cref="ViewDiff"/>.</summary>
public sealed partial class Qcow2Image
{
    /// <summary>
    /// What this image's own mapping says about guest bytes from <paramref name="offset"/> (at most
    /// <paramref name="maxLength"/>, inside the disk), without asking the backing file: QEMU's qcow2 block status.
    /// </summary>
    internal LayerStatus GetLayerStatus(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long wanted = Math.Min(maxLength, Length - offset);
        var extent = _map.Lookup(offset, (int)Math.Min(wanted, 1 << 30));
        switch (extent.Kind)
        {
            case ClusterKind.Normal when Encryption is not null:
                // Encrypted bytes have no plain host offset; QEMU reports data without one.
                return new LayerStatus(extent.Length, Data: true, Zero: false, Compressed: false, null, null);
            case ClusterKind.Normal when LooksMetadataPreallocated():
                return LayerStatus.Stored(_dataFile, extent.HostOffset, extent.Length);
            case ClusterKind.Normal:
                return new LayerStatus(extent.Length, Data: true, Zero: false, Compressed: false, extent.HostOffset, _dataFile);
            case ClusterKind.Compressed:
                return new LayerStatus(extent.Length, Data: true, Zero: false, Compressed: true, null, null);
            case ClusterKind.Zero:
                return ZeroStatus(offset, extent.Length);
            case ClusterKind.Unallocated:
                return UnallocatedStatus(offset, extent.Length);
            default:
                throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: invalid mapping at guest offset 0x{offset:x}");
        }
    }

    /// <summary>
    /// QEMU asks the host file system for holes under data clusters only in images that look preallocated with
    /// metadata (qcow2_detect_metadata_preallocation: the file spans clearly more clusters than the host stores);
    /// there a data cluster over a hole reads as zeros. Decided once per image, as QEMU does.
    /// </summary>
    private bool LooksMetadataPreallocated()
    {
        if (_metadataPreallocated is { } known)
        {
            return known;
        }

        long realClusters = HostAllocation.AllocatedBytes(_file) / _geometry.ClusterSize;
        long threshold = Math.Max(realClusters * 10 / 9, realClusters + 2);
        // QEMU counts clusters with a non-zero refcount up to the file's end; a file qemu wrote has (almost) no
        // unreferenced clusters, so the file's length in clusters stands in for that count.
        long fileClusters = (_file.Length + _geometry.ClusterSize - 1) / _geometry.ClusterSize;
        bool result = fileClusters >= threshold;
        _metadataPreallocated = result;
        return result;
    }

    private bool? _metadataPreallocated;

    /// <summary>
    /// Unallocated here. With extended L2 an unallocated subcluster may lie in an allocated cluster: QEMU still
    /// names that cluster's host offset (it shows when nothing below answers), one cluster at a time.
    /// </summary>
    private LayerStatus UnallocatedStatus(long offset, long length)
    {
        if (!_geometry.Extended || Encryption is not null)
        {
            return LayerStatus.Unallocated(length);
        }

        var table = _map.GetL2(_geometry.L1Index(offset));
        ulong entry = table is null ? 0 : table.Words[_geometry.L2Index(offset) * 2];
        if (!L2Entry.HasHostCluster(entry, !ReferenceEquals(_dataFile, _file)))
        {
            return LayerStatus.Unallocated(length);
        }

        long inCluster = _geometry.OffsetInCluster(offset);
        long run = Math.Min(length, _geometry.ClusterSize - inCluster);
        return new LayerStatus(run, Data: false, Zero: false, Compressed: false, (long)L2Entry.HostOffset(entry) + inCluster, _dataFile);
    }

    /// <summary>
    /// A zero run: with a host cluster behind it (zero flag on an allocated entry) QEMU names its offset, one cluster
    /// at a time; without one, the whole run.
    /// </summary>
    private LayerStatus ZeroStatus(long offset, long length)
    {
        var table = _map.GetL2(_geometry.L1Index(offset));
        ulong entry = table is null ? 0 : table.Words[_geometry.L2Index(offset) * (_geometry.Extended ? 2 : 1)];
        bool hasDataFile = !ReferenceEquals(_dataFile, _file);
        if (!L2Entry.HasHostCluster(entry, hasDataFile) || Encryption is not null)
        {
            return new LayerStatus(length, Data: false, Zero: true, Compressed: false, null, null);
        }

        long inCluster = _geometry.OffsetInCluster(offset);
        long run = Math.Min(length, _geometry.ClusterSize - inCluster);
        return new LayerStatus(run, Data: false, Zero: true, Compressed: false, (long)L2Entry.HostOffset(entry) + inCluster, _dataFile);
    }

    /// <summary>
    /// The L2 table offset behind guest offset <paramref name="offset"/> and how far it reaches, or 0 when none is
    /// allocated: two views whose L1 entries name the same table map that whole span alike.
    /// </summary>
    internal (long TableOffset, long SpanEnd) GetL2TableOf(long offset)
    {
        long index = _geometry.L1Index(offset);
        long spanEnd = Math.Min(Length, (index + 1) * _geometry.L2Span);
        var l1 = _map.L1;
        return index < l1.Length ? ((long)L1Entry.L2Offset(Volatile.Read(ref l1[index])), spanEnd) : (0, spanEnd);
    }

    /// <summary>This image's own mapping of a run (no backing lookup, no I/O beyond metadata): see <see cref="ClusterMap.Lookup"/>.</summary>
    internal Extent LookupExtent(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _map.Lookup(offset, (int)Math.Min(Math.Min(maxLength, Length - offset), 1 << 30));
    }

    /// <summary>The host file data clusters live in (the image, or its external data file).</summary>
    internal Storage.IHostFile DataHostFile => _dataFile;
}
