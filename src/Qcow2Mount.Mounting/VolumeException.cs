using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting;

/// <summary>The one error type of the mounting layer: a code for adapters, a one-line message for people.</summary>
public sealed class VolumeException : Exception
{
    public VolumeException(VolumeErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public VolumeErrorCode Code { get; }

    /// <summary>The one translation from engine errors to volume errors; the engine's message is kept.</summary>
    public static VolumeException FromEngine(Qcow2Exception exception) =>
        new(CodeFor(exception.Code), exception.Message, exception);

    internal static VolumeErrorCode CodeFor(Qcow2ErrorCode code) => code switch
    {
        Qcow2ErrorCode.ReadOnly => VolumeErrorCode.ReadOnly,
        Qcow2ErrorCode.InvalidArgument => VolumeErrorCode.InvalidArgument,
        Qcow2ErrorCode.Unsupported => VolumeErrorCode.NotSupported,
        Qcow2ErrorCode.Locked => VolumeErrorCode.Busy,
        Qcow2ErrorCode.SnapshotNotFound => VolumeErrorCode.NotFound,
        // Corrupt metadata, a vanished backing file or a failing host file all look like a bad disk to a reader.
        _ => VolumeErrorCode.IoError,
    };
}
