using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Operations;

/// <summary>What <c>bench</c> does: <c>qemu-img bench</c>'s read test parameters, plus random offsets.</summary>
/// <param name="StepSize">Distance between consecutive requests (sequential mode).</param>
/// <param name="Random">Pick each offset at random, aligned to the buffer size, instead of stepping.</param>
internal sealed record BenchPlan(long Count, int Depth, long Offset, int BufferSize, long StepSize, bool Random);

internal sealed record BenchResult(long Requests, long Bytes, TimeSpan Elapsed)
{
    public double RequestsPerSecond => Requests / Math.Max(Elapsed.TotalSeconds, 1e-9);
    public double MegabytesPerSecond => Bytes / 1e6 / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>
/// Keeps <see cref="BenchPlan.Depth"/> reads in flight: one thread per slot, each taking the next request index
/// from a shared counter and reading synchronously into its own buffer, the way a queue of that depth behaves.
/// </summary>
internal static class ReadBenchmark
{
    private const int MinimumRandomAlignment = 512;

    public static BenchResult Run(IVirtualDisk disk, BenchPlan plan)
    {
        long length = disk.Length;
        if (plan.Offset < 0 || plan.Offset > length - plan.BufferSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"offset {plan.Offset} + buffer size {plan.BufferSize} lies past the end of the image ({length} bytes)");
        }

        long next = -1;
        Exception? failure = null;
        using var start = new ManualResetEventSlim();
        var threads = new Thread[(int)Math.Clamp(plan.Count, 1, plan.Depth)];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(() =>
            {
                byte[] buffer = new byte[plan.BufferSize];
                start.Wait();
                try
                {
                    long index;
                    while (Volatile.Read(ref failure) is null && (index = Interlocked.Increment(ref next)) < plan.Count)
                    {
                        long offset = OffsetOf(index, plan, length);
                        int n = disk.ReadAt(offset, buffer);
                        if (n != buffer.Length)
                        {
                            throw new Qcow2Exception(Qcow2ErrorCode.Io,
                                $"failed request: read at offset {offset} returned {n} of {buffer.Length} bytes");
                        }
                    }
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
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
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        return new BenchResult(plan.Count, plan.Count * plan.BufferSize, clock.Elapsed);
    }

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
            return System.Random.Shared.NextInt64((span / alignment) + 1) * alignment;
        }

        if (index == 0)
        {
            return plan.Offset;
        }

        return span <= 0 ? 0 : (long)(((UInt128)(ulong)plan.Offset + ((UInt128)(ulong)index * (ulong)plan.StepSize)) % (ulong)span);
    }
}
