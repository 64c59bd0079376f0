using System.Buffers;
using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>Which view of an image a diff side is: the active layer, an internal snapshot, or the backing disk.</summary>
public abstract record DiffView
{
    public static DiffView Active { get; } = new ActiveView();
    public static DiffView Backing { get; } = new BackingView();

    public static DiffView Snapshot(string idOrName) => new SnapshotView(idOrName);

    /// <summary>"active", "backing", or anything else as a snapshot's id or name (the words a command line takes).</summary>
    public static DiffView Parse(string text) => text switch
    {
        "active" => Active,
        "backing" => Backing,
        _ => Snapshot(text),
    };

    public sealed record ActiveView : DiffView
    {
        public override string ToString() => "active";
    }

    public sealed record BackingView : DiffView
    {
        public override string ToString() => "backing";
    }

    public sealed record SnapshotView(string IdOrName) : DiffView
    {
        public override string ToString() => $"snapshot '{IdOrName}'";
    }
}

/// <summary>A run of guest bytes that differs between the two views.</summary>
public readonly record struct DiffRange(long Start, long Length)
{
    public long End => Start + Length;
}

/// <summary>
/// The guest ranges (in 512-byte sectors, merged) that differ between two views, and what it cost to find them:
/// <see cref="CandidateBytes"/> had different mappings and were read to confirm; everything else was settled by
/// metadata alone. <see cref="SizeChanged"/> views differ in size; ranges cover only their common length.
/// </summary>
public sealed record DiffResult(long FromLength, long ToLength, IReadOnlyList<DiffRange> Ranges, long CandidateBytes)
{
    public bool SizeChanged => FromLength != ToLength;

    public bool Identical => Ranges.Count == 0 && !SizeChanged;

    public long DifferentBytes => Ranges.Sum(r => r.Length);
}

/// <summary>
/// What changed between two views of one image (snapshot and snapshot, snapshot and active, backing and active),
/// found from metadata first: views that share an L2 table share its whole span; clusters mapped to the same host
/// cluster, both zero, or both left to the same backing file are the same bytes. Only the rest (candidates) is
/// read, from both views, and compared, so unchanged data clusters are never read.
/// </summary>
public static class ViewDiff
{
    private const int Sector = 512;
    private const int ChunkBytes = 1 << 20;

