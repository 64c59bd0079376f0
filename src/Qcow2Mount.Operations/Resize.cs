using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.ResizeAsync"/> does: a new size, or growth by a delta (exactly one of them).</summary>
public sealed record ResizeOptions
{
    public required string Image { get; init; }

    /// <summary>The new virtual size in bytes; smaller than the current one is refused.</summary>
    public long? Size { get; init; }

    /// <summary>Bytes to grow by; negative is refused (shrinking is not supported).</summary>
    public long? GrowBy { get; init; }

    /// <summary>Asked when the image is encrypted: zeros hiding a longer backing file are written encrypted.</summary>
    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>The new size, and what opening repaired first (an image left dirty), if anything.</summary>
public sealed record ResizeResult(string Image, long Size, string? Repaired);

public static partial class ImageOperations
{
    /// <summary>Grows a qcow2 image's virtual disk (qemu-img resize); only growing is supported.</summary>
    public static Task<ResizeResult> ResizeAsync(ResizeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            if (options.Size is null == options.GrowBy is null)
            {
                throw OperationException.Invalid(nameof(options.Size), "give either a new size or a size to grow by");
            }

            if (options.GrowBy < 0 || options.Size < 0)
            {
                throw new OperationException(OperationErrorCode.OutOfRange, $"{options.Image}: shrinking is not supported");
            }

            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, ImageFormat.Qcow2, cancellationToken).ConfigureAwait(false);
            return await RunAsync(() =>
            {
                // Growing changes metadata only, unless zeros must hide a longer backing file.
                using var disk = Qcow2Image.Open(options.Image, new Qcow2OpenOptions { Writable = true, MetadataOnly = true, Password = password });
                string? repaired = disk.DirtyRepair?.DirtyRepairSummary;
                long size = options.Size ?? checked(disk.Length + options.GrowBy!.Value);
                disk.Resize(size);
                return new ResizeResult(options.Image, size, repaired);
            }, cancellationToken).ConfigureAwait(false);
        });
    }
}
