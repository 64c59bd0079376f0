using System.Diagnostics.CodeAnalysis;
using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Mapping;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.MapAsync"/> maps.</summary>
public sealed record MapOptions
{
    public required string Image { get; init; }

    /// <summary>The image's format; null probes it.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>Take no lock (qemu-img -U).</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>What <see cref="ImageOperations.CompareAsync"/> compares.</summary>
public sealed record CompareOptions
{
    public required string First { get; init; }

    public required string Second { get; init; }

    public ImageFormat? FirstFormat { get; init; }

    public ImageFormat? SecondFormat { get; init; }

    /// <summary>qemu-img compare -s: a size mismatch, or a range allocated in one image only, is a difference.</summary>
    public bool Strict { get; init; }

    /// <summary>Take no lock (qemu-img -U).</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>What <see cref="ImageOperations.DiffAsync"/> diffs: two views of one qcow2 image.</summary>
public sealed record DiffOptions
{
    public required string Image { get; init; }

    /// <summary>A snapshot (id or name), <c>backing</c> or <c>active</c>.</summary>
    public required string From { get; init; }

    /// <summary>A snapshot (id or name), <c>backing</c> or <c>active</c>.</summary>
    public required string To { get; init; }

    /// <summary>Take no lock (qemu-img -U).</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>
/// Why <see cref="ImageOperations.CompareAsync"/> could not answer: the images did not open (qemu-img compare's
/// exit code 2) or one failed while being read (its exit code 3).
/// </summary>
public enum CompareStage
{
    Opening,
    Reading,
}

/// <summary>An <see cref="OperationException"/> from <see cref="ImageOperations.CompareAsync"/>, with the stage it failed in.</summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "It wraps the OperationException of one compare stage; without both it would say nothing qemu-img compare's exit codes need.")]
public sealed class CompareException(CompareStage stage, OperationException inner)
    : Exception(inner.Message, inner)
{
    public CompareStage Stage { get; } = stage;

    public OperationException Operation => (OperationException)InnerException!;
}

public static partial class ImageOperations
{
    /// <summary>
    /// <c>qemu-img map</c>: how each run of guest bytes is stored (depth, present, zero, data, host offset), merged as
    /// qemu-img merges runs, handed to <paramref name="onEntry"/> as they are found so memory stays bounded. Reads
    /// metadata only. Each entry's file is named as qemu-img names it (<see cref="QemuFileNames"/>).
    /// </summary>
    public static Task<long> MapAsync(MapOptions options, Action<MapEntry> onEntry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(onEntry);
        return GuardAsync(async () =>
        {
            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, options.Format, cancellationToken)
                .ConfigureAwait(false);
            return await RunAsync(() =>
            {
                using var disk = VirtualDisk.Open(options.Image, ImageFormats.Name(options.Format),
                    new Qcow2OpenOptions { HoldReaderLock = !options.ForceShare, Password = password });
                var names = QemuFileNames(disk, options.Image);
                long count = 0;
                foreach (var entry in DiskMap.Map(disk, cancellationToken: cancellationToken))
                {
                    onEntry(entry.File is { } file && names.TryGetValue(file, out string? shown) ? entry with { File = shown } : entry);
                    count++;
                }

                return count;
            }, cancellationToken).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// The file names <c>qemu-img map</c> prints, by each layer's opened path: the image as the user named it, and each
    /// backing file as its stored name joined to the folder of the layer above as named (qemu's full backing filename),
    /// not resolved to an absolute path.
    /// </summary>
    private static Dictionary<string, string> QemuFileNames(IVirtualDisk top, string given)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        string shown = given;
        for (IVirtualDisk? disk = top; disk is not null;)
        {
            switch (disk)
            {
                case Qcow2Image image:
                    names.TryAdd(image.Path, shown);
                    shown = image.BackingFile is { } name ? ImageInspector.CombineLikeQemu(shown, name) : shown;
                    disk = image.BackingFile is null ? null : image.Backing;
                    break;
                case RawDisk raw:
                    names.TryAdd(raw.Path, shown);
                    disk = null;
                    break;
                default:
                    disk = null;
                    break;
            }
        }

        return names;
    }

    /// <summary>
    /// <c>qemu-img compare A B [-s]</c>: identical or not, the first differing offset and qemu-img's lines. Zero
    /// ranges in both are not read. Failures come as <see cref="CompareException"/>, saying whether opening or
    /// reading failed (qemu-img's exit codes 2 and 3).
    /// </summary>
    public static async Task<ImageCompareResult> CompareAsync(CompareOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var stage = CompareStage.Opening;
        try
        {
            return await GuardAsync(async () =>
            {
                var first = await ImagePasswords.ForImageAsync(options.Passwords, options.First, options.FirstFormat, cancellationToken).ConfigureAwait(false);
                var second = await ImagePasswords.ForImageAsync(options.Passwords, options.Second, options.SecondFormat, cancellationToken).ConfigureAwait(false);
                return await RunAsync(() =>
                {
                    using var a = VirtualDisk.Open(options.First, ImageFormats.Name(options.FirstFormat),
                        new Qcow2OpenOptions { HoldReaderLock = !options.ForceShare, Password = first });
                    using var b = VirtualDisk.Open(options.Second, ImageFormats.Name(options.SecondFormat),
                        new Qcow2OpenOptions { HoldReaderLock = !options.ForceShare, Password = second });
                    stage = CompareStage.Reading;
                    return ImageCompare.Compare(a, b, options.Strict, cancellationToken);
                }, cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        catch (OperationException e)
        {
            throw new CompareException(stage, e);
        }
    }

    /// <summary>
    /// The guest byte ranges that differ between two views of one image (snapshots, <c>backing</c>, <c>active</c>):
    /// metadata first (clusters whose mapping differs), then confirmed by content, so shared clusters are never read.
    /// </summary>
    public static Task<DiffResult> DiffAsync(DiffOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            if (string.IsNullOrWhiteSpace(options.From) || string.IsNullOrWhiteSpace(options.To))
            {
                throw OperationException.Invalid(nameof(options.From), "name both views: a snapshot, 'backing' or 'active'");
            }

            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, ImageFormat.Qcow2, cancellationToken)
                .ConfigureAwait(false);
            return await RunAsync(
                () => ViewDiff.Run(options.Image, DiffView.Parse(options.From), DiffView.Parse(options.To),
                    new Qcow2OpenOptions { HoldReaderLock = !options.ForceShare, Password = password }, cancellationToken),
                cancellationToken).ConfigureAwait(false);
        });
    }
}
