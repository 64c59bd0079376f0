namespace Qcow2Mount.Mounting;

/// <summary>How a <see cref="Volume"/> presents its disks.</summary>
public sealed record VolumeOptions
{
    /// <summary>Refuse every write even when the active disk could write.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Volume label (Windows) and a name for messages; usually the image's file name.</summary>
    public string Label { get; init; } = "qcow2";

    /// <summary>The one timestamp every file and directory shows; fixed for the life of the mount.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>Show each disk's partitions as files (<c>partitions/p1.raw</c>...); on unless turned off.</summary>
    public bool ShowPartitions { get; init; } = true;

    /// <summary>Full path of the image file, when the volume shows one (Windows derives the volume serial from it).</summary>
    public string? ImagePath { get; init; }

    /// <summary>Options for the image at <paramref name="imagePath"/>: its name as label, its mtime as timestamp.</summary>
    public static VolumeOptions ForImage(string imagePath, bool readOnly) => new()
    {
        ReadOnly = readOnly,
        Label = Path.GetFileNameWithoutExtension(imagePath),
        Timestamp = new DateTimeOffset(File.GetLastWriteTimeUtc(imagePath), TimeSpan.Zero),
        ImagePath = Path.GetFullPath(imagePath),
    };
}

/// <summary>An internal snapshot presented read-only as <c>snapshots/&lt;Name&gt;.raw</c>.</summary>
public sealed record SnapshotDisk(string Name, Qcow2.IVirtualDisk Disk);
