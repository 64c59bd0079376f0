using System.Diagnostics.CodeAnalysis;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Service.Mounts;

/// <summary>What to mount where, and how.</summary>
public sealed record MountRequest
{
    /// <summary>The qcow2 image (the original, in overlay mode).</summary>
    public required string ImagePath { get; init; }

    /// <summary>Where disk.raw appears; the file system adapter says what it accepts (FUSE: an existing directory).</summary>
    public required string MountPoint { get; init; }

    /// <summary>Null takes <c>Mount:DefaultMode</c> from configuration.</summary>
    public MountMode? Mode { get; init; }

    /// <summary>Snapshot mode: the internal snapshot (name or id) to show as disk.raw.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Overlay mode: where to create the overlay image; null creates one in a temporary folder.</summary>
    public string? OverlayPath { get; init; }

    /// <summary>Overlay mode: keep the overlay image after unmounting.</summary>
    public bool KeepOverlay { get; init; }

    /// <summary>Take none of QEMU's locks (qemu-img -U): a VM may be writing the image, and may go on.</summary>
    public bool ForceShare { get; init; }

    /// <summary>The password of an encrypted image, UTF-8 (null: none given).</summary>
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "The password's bytes are handed on as the caller holds them; a property returning a copy would leave one more copy of the secret in memory on every read.")]
    public byte[]? Password { get; init; }

    /// <summary>The protocol spelling of <paramref name="mode"/>.</summary>
    public static string ToProtocol(MountMode mode) => mode switch
    {
        MountMode.Writable => ControlMountModes.Writable,
        MountMode.Overlay => ControlMountModes.Overlay,
        MountMode.Snapshot => ControlMountModes.Snapshot,
        _ => ControlMountModes.ReadOnly,
    };

    /// <summary>Parses a protocol mode ("readonly", "writable", "overlay", "snapshot"; null for the default).</summary>
    public static MountMode? ParseMode(string? mode) => mode?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        ControlMountModes.ReadOnly or "read-only" or "ro" => MountMode.ReadOnly,
        ControlMountModes.Writable or "rw" => MountMode.Writable,
        ControlMountModes.Overlay => MountMode.Overlay,
        ControlMountModes.Snapshot => MountMode.Snapshot,
        _ => throw new MountException(ErrorCodes.InvalidArgument, $"Unknown mount mode '{mode}' (readonly, writable, overlay or snapshot)."),
    };

    /// <summary>The request a <c>mount</c> control request asks for.</summary>
    public static MountRequest FromControl(ControlRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new MountRequest
        {
            ImagePath = Required(request.Image, "image"),
            MountPoint = Required(request.MountPoint, "mountPoint"),
            Mode = ParseMode(request.Mode),
            Snapshot = request.Snapshot,
            OverlayPath = request.Overlay,
            KeepOverlay = request.KeepOverlay ?? false,
            ForceShare = request.ForceShare ?? false,
            Password = request.Password is null ? null : System.Text.Encoding.UTF8.GetBytes(request.Password),
        };
    }

    internal static string Required(string? value, string name) => string.IsNullOrWhiteSpace(value)
        ? throw new MountException(ErrorCodes.InvalidArgument, $"The request needs '{name}'.")
        : value;
}
