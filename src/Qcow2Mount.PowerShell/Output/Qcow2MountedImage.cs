namespace Qcow2Mount.PowerShell;

/// <summary>
/// A mounted image, as Mount-Qcow2Image -PassThru and Get-Qcow2Mount write it (shaped after the Storage module's
/// disk image: ImagePath, Size, Attached). <see cref="DiskPath"/> is the raw file that holds the guest bytes.
/// </summary>
public sealed class Qcow2MountedImage
{
    public required string ImagePath { get; init; }

    /// <summary>The folder (or on Windows the drive) the image is mounted at.</summary>
    public required string MountPoint { get; init; }

    public required Qcow2ImageAccess Access { get; init; }

    /// <summary>The guest size in bytes: the length of <see cref="DiskPath"/>.</summary>
    public required long Size { get; init; }

    /// <summary>The raw file: <c>MountPoint/disk.raw</c>.</summary>
    public required string DiskPath { get; init; }

    /// <summary>The internal snapshot shown (read-only), or null for the image's current state.</summary>
    public string? Snapshot { get; init; }

    /// <summary>True while mounted; false in what Dismount-Qcow2Image -PassThru writes.</summary>
    public required bool Attached { get; init; }

    /// <summary>The service's name for the mode: read-only, writable, overlay or snapshot.</summary>
    public required string Mode { get; init; }

    /// <summary>With an overlay: the qcow2 file that takes the writes (the image stays untouched).</summary>
    public string? OverlayPath { get; init; }

    public bool KeepOverlay { get; init; }

    /// <summary>Mounted without taking QEMU's locks (-ForceShare): reads may be inconsistent while QEMU writes.</summary>
    public bool ForceShare { get; init; }

    /// <summary>What the mount repaired first (a writable mount of an image with leaked clusters), or null.</summary>
    public string? Repaired { get; init; }

    public DateTimeOffset MountedAt { get; init; }

    public override string ToString() => DiskPath;
}
