using Qcow2Mount.Mounting;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="MountClient.MountAsync"/> mounts where, and how.</summary>
public sealed record MountImageOptions
{
    /// <summary>The qcow2 image (the original, in overlay mode); made absolute here.</summary>
    public required string Image { get; init; }

    /// <summary>Where disk.raw appears; the file system adapter's rules apply (FUSE: an existing empty directory).</summary>
    public required string MountPoint { get; init; }

    /// <summary>Null takes the service's configured default mode (read-only unless configured otherwise).</summary>
    public MountMode? Mode { get; init; }

    /// <summary>Snapshot mode: the internal snapshot (id or name) shown as disk.raw.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Overlay mode: where to create the overlay; null creates one in a temporary folder.</summary>
    public string? OverlayPath { get; init; }

    /// <summary>Overlay mode: keep the overlay after unmounting.</summary>
    public bool KeepOverlay { get; init; }

    /// <summary>Take none of QEMU's locks (qemu-img -U): for reading an image a VM is writing.</summary>
    public bool ForceShare { get; init; }

    /// <summary>Asked when the image is encrypted; null: no password.</summary>
    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>What <see cref="MountClient.UnmountAsync"/> unmounts.</summary>
public sealed record UnmountOptions
{
    /// <summary>The mount point, or the image file of a mount (a mount point of that name wins).</summary>
    public required string Target { get; init; }

    /// <summary>Unmount even when files are open on it.</summary>
    public bool Force { get; init; }
}
