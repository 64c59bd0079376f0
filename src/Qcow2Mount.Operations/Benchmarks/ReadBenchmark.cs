using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>What <c>bench</c> does: <c>qemu-img bench</c>'s read test parameters, plus random offsets.</summary>
/// <param name="Count">Requests to make in all.</param>
/// <param name="Depth">Requests in flight at once (queue depth).</param>
/// <param name="Offset">Guest offset of the first request.</param>
/// <param name="BufferSize">Bytes per request.</param>
/// <param name="StepSize">Distance between consecutive requests (sequential mode).</param>
/// <param name="Random">Pick each offset at random, aligned to the buffer size, instead of stepping.</param>
internal sealed record BenchPlan(long Count, int Depth, long Offset, int BufferSize, long StepSize, bool Random);

public sealed record BenchResult(long Requests, long Bytes, TimeSpan Elapsed)
{
    public double RequestsPerSecond => Requests / Math.Max(Elapsed.TotalSeconds, 1e-9);
    public double MegabytesPerSecond => Bytes / 1e6 / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>The first exception of a benchmark's request threads.</summary>
internal sealed class BenchFailure
{
    private Exception? _first;

    public bool Any => Volatile.Read(ref _first) is not null;

    public void Record(Exception exception) => Interlocked.CompareExchange(ref _first, exception, null);

    /// <summary>Stops the run when <paramref name="cancellationToken"/> fires, as a failure would: request threads look before each request.</summary>
    public CancellationTokenRegistration StopOn(CancellationToken cancellationToken) =>
        cancellationToken.Register(() => Record(new OperationCanceledException(cancellationToken)));

    public void ThrowIfAny()
    {
        if (Volatile.Read(ref _first) is { } first)
        {
            ExceptionDispatchInfo.Throw(first);
        }
    }
}

/// <summary>
/// Keeps <see cref="BenchPlan.Depth"/> reads in flight: one thread per slot, each taking the next request index
/// from a shared counter and reading synchronously into its own buffer, the way a queue of that depth behaves.
/// </summary>
internal static class ReadBenchmark
{
    private const int MinimumRandomAlignment = 512;

    public static BenchResult Run(IVirtualDisk disk, BenchPlan plan, CancellationToken cancellationToken = default)
    {
        long length = CheckFirstRequest(disk, plan);
        long next = -1;
        var failure = new BenchFailure();
        using var cancel = failure.StopOn(cancellationToken);
        var elapsed = RunThreads(plan, failure, prepare: null, (buffer, failure) =>
        {
            long index;
            while (!failure.Any && (index = Interlocked.Increment(ref next)) < plan.Count)
            {
                long offset = OffsetOf(index, plan, length);
                int n = disk.ReadAt(offset, buffer);
                if (n != buffer.Length)
                {
                    throw new Qcow2Exception(Qcow2ErrorCode.Io,
                        $"failed request: read at offset {offset} returned {n} of {buffer.Length} bytes");
                }
            }
        });
        return new BenchResult(plan.Count, plan.Count * plan.BufferSize, elapsed);
    }

    /// <summary>The disk's length, once the first request is known to fit in it.</summary>
    internal static long CheckFirstRequest(IVirtualDisk disk, BenchPlan plan)
    {
        long length = disk.Length;
        if (plan.Offset < 0 || plan.Offset > length - plan.BufferSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"offset {plan.Offset} + buffer size {plan.BufferSize} lies past the end of the image ({length} bytes)");
        }

        return length;
    }

    /// <summary>
    /// The harness both tests share: one thread per slot (at most one per request), each with its own buffer
    /// (<paramref name="prepare"/>d before the clock starts), running <paramref name="body"/> once all may issue
    /// requests. A body's exception is recorded in <paramref name="failure"/>, which bodies check to stop early;
    /// the first one is rethrown. Returns the time from the start signal until every slot is done.
    /// </summary>
    internal static TimeSpan RunThreads(BenchPlan plan, BenchFailure failure, Action<byte[]>? prepare, Action<byte[], BenchFailure> body)
    {
        using var start = new ManualResetEventSlim();
        var threads = new Thread[SlotCount(plan)];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(() =>
            {
                byte[] buffer = new byte[plan.BufferSize];
                prepare?.Invoke(buffer);
                start.Wait();
                try
                {
                    body(buffer, failure);
                }
#pragma warning disable CA1031 // A worker thread's failure is kept and rethrown on the caller's thread.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    failure.Record(e);
                }
            })
            { IsBackground = true, Name = $"bench-{i}" };
            threads[i].Start();
        }

        // Thread creation is not part of the measurement; the run starts when every slot may issue requests.
        var clock = Stopwatch.StartNew();
        start.Set();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        clock.Stop();
        failure.ThrowIfAny();
        return clock.Elapsed;
    }

    /// <summary>Threads <see cref="RunThreads"/> starts: the depth, but never more than there are requests.</summary>
    internal static int SlotCount(BenchPlan plan) => (int)Math.Clamp(plan.Count, 1, plan.Depth);

    /// <summary>
    /// Offset of request <paramref name="index"/>. Sequential: the first at the start offset, then one step further
    /// each time, wrapping so a request never runs past the end (modulo length - buffer size, as qemu-img bench).
    /// </summary>
    internal static long OffsetOf(long index, BenchPlan plan, long length)
    {
        long span = length - plan.BufferSize;
        if (plan.Random)
        {
            long alignment = Math.Max(plan.BufferSize, MinimumRandomAlignment);
#pragma warning disable CA5394 // Benchmark offsets only need to be spread out, not unpredictable.
            return System.Random.Shared.NextInt64((span / alignment) + 1) * alignment;
#pragma warning restore CA5394
        }

        if (index == 0)
        {
            return plan.Offset;
        }

        return span <= 0 ? 0 : (long)(((UInt128)(ulong)plan.Offset + ((UInt128)(ulong)index * (ulong)plan.StepSize)) % (ulong)span);
    }
}