    /// <summary>Opens the two views of the image at <paramref name="imagePath"/> read-only and diffs them.</summary>
    public static DiffResult Run(string imagePath, DiffView from, DiffView to, Qcow2OpenOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        options = (options ?? new Qcow2OpenOptions()) with { Writable = false, Snapshot = null };
        var opened = new List<IDisposable>();
        try
        {
            IVirtualDisk Open(DiffView view)
            {
                var image = Qcow2Image.Open(imagePath, view is DiffView.SnapshotView s ? options with { Snapshot = s.IdOrName } : options);
                opened.Add(image);
                if (view is not DiffView.BackingView)
                {
                    return image;
                }

                return image.Backing ?? throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{imagePath}: the image has no backing file");
            }

            // With the backing on one side, the other side's own backing is that very disk: its unallocated clusters match it.
            if (from is DiffView.BackingView && to is not DiffView.BackingView)
            {
                var toDisk = Open(to);
                return Diff(((Qcow2Image)toDisk).Backing ?? throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{imagePath}: the image has no backing file"), toDisk, cancellationToken);
            }

            if (to is DiffView.BackingView && from is not DiffView.BackingView)
            {
                var fromDisk = Open(from);
                return Diff(fromDisk, ((Qcow2Image)fromDisk).Backing ?? throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{imagePath}: the image has no backing file"), cancellationToken);
            }

            return Diff(Open(from), Open(to), cancellationToken);
        }
        finally
        {
            foreach (var disk in opened)
            {
                disk.Dispose();
            }
        }
    }

    /// <summary>
    /// Diffs two open disks. Metadata decides where it can: two views of the same image file, or an image and its
    /// own backing disk; any other pair is compared by content throughout.
    /// </summary>
    public static DiffResult Diff(IVirtualDisk from, IVirtualDisk to, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(from);
        ArgumentNullException.ThrowIfNull(to);
        var ranges = new RangeBuilder();
        long common = Math.Min(from.Length, to.Length);
        long candidates = 0;
        byte[] a = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        byte[] b = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            long offset = 0;
            while (offset < common)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (same, length) = Settle(from, to, offset, common - offset);
                if (!same)
                {
                    candidates += length;
                    ConfirmByContent(from, to, offset, length, a, b, ranges, cancellationToken);
                }

                offset += length;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }

        return new DiffResult(from.Length, to.Length, ranges.Ranges, candidates);
    }

    /// <summary>
    /// Whether the run at <paramref name="offset"/> is the same in both views by metadata alone (true), or must be
    /// read (false), and how long that answer holds.
    /// </summary>
    private static (bool Same, long Length) Settle(IVirtualDisk from, IVirtualDisk to, long offset, long maxLength)
    {
        if (from is Qcow2Image x && to is Qcow2Image y && SameFile(x, y))
        {
            return SettleSameImage(x, y, offset, maxLength);
        }

        if (to is Qcow2Image top && IsBackingOf(from, top))
        {
            return SettleOverBacking(top, offset, maxLength);
        }

        if (from is Qcow2Image top2 && IsBackingOf(to, top2))
        {
            return SettleOverBacking(top2, offset, maxLength);
        }

        return (false, Math.Min(maxLength, ChunkBytes));
    }

    private static (bool Same, long Length) SettleSameImage(Qcow2Image x, Qcow2Image y, long offset, long maxLength)
    {
        var (tableX, spanEnd) = x.GetL2TableOf(offset);
        var (tableY, _) = y.GetL2TableOf(offset);
        long inSpan = Math.Min(maxLength, spanEnd - offset);
        if (tableX == tableY && tableX != 0)
        {
            return (true, inSpan); // one L2 table maps the span for both: identical by construction
        }

        var ex = x.LookupExtent(offset, inSpan);
        var ey = y.LookupExtent(offset, inSpan);
        long length = Math.Min(ex.Length, ey.Length);
        bool same = ex.Kind == ey.Kind && ex.Kind switch
        {
            ClusterKind.Normal => ex.HostOffset == ey.HostOffset,
            ClusterKind.Compressed => ex.Compressed == ey.Compressed,
            // Both zeros, or both read from the image's one backing file at the same offset.
            ClusterKind.Zero or ClusterKind.Unallocated => true,
            _ => false,
        };
        return (same, length);
    }

    /// <summary>An image over its own backing disk: what the image leaves unallocated is the backing's bytes.</summary>
    private static (bool Same, long Length) SettleOverBacking(Qcow2Image top, long offset, long maxLength)
    {
        var (table, spanEnd) = top.GetL2TableOf(offset);
        long inSpan = Math.Min(maxLength, spanEnd - offset);
        if (table == 0)
        {
            return (true, inSpan);
        }

        var extent = top.LookupExtent(offset, inSpan);
        return (extent.Kind == ClusterKind.Unallocated, extent.Length);
    }

    private static bool SameFile(Qcow2Image x, Qcow2Image y) =>
        string.Equals(Path.GetFullPath(x.Path), Path.GetFullPath(y.Path), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)
        && x.BackingFile == y.BackingFile;

    private static bool IsBackingOf(IVirtualDisk candidate, Qcow2Image top) =>
        top.Backing is { } backing && (ReferenceEquals(backing, candidate)
            || (backing, candidate) switch
            {
#pragma warning disable CA1508 // Wrong: b and c are two images; c's snapshot view is not known from b's.
                (Qcow2Image b, Qcow2Image c) => b.ViewedSnapshot is null && c.ViewedSnapshot is null && SameFile(b, c),
#pragma warning restore CA1508
                (RawDisk b, RawDisk c) => string.Equals(Path.GetFullPath(b.Path), Path.GetFullPath(c.Path), StringComparison.Ordinal),
                _ => false,
            });

    private static void ConfirmByContent(IVirtualDisk from, IVirtualDisk to, long offset, long length, byte[] a, byte[] b,
        RangeBuilder ranges, CancellationToken cancellationToken)
    {
        long end = offset + length;
        for (long at = offset; at < end; at += ChunkBytes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = (int)Math.Min(ChunkBytes, end - at);
            var x = a.AsSpan(0, count);
            var y = b.AsSpan(0, count);
            ImageCompare.ReadFully(from, at, x);
            ImageCompare.ReadFully(to, at, y);
            for (int sector = 0; sector < count; sector += Sector)
            {
                int size = Math.Min(Sector, count - sector);
                if (!x.Slice(sector, size).SequenceEqual(y.Slice(sector, size)))
                {
                    ranges.Add(at + sector, size);
                }
            }
        }
    }

    /// <summary>Collects differing sectors into merged ranges.</summary>
    private sealed class RangeBuilder
    {
        public List<DiffRange> Ranges { get; } = [];

        public void Add(long start, long length)
        {
            if (Ranges.Count > 0 && Ranges[^1].End == start)
            {
                Ranges[^1] = Ranges[^1] with { Length = Ranges[^1].Length + length };
                return;
            }

            Ranges.Add(new DiffRange(start, length));
        }
    }
}
