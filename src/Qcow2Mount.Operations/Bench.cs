using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.BenchAsync"/> measures: <c>qemu-img bench</c>'s parameters.</summary>
public sealed record BenchOptions
{
    public required string Image { get; init; }

    /// <summary>The image's format; null probes it.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>Number of requests.</summary>
    public long Count { get; init; } = 75000;

    /// <summary>Requests in flight at once.</summary>
    public int Depth { get; init; } = 64;

    /// <summary>Offset of the first request.</summary>
    public long Offset { get; init; }

    /// <summary>Bytes per request.</summary>
    public int BufferSize { get; init; } = 4096;

    /// <summary>Distance between consecutive requests; null: the buffer size.</summary>
    public long? StepSize { get; init; }

    /// <summary>Random offsets aligned to the buffer size, instead of stepping.</summary>
    public bool Random { get; init; }

    /// <summary>Write test: writes <see cref="Pattern"/> at the offsets a read test reads.</summary>
    public bool Write { get; init; }

    /// <summary>The byte every write request writes.</summary>
    public byte Pattern { get; init; }

    /// <summary>Write tests: flush after every this many requests; null never flushes during the run.</summary>
    public long? FlushInterval { get; init; }

    /// <summary>With a flush interval: let the requests in flight finish before each flush (qemu's default).</summary>
    public bool Drain { get; init; } = true;

    /// <summary>Take no lock (qemu-img -U).</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

public static partial class ImageOperations
{
    /// <summary>
    /// Runs qemu-img bench's read (or write) test against this engine and returns the requests, bytes and time.
    /// Writes go through the engine's write path with lazy refcounts, written once at the close (outside the timed run).
    /// </summary>
    public static Task<BenchResult> BenchAsync(BenchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            var plan = ToPlan(options);
            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, options.Format, cancellationToken)
                .ConfigureAwait(false);
            return await RunAsync(() =>
            {
                using var disk = VirtualDisk.Open(options.Image, ImageFormats.Name(options.Format),
                    new Qcow2OpenOptions
                    {
                        Lock = !options.ForceShare,
                        HoldReaderLock = !options.ForceShare && !options.Write,
                        Writable = options.Write,
                        LazyRefcounts = true,
                        Password = password,
                    });
                return options.Write
                    ? WriteBenchmark.Run(disk, plan, new WriteBenchOptions(options.Pattern, options.FlushInterval ?? 0, options.Drain), cancellationToken)
                    : ReadBenchmark.Run(disk, plan, cancellationToken);
            }, cancellationToken).ConfigureAwait(false);
        });
    }

    /// <summary>Checks the options the way qemu-img bench does and turns them into a plan.</summary>
    private static BenchPlan ToPlan(BenchOptions options)
    {
        if (options.FlushInterval is not null && !options.Write)
        {
            throw OperationException.Invalid(nameof(options.FlushInterval), "a flush interval is only available in write tests");
        }

        if (options.FlushInterval is < 0)
        {
            throw OperationException.Invalid(nameof(options.FlushInterval), $"flush interval {options.FlushInterval}: invalid flush interval");
        }

        if (options.FlushInterval is { } interval && interval < options.Depth)
        {
            throw OperationException.Invalid(nameof(options.FlushInterval), "Flush interval can't be smaller than depth");
        }

        if (!options.Drain && options.FlushInterval is null)
        {
            throw OperationException.Invalid(nameof(options.Drain), "not draining requires a flush interval");
        }

        if (options.Count < 0)
        {
            throw OperationException.Invalid(nameof(options.Count), $"request count {options.Count}: invalid request count");
        }

        if (options.Depth < 1)
        {
            throw OperationException.Invalid(nameof(options.Depth), $"queue depth {options.Depth}: invalid queue depth (at least 1)");
        }

        if (options.BufferSize < 1)
        {
            throw OperationException.Invalid(nameof(options.BufferSize), $"buffer size {options.BufferSize}: must be at least 1 byte");
        }

        if (options.Offset < 0 || options.StepSize < 0)
        {
            throw OperationException.Invalid(nameof(options.Offset), "offsets and steps cannot be negative");
        }

        long step = options.StepSize ?? 0;
        return new BenchPlan(options.Count, options.Depth, options.Offset, options.BufferSize, step == 0 ? options.BufferSize : step, options.Random);
    }
}
