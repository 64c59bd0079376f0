using System.Runtime.ExceptionServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>
/// Writes a disk's guest bytes to a raw file. Several workers take disjoint chunks in turn, so reading,
/// decompressing and writing overlap; all-zero blocks are skipped (left as holes) and the length is set at
/// the end, so the result is as sparse as the data allows. A qcow2 source is asked for block status first, so
/// ranges its metadata marks as zero (zero clusters, unallocated without backing) are skipped without reading,
/// as qemu-img convert does.
/// </summary>
internal sealed class RawConverter
{
    /// <summary>Zero runs shorter than this are written: qemu-img convert's default sparse granularity.</summary>
    public const int ZeroBlockSize = 4096;

    private readonly IVirtualDisk _source;
    private readonly SafeFileHandle _destination;
    private readonly int _chunkSize;
    private readonly long _chunkCount;
    private long _nextChunk = -1;
    private long _bytesDone;
    private Exception? _failure;

    public RawConverter(IVirtualDisk source, SafeFileHandle destination, int chunkSize)
    {
        if (chunkSize <= 0 || chunkSize % ZeroBlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), chunkSize, $"must be a positive multiple of {ZeroBlockSize}");
        }

        _source = source;
        _destination = destination;
        _chunkSize = chunkSize;
        _chunkCount = (source.Length + chunkSize - 1) / chunkSize;
    }

    private CancellationToken _cancellationToken;

    public long BytesDone => Interlocked.Read(ref _bytesDone);

    /// <summary>
    /// Copies everything; calls <paramref name="onProgress"/> from this thread every ~100 ms. Workers look at
    /// <paramref name="cancellationToken"/> before each chunk, so a cancel stops the copy within a chunk per worker.
    /// </summary>
    public void Run(int workers, Action<long>? onProgress = null, CancellationToken cancellationToken = default)
    {
        _cancellationToken = cancellationToken;
        var threads = new Thread[Math.Max(1, workers)];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(Work) { IsBackground = true, Name = $"convert-{i}" };
            threads[i].Start();
        }

        foreach (var thread in threads)
        {
            while (!thread.Join(100))
            {
                onProgress?.Invoke(BytesDone);
            }
        }

        if (_failure is not null)
        {
            ExceptionDispatchInfo.Throw(_failure);
        }

        // The last report comes before the last look at the token: a cancel made on any report is honoured.
        onProgress?.Invoke(BytesDone);
        cancellationToken.ThrowIfCancellationRequested();

        // Trailing zeros were never written: the length makes them a hole.
        RandomAccess.SetLength(_destination, _source.Length);
    }

    private void Work()
    {
        byte[] buffer = GC.AllocateUninitializedArray<byte>(_chunkSize);
        try
        {
            while (Volatile.Read(ref _failure) is null && !_cancellationToken.IsCancellationRequested)
            {
                long chunk = Interlocked.Increment(ref _nextChunk);
                if (chunk >= _chunkCount)
                {
                    return;
                }

                long offset = chunk * _chunkSize;
                int length = (int)Math.Min(_chunkSize, _source.Length - offset);
                CopyChunk(offset, buffer.AsSpan(0, length));
                Interlocked.Add(ref _bytesDone, length);
            }
        }
#pragma warning disable CA1031 // A worker thread's failure is kept and rethrown on the caller's thread.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.CompareExchange(ref _failure, e, null);
        }
    }

    private void CopyChunk(long offset, Span<byte> chunk)
    {
        if (_source is not Qcow2Image image)
        {
            DiskReads.ReadFully(_source, offset, chunk);
            WriteNonZeroRuns(offset, chunk);
            return;
        }

        int position = 0;
        while (position < chunk.Length)
        {
            var (knownZero, length) = image.GetBlockStatus(offset + position, chunk.Length - position);
            var run = chunk.Slice(position, (int)length);
            if (!knownZero)
            {
                DiskReads.ReadFully(_source, offset + position, run);
                WriteNonZeroRuns(offset + position, run);
            }

            position += run.Length;
        }
    }

    private void WriteNonZeroRuns(long offset, ReadOnlySpan<byte> data)
    {
        int position = 0;
        while (position < data.Length)
        {
            while (position < data.Length && IsZeroBlock(data, position))
            {
                position += ZeroBlockSize;
            }

            int start = position;
            while (position < data.Length && !IsZeroBlock(data, position))
            {
                position += ZeroBlockSize;
            }

            if (position > start)
            {
                int end = Math.Min(position, data.Length);
                RandomAccess.Write(_destination, data[start..end], offset + start);
            }
        }
    }

    private static bool IsZeroBlock(ReadOnlySpan<byte> data, int start) =>
        data.Slice(start, Math.Min(ZeroBlockSize, data.Length - start)).IndexOfAnyExcept((byte)0) < 0;
}
