using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests.Doubles;

/// <summary>An in-memory <see cref="IVirtualDisk"/> that records what the volume asked of it.</summary>
internal sealed class MemoryDisk(byte[] data, bool canWrite = true) : IVirtualDisk
{
    private int _flushCount;
    private int _activeReads;
    private int _maxConcurrentReads;
    private int _largestRead;

    /// <summary>A disk of <paramref name="length"/> bytes of reproducible noise, so misplaced bytes show.</summary>
    public static MemoryDisk WithNoise(int length, bool canWrite = true, int seed = 1)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return new MemoryDisk(bytes, canWrite);
    }

    public byte[] Data => data;

    public long Length => data.Length;

    public bool CanWrite => canWrite;

    public int FlushCount => Volatile.Read(ref _flushCount);

    public bool IsDisposed { get; private set; }

    /// <summary>Most ReadAt calls seen running at the same time.</summary>
    public int MaxConcurrentReads => Volatile.Read(ref _maxConcurrentReads);

    /// <summary>Largest buffer a single ReadAt was asked to fill.</summary>
    public int LargestRead => Volatile.Read(ref _largestRead);

    /// <summary>Time each ReadAt takes, to make overlapping requests observable.</summary>
    public TimeSpan ReadDelay { get; set; }

    /// <summary>Thrown by every ReadAt when set.</summary>
    public Exception? ReadFailure { get; set; }

    /// <summary>Thrown by Flush when set.</summary>
    public Exception? FlushFailure { get; set; }

    /// <summary>When set, Flush signals <see cref="FlushStarted"/> and then waits for this before finishing.</summary>
    public ManualResetEventSlim? FlushGate { get; set; }

    public ManualResetEventSlim FlushStarted { get; } = new();

    public int ReadAt(long offset, Span<byte> buffer)
    {
        int active = Interlocked.Increment(ref _activeReads);
        try
        {
            RaiseTo(ref _maxConcurrentReads, active);
            RaiseTo(ref _largestRead, buffer.Length);
            if (ReadDelay > TimeSpan.Zero)
            {
                Thread.Sleep(ReadDelay);
            }

            if (ReadFailure is { } failure)
            {
                throw failure;
            }

            if (offset >= data.Length)
            {
                return 0;
            }

            int count = (int)Math.Min(buffer.Length, data.Length - offset);
            data.AsSpan((int)offset, count).CopyTo(buffer);
            return count;
        }
        finally
        {
            Interlocked.Decrement(ref _activeReads);
        }
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> source)
    {
        CheckWrite(offset, source.Length);
        source.CopyTo(data.AsSpan((int)offset));
    }

    public void WriteZeroes(long offset, long length)
    {
        CheckWrite(offset, length);
        data.AsSpan((int)offset, (int)length).Clear();
    }

    public void Discard(long offset, long length) => WriteZeroes(offset, length);

    public void Flush()
    {
        Interlocked.Increment(ref _flushCount);
        FlushStarted.Set();
        FlushGate?.Wait(TimeSpan.FromSeconds(30));
        if (FlushFailure is { } failure)
        {
            throw failure;
        }
    }

    public void Dispose() => IsDisposed = true;

    private void CheckWrite(long offset, long length)
    {
        if (!canWrite)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.ReadOnly, "The memory disk is read-only.");
        }

        if (offset < 0 || length < 0 || offset + length > data.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"Write [{offset}, +{length}) is outside the disk.");
        }
    }

    private static void RaiseTo(ref int field, int value)
    {
        int seen = Volatile.Read(ref field);
        while (value > seen)
        {
            int previous = Interlocked.CompareExchange(ref field, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
