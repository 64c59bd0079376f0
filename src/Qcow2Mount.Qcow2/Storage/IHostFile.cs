namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// A host file with positional I/O only: no shared position, so any number of threads may read at once.
/// The crash tests put a fault-injecting implementation behind this interface.
/// </summary>
public interface IHostFile : IDisposable
{
    string Path { get; }
    bool CanWrite { get; }
    long Length { get; }

    /// <summary>Reads up to <c>buffer.Length</c> bytes; fewer only at end of file.</summary>
    int ReadAt(long offset, Span<byte> buffer);

    void WriteAt(long offset, ReadOnlySpan<byte> data);
    void SetLength(long length);

    /// <summary>Durable flush (fsync).</summary>
    void Flush();

    /// <summary>Deallocates host storage for the range where the OS supports it; contents then read as zeros.</summary>
    void PunchHole(long offset, long length);
}
