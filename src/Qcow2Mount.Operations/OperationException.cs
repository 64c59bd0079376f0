using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>
/// The one error of the operations core: a <see cref="OperationErrorCode">code</see> for front ends to translate,
/// and a one-line message that names files and values but no front end's flags. Cancellation is not an error: a
/// cancelled operation throws <see cref="OperationCanceledException"/>.
/// </summary>
public sealed class OperationException : Exception
{
    public OperationException(OperationErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public OperationException(OperationErrorCode code, string message, string? option, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        Option = option;
    }

    public OperationException()
        : this(OperationErrorCode.InvalidOptions, "The operation failed.")
    {
    }

    public OperationException(string message)
        : this(OperationErrorCode.InvalidOptions, message)
    {
    }

    public OperationException(string message, Exception inner)
        : this(OperationErrorCode.InvalidOptions, message, inner)
    {
    }

    public OperationErrorCode Code { get; }

    /// <summary>
    /// For <see cref="OperationErrorCode.InvalidOptions"/>: the options property at fault (its C# name, e.g.
    /// <c>Workers</c>), so a front end can name its own spelling of it; null when no single one is.
    /// </summary>
    public string? Option { get; }

    /// <summary>For errors of the mount service: the protocol's code (<see cref="ErrorCodes"/>); null otherwise.</summary>
    public string? ServiceCode { get; private init; }

    /// <summary>
    /// The one place where failures of the layers below become operation errors: the engine's
    /// <see cref="Qcow2Exception"/>, the control protocol's <see cref="ControlException"/> and the host's file
    /// errors. Anything else (a bug) is returned as it is.
    /// </summary>
    public static Exception Translate(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            OperationException or OperationCanceledException => exception,
            Qcow2Exception engine => new OperationException(CodeFor(engine.Code), engine.Message, engine),
            ControlException control => FromService(control.Code, control.Message, control),
            FileNotFoundException or DirectoryNotFoundException => new OperationException(OperationErrorCode.MissingFile, exception.Message, exception),
            UnauthorizedAccessException or IOException => new OperationException(OperationErrorCode.Io, exception.Message, exception),
            _ => exception,
        };
    }

    /// <summary>An error the mount service reported with protocol code <paramref name="serviceCode"/>.</summary>
    public static OperationException FromService(string serviceCode, string message, Exception? inner = null) =>
        new(CodeForService(serviceCode), message, inner) { ServiceCode = serviceCode };

    /// <summary>Service codes that name an engine condition keep that condition's code; the rest are <see cref="OperationErrorCode.Service"/>.</summary>
    public static OperationErrorCode CodeForService(string serviceCode) => serviceCode switch
    {
        ErrorCodes.NotQcow2 => OperationErrorCode.NotQcow2,
        ErrorCodes.MissingFile => OperationErrorCode.MissingFile,
        ErrorCodes.Locked => OperationErrorCode.Locked,
        ErrorCodes.SnapshotNotFound => OperationErrorCode.SnapshotNotFound,
        ErrorCodes.InvalidImage => OperationErrorCode.Corrupt,
        ErrorCodes.Unsupported => OperationErrorCode.Unsupported,
        ErrorCodes.BackingChain => OperationErrorCode.BackingChain,
        ErrorCodes.ReadOnly => OperationErrorCode.ReadOnly,
        ErrorCodes.Password => OperationErrorCode.Password,
        ErrorCodes.Io or ErrorCodes.AccessDenied => OperationErrorCode.Io,
        // Contradicting mount options, a directory given as the image.
        ErrorCodes.InvalidArgument => OperationErrorCode.InvalidOptions,
        _ => OperationErrorCode.Service,
    };

    public static OperationErrorCode CodeFor(Qcow2ErrorCode code) => code switch
    {
        Qcow2ErrorCode.NotQcow2 => OperationErrorCode.NotQcow2,
        Qcow2ErrorCode.InvalidHeader => OperationErrorCode.InvalidHeader,
        Qcow2ErrorCode.Unsupported => OperationErrorCode.Unsupported,
        Qcow2ErrorCode.Corrupt => OperationErrorCode.Corrupt,
        Qcow2ErrorCode.MissingFile => OperationErrorCode.MissingFile,
        Qcow2ErrorCode.BackingChain => OperationErrorCode.BackingChain,
        Qcow2ErrorCode.ReadOnly => OperationErrorCode.ReadOnly,
        Qcow2ErrorCode.Locked => OperationErrorCode.Locked,
        Qcow2ErrorCode.SnapshotNotFound => OperationErrorCode.SnapshotNotFound,
        Qcow2ErrorCode.InvalidArgument => OperationErrorCode.OutOfRange,
        Qcow2ErrorCode.Password => OperationErrorCode.Password,
        _ => OperationErrorCode.Io,
    };

    internal static OperationException Invalid(string option, string message) =>
        new(OperationErrorCode.InvalidOptions, message, option);
}
