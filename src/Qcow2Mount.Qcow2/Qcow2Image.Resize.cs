using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Refcounts;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// Growing the disk, moving the L1 table to a larger one when needed. It follows the write path's rules (metadata
/// under <see cref="_meta"/>, data before the tables that point at it, overlap check before every host write).
/// </summary>
public sealed partial class Qcow2Image
{
    /// <summary>QEMU's limit on the L1 table (QCOW_MAX_L1_SIZE).</summary>
    private const long MaxL1Bytes = (long)L1Entry.MaxTableEntries * PointerTable.EntrySize;

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
}
