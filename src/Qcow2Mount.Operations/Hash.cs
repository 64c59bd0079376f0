namespace Qcow2Mount.Operations;

/// <summary>The digests <see cref="ImageOperations.HashAsync"/> computes.</summary>
public enum DigestAlgorithm
{
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

/// <summary>What <see cref="ImageOperations.HashAsync"/> hashes.</summary>
public sealed record HashOptions
{
    public required string Image { get; init; }

    /// <summary>The image's format; null probes it.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>Hash this internal snapshot (id or name) instead of the active layer.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Computed side by side in one pass; at least one, each at most once.</summary>
    public IReadOnlyList<DigestAlgorithm> Algorithms { get; init; } = [DigestAlgorithm.Sha256];

    /// <summary>Chunks read ahead of hashing; null: two per core, 4..16.</summary>
    public int? ReadAhead { get; init; }

    /// <summary>Take no lock (qemu-img -U): the digest is then of no particular moment.</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>One digest, lower-case hex.</summary>
public sealed record ImageDigest(DigestAlgorithm Algorithm, string Hex);

/// <summary>The digests of the guest bytes, in the order asked for.</summary>
public sealed record HashResult(string Image, string? Snapshot, long VirtualSize, IReadOnlyList<ImageDigest> Digests);

public static partial class ImageOperations
{
    /// <summary>
    /// Digests of the guest bytes, equal to hashing <c>disk.raw</c> of a mount or the output of <c>qemu-img convert
    /// -O raw</c>. Unless <c>ForceShare</c>, the reader locks keep writers out until the pass is done. Progress is
    /// in guest bytes.
    /// </summary>
    public static Task<HashResult> HashAsync(HashOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            if (options.Algorithms is not { Count: > 0 } algorithms || algorithms.Distinct().Count() != algorithms.Count
                || !algorithms.All(Enum.IsDefined))
            {
                throw OperationException.Invalid(nameof(options.Algorithms), "name each digest algorithm once, and at least one");
            }

            if (options.ReadAhead is < 1)
            {
                throw OperationException.Invalid(nameof(options.ReadAhead), $"read-ahead {options.ReadAhead}: must be at least 1");
            }

            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, options.Format, cancellationToken)
                .ConfigureAwait(false);
            return await RunAsync(() =>
            {
                using var disk = DiskReads.OpenForPass(options.Image, ImageFormats.Name(options.Format), options.Snapshot, options.ForceShare, password);
                long total = disk.Length;
                var hex = new ImageHasher(disk, options.ReadAhead ?? Math.Clamp(2 * Environment.ProcessorCount, 4, 16))
                    .Hash([.. algorithms.Select(ImageHasher.NameOf)], progress is null ? null : done => Report(progress, done, total), cancellationToken);
                Report(progress, total, total);
                return new HashResult(Path.GetFullPath(options.Image), options.Snapshot, total,
                    [.. algorithms.Select((a, i) => new ImageDigest(a, hex[i]))]);
            }, cancellationToken).ConfigureAwait(false);
        });
    }
}
