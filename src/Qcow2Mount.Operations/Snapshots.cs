using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Snapshots;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.ListSnapshotsAsync"/> reads.</summary>
public sealed record SnapshotListOptions
{
    public required string Image { get; init; }

    /// <summary>Take no lock (qemu-img -U).</summary>
    public bool ForceShare { get; init; }
}

/// <summary>The changes qemu-img snapshot makes: -c, -d, -a.</summary>
public enum SnapshotChange
{
    Create,
    Delete,
    Apply,
}

/// <summary>What <see cref="ImageOperations.ChangeSnapshotAsync"/> does to which snapshot.</summary>
public sealed record SnapshotChangeOptions
{
    public required string Image { get; init; }

    public required SnapshotChange Change { get; init; }

    /// <summary>Create: the new snapshot's name (not empty); delete and apply: its id or name.</summary>
    public required string Name { get; init; }
}

/// <summary>The snapshot created, deleted or applied, and what opening repaired first, if anything.</summary>
public sealed record SnapshotChangeResult(SnapshotInfo Snapshot, string? Repaired);

public static partial class ImageOperations
{
    /// <summary>The internal snapshots, in table order (<c>qemu-img snapshot -l</c>).</summary>
    public static Task<IReadOnlyList<SnapshotInfo>> ListSnapshotsAsync(SnapshotListOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return RunAsync(() =>
        {
            using var image = Qcow2Image.Open(options.Image, new Qcow2OpenOptions { IgnoreBacking = true, HoldReaderLock = !options.ForceShare, MetadataOnly = true });
            return image.Snapshots;
        }, cancellationToken);
    }

    /// <summary>Takes, deletes or applies an internal snapshot (<c>qemu-img snapshot -c|-d|-a</c>); opens the image read/write.</summary>
    public static Task<SnapshotChangeResult> ChangeSnapshotAsync(SnapshotChangeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Name))
        {
            // qemu-img accepts an empty name, but such a snapshot can only be told apart by its id.
            return Task.FromException<SnapshotChangeResult>(OperationException.Invalid(nameof(options.Name), "a snapshot name must not be empty"));
        }

        return RunAsync(() =>
        {
            using var image = Qcow2Image.Open(options.Image, new Qcow2OpenOptions { Writable = true, MetadataOnly = true });
            string? repaired = image.DirtyRepair?.DirtyRepairSummary;
            var snapshot = options.Change switch
            {
                SnapshotChange.Create => image.CreateSnapshot(options.Name),
                SnapshotChange.Delete => image.DeleteSnapshot(options.Name),
                _ => image.ApplySnapshot(options.Name),
            };
            return new SnapshotChangeResult(snapshot, repaired);
        }, cancellationToken);
    }
}
