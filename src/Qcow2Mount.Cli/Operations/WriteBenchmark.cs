using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Operations;

/// <summary><c>qemu-img bench -w</c>'s extra knobs: the byte written, and how often to flush.</summary>
/// <param name="Pattern">Every byte of every request.</param>
/// <param name="FlushInterval">Flush after every this many completed requests (0: never during the run).</param>
/// <param name="Drain">Let the requests in flight finish before each flush and issue none during it (qemu's default).</param>
internal sealed record WriteBenchOptions(byte Pattern, long FlushInterval, bool Drain);

/// <summary>
/// The write test: <see cref="BenchPlan.Depth"/> threads keep that many writes in flight, at the same offsets as
/// the read test. With a flush interval and draining, the run proceeds in rounds of that many requests, each
/// ended by a flush once every write of the round is done; without draining, the thread that completes every
/// N-th request flushes while the others keep writing.
/// </summary>
internal static class WriteBenchmark
{
    public static BenchResult Run(IVirtualDisk disk, BenchPlan plan, WriteBenchOptions options)
    {
        long length = disk.Length;
        if (plan.Offset < 0 || plan.Offset > length - plan.BufferSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument,
                $"offset {plan.Offset} + buffer size {plan.BufferSize} lies past the end of the image ({length} bytes)");
        }

        bool rounds = options.FlushInterval > 0 && options.Drain;
        long roundSize = rounds ? options.FlushInterval : Math.Max(plan.Count, 1);
        long roundCount = (plan.Count + roundSize - 1) / roundSize;
        long inRound = -1, completed = 0;
        Exception? failure = null;
        int slots = (int)Math.Clamp(plan.Count, 1, plan.Depth);
        using var start = new ManualResetEventSlim();

        // Runs once per round, when every thread has finished its writes: the drained flush, then the next round.
        using var roundDone = new Barrier(slots, _ =>
        {
            try
            {
                // As qemu-img, the flush after the last request is left to the close, outside the timed run.
                long done = Interlocked.Read(ref completed);
                if (rounds && Volatile.Read(ref failure) is null && done % roundSize == 0 && done < plan.Count)
                {
                    disk.Flush();
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }

            Volatile.Write(ref inRound, -1);
        });
        var threads = new Thread[slots];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(() =>
            {
                byte[] buffer = new byte[plan.BufferSize];
                Array.Fill(buffer, options.Pattern);
                start.Wait();
                for (long round = 0; round < roundCount; round++)
                {
                    long first = round * roundSize, size = Math.Min(roundSize, plan.Count - first);
                    try
                    {
                        long k;
                        while (Volatile.Read(ref failure) is null && (k = Interlocked.Increment(ref inRound)) < size)
                        {
                            disk.WriteAt(ReadBenchmark.OffsetOf(first + k, plan, length), buffer);
                            long done = Interlocked.Increment(ref completed);
                            if (!rounds && options.FlushInterval > 0 && done % options.FlushInterval == 0)
                            {
                                disk.Flush();
                            }
                        }
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref failure, e, null);
                    }

                    // After the last round there is nothing to wait for: a thread that finished early would only
                    // spin in the barrier, taking a CPU from the threads still writing.
                    if (round < roundCount - 1)
                    {
                        roundDone.SignalAndWait();
                    }
                }
            })
            { IsBackground = true, Name = $"bench-{i}" };
            threads[i].Start();
        }

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
}
