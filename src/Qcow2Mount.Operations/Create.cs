using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.CreateAsync"/> creates.</summary>
public sealed record CreateImageOptions
{
    /// <summary>The qcow2 image file to create.</summary>
    public required string Image { get; init; }

    /// <summary>Size, layout, backing and data file (qemu-img create's -o options); <c>Overwrite</c> replaces an existing file.</summary>
    public CreateOptions Layout { get; init; } = new();
}

/// <summary>The image created; a null size means "the backing file's".</summary>
public sealed record CreateResult(string Image, long? Size);

public static partial class ImageOperations
{
    /// <summary>
    /// Creates a new, empty qcow2 image. Replacing an existing file (<c>Layout.Overwrite</c>) never replaces the
    /// image's own backing file or a file in use, and the same holds for a data file it names.
    /// </summary>
    public static Task<CreateResult> CreateAsync(CreateImageOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RunAsync(() =>
        {
            var create = options.Layout;
            string path = options.Image;
            if (create.Overwrite)
            {
                string[] backingFile = create.BackingFile is { } b ? [BackingPath.Resolve(path, b)] : [];
                Destination.CheckReplaceable(path, backingFile);
                if (create.DataFile is { } data)
                {
                    Destination.CheckReplaceable(BackingPath.Resolve(path, data), [.. backingFile, path]);
                }
            }

            ImageCreator.Create(path, create);
            return new CreateResult(path, create.Size);
        }, cancellationToken);
    }
}
