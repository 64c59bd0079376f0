namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.InspectAsync"/> describes.</summary>
public sealed record InspectOptions
{
    public required string Image { get; init; }

    /// <summary>The image's format; null probes it.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>Describe the image as seen through this internal snapshot (id or name).</summary>
    public string? Snapshot { get; init; }

    /// <summary>Also describe every backing image, overlay first.</summary>
    public bool BackingChain { get; init; }

    /// <summary>Take no lock (qemu-img -U); otherwise an image being written is refused.</summary>
    public bool ForceShare { get; init; }
}

public static partial class ImageOperations
{
    /// <summary>
    /// What <c>qemu-img info</c> shows: format, sizes, backing file, snapshots and qcow2 features, without reading
    /// guest data (and without a password: encrypted images are described from their headers).
    /// </summary>
    public static Task<IReadOnlyList<ImageDescription>> InspectAsync(InspectOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RunAsync(
            () => ImageInspector.Inspect(options.Image, ImageFormats.Name(options.Format), options.Snapshot, options.BackingChain, options.ForceShare),
            cancellationToken);
    }
}
