using System.Collections.Concurrent;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Tests.Mapping;

/// <summary>A real host file that records every read (offset, length), to prove what a query did not read.</summary>
internal sealed class CountingHostFile(IHostFile inner) : IHostFile
{
    public ConcurrentQueue<(long Offset, int Length)> Reads { get; } = new();

    public string Path => inner.Path;
    public bool CanWrite => inner.CanWrite;
    public long Length => inner.Length;

    public int ReadAt(long offset, Span<byte> buffer)
    {
        Reads.Enqueue((offset, buffer.Length));
        return inner.ReadAt(offset, buffer);
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> data) => inner.WriteAt(offset, data);
    public void SetLength(long length) => inner.SetLength(length);
    public void Flush() => inner.Flush();
    public void PunchHole(long offset, long length) => inner.PunchHole(offset, length);
    public void Dispose() => inner.Dispose();

    /// <summary>Options whose opener wraps every host file in a counter, collected in <paramref name="files"/>.</summary>
    public static Qcow2OpenOptions Counting(ConcurrentBag<CountingHostFile> files) => new()
    {
        HostFileOpener = (path, writable) =>
        {
            var file = new CountingHostFile(HostFile.Open(path, writable));
            files.Add(file);
            return file;
        },
    };
}
