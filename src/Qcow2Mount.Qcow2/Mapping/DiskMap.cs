using Qcow2Mount.Qcow2.Backing;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// <c>qemu-img map</c>: how each run of a disk's guest bytes is stored, walking the backing chain as QEMU's
/// get_block_status does, with runs merged as qemu-img merges them. Reads metadata only (and asks the host file
/// system where its holes are); never reads guest data.
/// </summary>
public static class DiskMap
{
    /// <summary>
    /// The map of <paramref name="disk"/> from <paramref name="start"/> for <paramref name="length"/> bytes (to the
    /// end by default), merged. Streams: memory stays bounded whatever the disk's size.
    /// </summary>
    public static IEnumerable<MapEntry> Map(IVirtualDisk disk, long start = 0, long? length = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(disk);
        long end = length is { } l ? Math.Min(disk.Length, start + l) : disk.Length;
        if (start < 0 || start > disk.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"map start {start} lies outside the disk of {disk.Length} bytes");
        }

        return Merge(Runs(disk, start, end, cancellationToken));
    }

    /// <summary>The unmerged runs, one block-status answer each.</summary>
    internal static IEnumerable<MapEntry> Runs(IVirtualDisk disk, long start, long end, CancellationToken cancellationToken)
    {
        long offset = start;
        while (offset < end)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = BlockStatus(disk, offset, end - offset);
            yield return entry;
            offset += entry.Length;
        }
    }

    private static IEnumerable<MapEntry> Merge(IEnumerable<MapEntry> runs)
    {
        MapEntry? pending = null;
        foreach (var run in runs)
        {
            if (pending is { } current && current.CanMergeWith(run))
            {
                pending = current with { Length = current.Length + run.Length };
                continue;
            }

            if (pending is { } done)
            {
                yield return done;
            }

            pending = run;
        }

        if (pending is { } last)
        {
            yield return last;
        }
    }

    /// <summary>
    /// One run from <paramref name="offset"/>: the first layer that holds it decides (its depth, data, zero, offset);
    /// unallocated all the way down, or past the end of the next backing disk, reads as zeros and is not present.
    /// </summary>
    internal static MapEntry BlockStatus(IVirtualDisk top, long offset, long length)
    {
        var disk = top;
        for (int depth = 0; ; depth++)
        {
            var status = LayerStatusOf(disk, offset, length);
            length = status.Length;
            if (status.Allocated)
            {
                return new MapEntry(offset, length, depth, Present: true, status.Zero, status.Data, status.Compressed, status.Offset,
                    status.Offset is null ? null : status.File?.Path);
            }

            var backing = (disk as Qcow2Image)?.Backing;
            if (backing is null || offset >= backing.Length)
            {
                // Zeros, decided here; an offset this layer named (an unallocated subcluster's cluster) still shows.
                return new MapEntry(offset, length, depth, Present: false, Zero: true, Data: false, Compressed: false, status.Offset, status.Offset is null ? null : status.File?.Path);
            }

            disk = backing;
        }
    }

    private static LayerStatus LayerStatusOf(IVirtualDisk disk, long offset, long length) => disk switch
    {
        Qcow2Image image => image.GetLayerStatus(offset, length),
        RawDisk raw => LayerStatus.Raw(raw.File, offset, Math.Min(length, raw.Length - offset)),
        // A disk of another kind says nothing about its layout: all data, no host offset.
        _ => new LayerStatus(Math.Min(length, disk.Length - offset), Data: true, Zero: false, Compressed: false, null, null),
    };
}
