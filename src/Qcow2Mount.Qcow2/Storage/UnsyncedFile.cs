namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// A host file whose <see cref="Flush"/> does nothing: QEMU's <c>cache=unsafe</c>, which qemu-img convert uses for
/// its target. Writes still reach the page cache in the usual order; only the wait for the disk is skipped.
/// </summary>
internal sealed class UnsyncedFile(IHostFile inner) : IHostFile
{
    public string Path => inner.Path;
    public bool CanWrite => inner.CanWrite;
    public long Length => inner.Length;

    public int ReadAt(long offset, Span<byte> buffer) => inner.ReadAt(offset, buffer);
    public void WriteAt(long offset, ReadOnlySpan<byte> data) => inner.WriteAt(offset, data);
    public void SetLength(long length) => inner.SetLength(length);

    public void Flush()
    {
    }

    public void PunchHole(long offset, long length) => inner.PunchHole(offset, length);
    public void Dispose() => inner.Dispose();
}
