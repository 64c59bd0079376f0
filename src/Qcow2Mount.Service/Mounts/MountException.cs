using System.Diagnostics.CodeAnalysis;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Service.Mounts;

/// <summary>
/// The one error of the service layer: a protocol <see cref="ErrorCodes">code</see> and a one-line message.
/// <see cref="From"/> is the one place engine and volume errors become service errors.
/// </summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "Every instance carries its error code, which callers branch on; a constructor without one would make an error nobody can classify.")]
public sealed class MountException : Exception
{
    public MountException(string code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public string Code { get; }

    /// <summary>Translates any failure of a mount operation; the message stays one line.</summary>
    public static MountException From(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            MountException mount => mount,
            Qcow2Exception engine => new(CodeFor(engine.Code), OneLine(engine.Message), engine),
            VolumeException volume => new(CodeFor(volume.Code), OneLine(volume.Message), volume),
            FileNotFoundException or DirectoryNotFoundException => new(ErrorCodes.NotFound, OneLine(exception.Message), exception),
            UnauthorizedAccessException => new(ErrorCodes.AccessDenied, OneLine(exception.Message), exception),
            IOException => new(ErrorCodes.Io, OneLine(exception.Message), exception),
            _ => new(ErrorCodes.Internal, $"{exception.GetType().Name}: {OneLine(exception.Message)}", exception),
        };
    }

    internal static string CodeFor(Qcow2ErrorCode code) => code switch
    {
        Qcow2ErrorCode.NotQcow2 => ErrorCodes.NotQcow2,
        Qcow2ErrorCode.InvalidHeader or Qcow2ErrorCode.Corrupt => ErrorCodes.InvalidImage,
        Qcow2ErrorCode.Unsupported => ErrorCodes.Unsupported,
        Qcow2ErrorCode.MissingFile => ErrorCodes.MissingFile,
        Qcow2ErrorCode.BackingChain => ErrorCodes.BackingChain,
        Qcow2ErrorCode.ReadOnly => ErrorCodes.ReadOnly,
        Qcow2ErrorCode.Locked => ErrorCodes.Locked,
        Qcow2ErrorCode.SnapshotNotFound => ErrorCodes.SnapshotNotFound,
        Qcow2ErrorCode.InvalidArgument => ErrorCodes.InvalidArgument,
        Qcow2ErrorCode.Password => ErrorCodes.Password,
        _ => ErrorCodes.Io,
    };

    internal static string CodeFor(VolumeErrorCode code) => code switch
    {
        VolumeErrorCode.NotFound => ErrorCodes.NotFound,
        VolumeErrorCode.NotDirectory => ErrorCodes.NotDirectory,
        VolumeErrorCode.Busy => ErrorCodes.Busy,
        VolumeErrorCode.ReadOnly => ErrorCodes.ReadOnly,
        VolumeErrorCode.AccessDenied or VolumeErrorCode.SharingViolation => ErrorCodes.AccessDenied,
        VolumeErrorCode.InvalidArgument or VolumeErrorCode.InvalidHandle => ErrorCodes.InvalidArgument,
        VolumeErrorCode.NotSupported => ErrorCodes.Unsupported,
        _ => ErrorCodes.Io,
    };

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
