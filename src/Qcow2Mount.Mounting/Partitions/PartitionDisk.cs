using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Partitions;

/// <summary>
/// A window onto a whole disk: one partition's bytes as a disk of its own. Reads and writes never leave the
/// window; it writes only when the whole disk does. Does not own the whole disk (its volume does): disposing
/// the window leaves it open.
/// </summary>
public sealed class PartitionDisk : IVirtualDisk, IHostMappedDisk
{
    private readonly IVirtualDisk _whole;

    public PartitionDisk(IVirtualDisk whole, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(whole);
        if (offset < 0 || length < 0 || offset > whole.Length - length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), $"Window {offset}+{length} does not fit a disk of {whole.Length} bytes.");
        }

        _whole = whole;
        Offset = offset;
        Length = length;
    }

    /// <summary>Where the window starts on the whole disk.</summary>
    public long Offset { get; }

    public long Length { get; }

    public bool CanWrite => _whole.CanWrite;

    /// <summary>The disk this window looks onto.</summary>
    public IVirtualDisk Whole => _whole;

    public int ReadAt(long offset, Span<byte> buffer)
    {
        CheckOffset(offset);
        if (offset >= Length)
        {
            return 0;
        }

        int count = (int)Math.Min(buffer.Length, Length - offset);
        return _whole.ReadAt(Offset + offset, buffer[..count]);
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        _whole.WriteAt(Offset + offset, data);
    }

    public void WriteZeroes(long offset, long length)
    {
        CheckRange(offset, length);
        _whole.WriteZeroes(Offset + offset, length);
    }

    public void Discard(long offset, long length)
    {
        CheckRange(offset, length);
        _whole.Discard(Offset + offset, length);
    }

    public void Flush() => _whole.Flush();

    public bool TryMapRead(long offset, int length, Span<HostSegment> segments, out int count)
    {
        count = 0;
        return offset >= 0 && length >= 0 && offset <= Length - length
            && _whole is IHostMappedDisk mapped && mapped.TryMapRead(Offset + offset, length, segments, out count);
    }

    /// <summary>Nothing to release: the whole disk belongs to whoever made the window.</summary>
    public void Dispose()
    {
    }

    private static void CheckOffset(long offset)
    {
        if (offset < 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"negative offset {offset}");
        }
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > Length - length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"[{offset}, +{length}) lies outside the partition of {Length} bytes");
        }
    }
}
