using System.Text.Json;

namespace Qcow2Mount.Control.Protocol;

/// <summary>
/// One request line. <c>v</c>, <c>id</c> and <c>op</c> are common; the rest belong to the operations that use them
/// (mount: image, mountPoint, mode, snapshot, overlay, keepOverlay; unmount: mountPoint, force; shutdown: ifIdle).
/// </summary>
public sealed record ControlRequest
{
    public int V { get; init; } = ControlProtocol.Version;

    /// <summary>Any JSON value the client chooses; echoed in the response.</summary>
    public JsonElement? Id { get; init; }

    public string? Op { get; init; }

    /// <summary>Path of the qcow2 image (resolved against the client's current directory by the client).</summary>
    public string? Image { get; init; }

    public string? MountPoint { get; init; }

    /// <summary>readonly (default from configuration), writable, overlay or snapshot.</summary>
    public string? Mode { get; init; }

    /// <summary>The internal snapshot (name or id) shown as disk.raw in snapshot mode.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Where overlay mode creates its overlay image; a temporary file when omitted.</summary>
    public string? Overlay { get; init; }

    /// <summary>Keep the overlay image after unmounting.</summary>
    public bool? KeepOverlay { get; init; }

    /// <summary>
    /// Take none of QEMU's locks (qemu-img -U): mount an image a running VM writes, which may go on writing it.
    /// Without it such an image is refused, and no QEMU may start writing an image while it is mounted.
    /// </summary>
    public bool? ForceShare { get; init; }

    /// <summary>
    /// The password of an encrypted image (and of encrypted images in its backing chain). It travels only over the
    /// owner-only endpoint, is never logged, and is kept by the service only while the image is open.
    /// </summary>
    public string? Password { get; init; }

    /// <summary>Unmount even with open files.</summary>
    public bool? Force { get; init; }

    /// <summary>Shut down only when nothing is mounted; refused with <see cref="ErrorCodes.Busy"/> otherwise.</summary>
    public bool? IfIdle { get; init; }
}

/// <summary>One response line: <c>ok</c> with the operation's result, or an <c>error</c>.</summary>
public sealed record ControlResponse
{
    public int V { get; init; } = ControlProtocol.Version;

    public JsonElement? Id { get; init; }

    public bool Ok { get; init; }

    public ControlError? Error { get; init; }

    /// <summary>mount and unmount: the mount concerned.</summary>
    public MountInfo? Mount { get; init; }

    /// <summary>list: every mount of the service.</summary>
    public IReadOnlyList<MountInfo>? Mounts { get; init; }

    /// <summary>status: the service itself.</summary>
    public ServiceStatus? Status { get; init; }

    public static ControlResponse Failure(JsonElement? id, string code, string message) =>
        new() { Id = id, Ok = false, Error = new ControlError(code, message) };
}

/// <summary>What went wrong: a stable <see cref="ErrorCodes">code</see> and a one-line message.</summary>
public sealed record ControlError(string Code, string Message);

/// <summary>A live mount as the service reports it.</summary>
public sealed record MountInfo
{
    public required string MountPoint { get; init; }

    /// <summary>Full path of the image the user named (the original, in overlay mode).</summary>
    public required string Image { get; init; }

    public required string Mode { get; init; }

    public string? Snapshot { get; init; }

    /// <summary>Overlay mode: the overlay image receiving the writes.</summary>
    public string? Overlay { get; init; }

    public bool KeepOverlay { get; init; }

    /// <summary>Whether disk.raw refuses writes.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Mounted without QEMU's locks (force-share): a VM may write the image while it is mounted.</summary>
    public bool ForceShare { get; init; }

    /// <summary>Size of disk.raw in bytes.</summary>
    public long Size { get; init; }

    /// <summary>File names under snapshots/.</summary>
    public IReadOnlyList<string> Snapshots { get; init; } = [];

    /// <summary>Set when a writable open found the image dirty (an unclean stop) and rebuilt its refcounts.</summary>
    public string? Repaired { get; init; }

    /// <summary>
    /// Set by a forced unmount that detached the file system while files on it were still open (and could not be
    /// cut off): everything written so far is flushed, and the image closes when the last of them is closed.
    /// </summary>
    public bool StillOpen { get; init; }

    public DateTimeOffset MountedAt { get; init; }
}

/// <summary>The service as <c>status</c> reports it.</summary>
public sealed record ServiceStatus
{
    public int ProcessId { get; init; }

    public string Version { get; init; } = "";

    public string Endpoint { get; init; } = "";

    public int MountCount { get; init; }

    public DateTimeOffset StartedAt { get; init; }

    /// <summary>The OS adapter mounts go through ("fuse", "winfsp", "dokan").</summary>
    public string FileSystem { get; init; } = "";

    /// <summary>
    /// Protocol additions this service understands (<see cref="ServiceFeatures"/>); empty from services older than
    /// the field, which a client must then not count on.
    /// </summary>
    public IReadOnlyList<string> Features { get; init; } = [];
}
