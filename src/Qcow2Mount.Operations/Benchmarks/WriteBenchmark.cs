using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

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
    public static BenchResult Run(IVirtualDisk disk, BenchPlan plan, WriteBenchOptions options, CancellationToken cancellationToken = default)
    {
        long length = ReadBenchmark.CheckFirstRequest(disk, plan);
        bool rounds = options.FlushInterval > 0 && options.Drain;
        long roundSize = rounds ? options.FlushInterval : Math.Max(plan.Count, 1);
        long roundCount = (plan.Count + roundSize - 1) / roundSize;
        long inRound = -1, completed = 0;
        var failure = new BenchFailure();
        using var cancel = failure.StopOn(cancellationToken);

        // Runs once per round, when every thread has finished its writes: the drained flush, then the next round.
        using var roundDone = new Barrier(ReadBenchmark.SlotCount(plan), _ =>
        {
            try
            {
                // As qemu-img, the flush after the last request is left to the close, outside the timed run.
                long done = Interlocked.Read(ref completed);
                if (rounds && !failure.Any && done % roundSize == 0 && done < plan.Count)
                {
                    disk.Flush();
                }
            }
#pragma warning disable CA1031 // A worker thread's failure is kept and rethrown on the caller's thread.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure.Record(e);
            }

            Volatile.Write(ref inRound, -1);
        });
        var elapsed = ReadBenchmark.RunThreads(plan, failure, buffer => Array.Fill(buffer, options.Pattern), (buffer, _) =>
        {
            for (long round = 0; round < roundCount; round++)
            {
                long first = round * roundSize, size = Math.Min(roundSize, plan.Count - first);
                // A failed write still reaches the barrier below, so the other threads are never left waiting.
                try
                {
                    long k;
                    while (!failure.Any && (k = Interlocked.Increment(ref inRound)) < size)
                    {
                        disk.WriteAt(ReadBenchmark.OffsetOf(first + k, plan, length), buffer);
                        long done = Interlocked.Increment(ref completed);
                        if (!rounds && options.FlushInterval > 0 && done % options.FlushInterval == 0)
                        {
                            disk.Flush();
                        }
                    }
                }
#pragma warning disable CA1031 // A worker thread's failure is kept and rethrown on the caller's thread.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    failure.Record(e);
                }

                // After the last round there is nothing to wait for: a thread that finished early would only
                // spin in the barrier, taking a CPU from the threads still writing.
                if (round < roundCount - 1)
                {
                    roundDone.SignalAndWait();
                }
            }
        });
        return new BenchResult(plan.Count, plan.Count * plan.BufferSize, elapsed);
    }
}
