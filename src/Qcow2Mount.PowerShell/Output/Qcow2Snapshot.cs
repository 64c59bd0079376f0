namespace Qcow2Mount.PowerShell;

/// <summary>An internal snapshot of a qcow2 image, with the columns of <c>qemu-img snapshot -l</c>.</summary>
public sealed class Qcow2Snapshot
{
    public required string ImagePath { get; init; }

    public required string Id { get; init; }

    public required string Name { get; init; }

    /// <summary>Bytes of saved VM state (RAM, devices); 0 for a disk-only snapshot.</summary>
    public required long VMStateSize { get; init; }

    public required DateTimeOffset Date { get; init; }

    /// <summary>The guest's clock when the snapshot was taken.</summary>
    public required TimeSpan VMClock { get; init; }

    /// <summary>The guest size when the snapshot was taken, when the image records it.</summary>
    public long? DiskSize { get; init; }

    /// <summary>The instruction counter at the snapshot (record/replay); -1 when none was recorded.</summary>
    public long Icount { get; init; }

    public override string ToString() => Name;
}
