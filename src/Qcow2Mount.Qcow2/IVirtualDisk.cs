namespace Qcow2Mount.Qcow2;

/// <summary>
/// A guest-visible block device: the only thing the mount layer knows about the engine.
/// Implementations are safe for concurrent calls from many threads.
/// </summary>
public interface IVirtualDisk : IDisposable
{
    /// <summary>Guest size in bytes.</summary>
    long Length { get; }

    /// <summary>False for read-only opens, snapshot views and corrupt images.</summary>
    bool CanWrite { get; }

    /// <summary>
    /// Reads guest bytes at <paramref name="offset"/>. Reads past <see cref="Length"/> are cut short;
    /// returns the number of bytes read (0 at or past the end).
    /// </summary>
    int ReadAt(long offset, Span<byte> buffer);

    /// <summary>Writes guest bytes; the range must lie inside <see cref="Length"/>.</summary>
    void WriteAt(long offset, ReadOnlySpan<byte> data);

    /// <summary>Makes the range read as zeros without (necessarily) storing zero bytes.</summary>
    void WriteZeroes(long offset, long length);

    /// <summary>Tells the disk the range's contents are no longer needed; it then reads as zeros.</summary>
    void Discard(long offset, long length);

    /// <summary>Makes every completed write durable (metadata in order, then fsync).</summary>
    void Flush();
}
