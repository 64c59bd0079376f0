namespace Qcow2Mount.Qcow2.Check;

/// <summary>Limits for <see cref="ImageChecker"/>.</summary>
public sealed record CheckOptions
{
    /// <summary>
    /// Most host clusters the checker tracks (4 bytes each in memory): images whose file has more clusters are
    /// refused with a check error instead of allocating without bound. The default (64 Mi clusters, 256 MiB)
    /// covers a 4 TiB file with 64 KiB clusters.
    /// </summary>
    public long MaxTrackedClusters { get; init; } = 64L << 20;

    /// <summary>Most problem messages kept in <see cref="CheckResult.Messages"/>; counts keep going past it.</summary>
    public int MaxMessages { get; init; } = 10_000;

    /// <summary>Told how far the check is, from 0 to 1 (the walk of the active L2 tables is most of the work).</summary>
    public Action<double>? Progress { get; init; }

    /// <summary>
    /// Stops the check with an <see cref="OperationCanceledException"/> at the next table or block it walks. A repair
    /// stops only while it has written nothing: once it writes, it finishes, since half a repair is worse than none,
    /// and so does the check that follows it, whose counts are the result.
    /// </summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// A read-only check of a path takes no lock (qemu-img check -U), so it also checks an image that is being
    /// written, whose metadata may then look corrupt. Repairs always take the writer lock.
    /// </summary>
    public bool ForceShare { get; init; }
}
