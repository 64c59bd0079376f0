using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Conformance;

/// <summary>
/// Where the engine deliberately reads a corpus view differently from <c>qemu-img convert</c>, and why.
/// Everything else must match byte for byte and in length.
/// </summary>
internal static class ExpectedView
{
    /// <summary>
    /// <c>qemu-img convert -l snapshot.name=…</c> loads a snapshot's L1 but keeps the active layer's size
    /// (qcow2_snapshot_load_tmp does not resize), so a snapshot taken before a resize is read at the new size with
    /// a zero tail. The engine presents a snapshot at its own disk_size, as <c>qemu-img snapshot -a</c> restores it.
    /// </summary>
    private static readonly Dictionary<string, long> SnapshotSizes = new()
    {
        ["snap-resized@small"] = 4L << 20, // make-corpus.sh: snapshot 'small' of a 4 MiB disk, then grown to 6 MiB
    };

    /// <summary>The guest size the engine must report for the view.</summary>
    public static long Length(CorpusEntry e) => SnapshotSizes.TryGetValue(e.ViewName, out long size) ? size : e.VirtualSize;

    /// <summary>
    /// The disk's reads as the expected raw must see them: zero-extended to the raw's length when QEMU reads a
    /// longer view (<see cref="SnapshotSizes"/>), so the tail must be zeros and the rest equal.
    /// </summary>
    public static ReadAtCallback AsQemuReadsIt(CorpusEntry e, ReadAtCallback read, long diskLength) =>
        e.VirtualSize <= diskLength ? read : (offset, buffer) =>
        {
            int n = offset < diskLength ? read(offset, buffer[..(int)Math.Min(buffer.Length, diskLength - offset)]) : 0;
            int total = (int)Math.Min(buffer.Length, e.VirtualSize - offset);
            buffer[n..total].Clear();
            return total;
        };
}
