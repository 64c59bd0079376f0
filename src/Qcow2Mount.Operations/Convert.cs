using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Operations;

/// <summary>How the destination of a convert is written to disk, as qemu-img's cache modes.</summary>
public enum OutputCacheMode
{
    /// <summary>Never waits for the disk (qemu-img convert's default).</summary>
    Unsafe,
    Writeback,
    Writethrough,
    None,
    DirectSync,
}

/// <summary>What <see cref="ImageOperations.ConvertAsync"/> does.</summary>
public sealed record ConvertOptions
{
    /// <summary>The image to read (qcow2 or raw).</summary>
    public required string Source { get; init; }

    /// <summary>The file to write; replaced when it exists (and may be replaced: not an input, not in use).</summary>
    public required string Destination { get; init; }

    public ImageFormat OutputFormat { get; init; } = ImageFormat.Raw;

    /// <summary>The source's format; null probes it.</summary>
    public ImageFormat? SourceFormat { get; init; }

    /// <summary>Convert this internal snapshot (id or name) instead of the active layer.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Chunks read (and compressed) in parallel; null picks by output format and core count.</summary>
    public int? Workers { get; init; }

    /// <summary>qcow2 output: store data clusters compressed.</summary>
    public bool Compress { get; init; }

    /// <summary>
    /// qcow2 output: the layout (cluster size, compat, refcount bits, compression type, ...); null takes the
    /// defaults. Its size is the source's; backing and data files are refused.
    /// </summary>
    public CreateOptions? Qcow2Layout { get; init; }

    public OutputCacheMode Cache { get; init; } = OutputCacheMode.Unsafe;

    /// <summary>Read even an image that is being written (qemu-img -U).</summary>
    public bool ForceShare { get; init; }

    /// <summary>Asked when the source is encrypted; null: no password.</summary>
    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>The destination written, and the guest size copied.</summary>
public sealed record ConvertResult(string Destination, ImageFormat Format, long VirtualSize);

public static partial class ImageOperations
{
    /// <summary>Raw output: enough workers to keep both the disk and every core busy (decompression is CPU-bound).</summary>
    private static int DefaultRawWorkers => Math.Clamp(Environment.ProcessorCount * 2, 4, 16);

    /// <summary>
    /// qcow2 output: one worker per core to read and compress; the calling thread writes. More only make the
    /// workers wait for the writer, holding 8 MiB of buffers each.
    /// </summary>
    private static int DefaultQcow2Workers => Math.Clamp(Environment.ProcessorCount, 2, 16);

    private const int RawChunkSize = 4 << 20;

    /// <summary>
    /// Writes the guest bytes of <c>options.Source</c> to a raw file (sparse where zero) or a new qcow2 image.
    /// Progress is in guest bytes. A failed or cancelled conversion deletes the destination it was writing: a
    /// half-written raw file looks like a valid disk. Nothing is written before the options, the source and the
    /// destination have all been checked.
    /// </summary>
    public static Task<ConvertResult> ConvertAsync(ConvertOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            bool qcow2 = options.OutputFormat == ImageFormat.Qcow2;
            if (!qcow2 && (options.Compress || options.Qcow2Layout is not null))
            {
                throw OperationException.Invalid(nameof(options.Compress), "compression and qcow2 format options apply to qcow2 output only");
            }

            // Checked before anything is opened or written: a bad option must not touch the destination.
            var create = qcow2 ? (options.Qcow2Layout ?? new CreateOptions()) with { Overwrite = true } : null;
            if (create is { BackingFile: not null } or { DataFile: not null })
            {
                throw OperationException.Invalid(nameof(options.Qcow2Layout), "backing and data files: not supported by convert");
            }

            int workers = options.Workers ?? (qcow2 ? DefaultQcow2Workers : DefaultRawWorkers);
            if (workers < 1)
            {
                throw OperationException.Invalid(nameof(options.Workers), $"{workers} workers: must be at least 1");
            }

            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Source, options.SourceFormat, cancellationToken)
                .ConfigureAwait(false);
            return await RunAsync(() => Convert(options, create, workers, password, progress, cancellationToken), cancellationToken).ConfigureAwait(false);
        });
    }

    private static ConvertResult Convert(ConvertOptions options, CreateOptions? create, int workers, byte[]? password,
        IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        bool flushToDisk = options.Cache != OutputCacheMode.Unsafe;

        // Open the source first: a bad source must not truncate an existing destination.
        using var disk = DiskReads.OpenForPass(options.Source, ImageFormats.Name(options.SourceFormat), options.Snapshot, options.ForceShare, password);
        long total = disk.Length;

        // Before DEST is truncated: not the source or a file of its chain, not a pipe, not in use. Only a DEST
        // that passed is deleted when the conversion fails (its old contents are gone by then anyway).
        if (create is not null)
        {
            // Options that only the planned layout can refuse (cluster_size=1000, lazy_refcounts with compat=0.10).
            ImageCreator.Validate(options.Destination, create with { Size = total });
        }

        Destination.CheckReplaceable(options.Destination, Destination.FilesOf(disk).Append(options.Source));
        cancellationToken.ThrowIfCancellationRequested();
        Action<long>? onProgress = progress is null ? null : done => Report(progress, done, total);

        if (create is not null)
        {
            try
            {
                Qcow2Converter.Run(disk, options.Destination, create, options.Compress, workers, flushToDisk, onProgress, cancellationToken);
            }
            catch
            {
                File.Delete(options.Destination);
                throw;
            }

            Report(progress, total, total);
            return new ConvertResult(options.Destination, ImageFormat.Qcow2, total);
        }

        using (var destination = File.OpenHandle(options.Destination, FileMode.Create, FileAccess.Write, FileShare.Read))
        {
            try
            {
                new RawConverter(disk, destination, RawChunkSize).Run(workers, onProgress, cancellationToken);
                if (flushToDisk)
                {
                    RandomAccess.FlushToDisk(destination);
                }
            }
            catch
            {
                // A half-written raw file looks like a valid disk; do not leave one behind.
                destination.Dispose();
                File.Delete(options.Destination);
                throw;
            }
        }

        Report(progress, total, total);
        return new ConvertResult(options.Destination, ImageFormat.Raw, total);
    }
}
