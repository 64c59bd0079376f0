using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// What one layer of a chain says about a run starting at an offset, before its backing is asked (QEMU's
/// per-driver block status): data stored here, zeros decided here, or neither (look further down).
/// </summary>
internal readonly record struct LayerStatus(long Length, bool Data, bool Zero, bool Compressed, long? Offset, IHostFile? File)
{
    public bool Allocated => Data || Zero;

    public static LayerStatus Unallocated(long length) => new(length, false, false, false, null, null);

    /// <summary>
    /// A qcow2 data cluster at <paramref name="offset"/> of <paramref name="file"/>, cut where the file's allocation
    /// changes: a hole (or the part past the end) reads as zeros, which QEMU reports as zero and data at once.
    /// </summary>
    public static LayerStatus Stored(IHostFile file, long offset, long length)
    {
        var (isData, run) = HostAllocation.Query(file, offset, length);
        return new LayerStatus(run, Data: true, Zero: !isData, Compressed: false, offset, file);
    }

    /// <summary>A raw disk's bytes: data where the file has data, zeros (and no data) in its holes, as QEMU's file driver says.</summary>
    public static LayerStatus Raw(IHostFile file, long offset, long length)
    {
        var (isData, run) = HostAllocation.Query(file, offset, length);
        return new LayerStatus(run, Data: isData, Zero: !isData, Compressed: false, offset, file);
    }
}
