using System.Diagnostics.CodeAnalysis;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting;

/// <summary>The one error type of the mounting layer: a code for adapters, a one-line message for people.</summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "Every instance carries its error code, which callers branch on; a constructor without one would make an error nobody can classify.")]
public sealed class VolumeException : Exception
{
    public VolumeException(VolumeErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public VolumeErrorCode Code { get; }

    /// <summary>The one translation from engine errors to volume errors; the engine's message is kept.</summary>
    public static VolumeException FromEngine(Qcow2Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new(exception.InnerException is IOException io && IsNoSpace(io) ? VolumeErrorCode.NoSpace : CodeFor(exception.Code),
            exception.Message, exception);
    }

    /// <summary>An engine error (<see cref="FromEngine"/>) or a host file's I/O error (<see cref="FromHost"/>).</summary>
    public static VolumeException From(Exception exception) => exception switch
    {
        Qcow2Exception engine => FromEngine(engine),
        IOException host => FromHost(host),
        _ => throw new ArgumentException($"Not an engine or I/O error: {exception.GetType().Name}", nameof(exception)),
    };

    /// <summary>A host file's own I/O error, which the engine lets through: a full disk or quota becomes NoSpace.</summary>
    public static VolumeException FromHost(IOException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new(IsNoSpace(exception) ? VolumeErrorCode.NoSpace : VolumeErrorCode.IoError, exception.Message.ReplaceLineEndings(" "), exception);
    }

    /// <summary>
    /// .NET keeps the OS error in HResult for I/O errors it has no type of its own for: errno on Linux (ENOSPC 28,
    /// EDQUOT 122), HRESULT_FROM_WIN32 on Windows (ERROR_HANDLE_DISK_FULL 39, ERROR_DISK_FULL 112).
    /// </summary>
    private static bool IsNoSpace(IOException exception) => OperatingSystem.IsWindows()
        ? (exception.HResult & 0xFFFF) is 39 or 112
        : exception.HResult is 28 or 122;

    internal static VolumeErrorCode CodeFor(Qcow2ErrorCode code) => code switch
    {
        Qcow2ErrorCode.ReadOnly => VolumeErrorCode.ReadOnly,
        Qcow2ErrorCode.InvalidArgument => VolumeErrorCode.InvalidArgument,
        Qcow2ErrorCode.Unsupported => VolumeErrorCode.NotSupported,
        Qcow2ErrorCode.Locked => VolumeErrorCode.Busy,
        Qcow2ErrorCode.SnapshotNotFound => VolumeErrorCode.NotFound,
        Qcow2ErrorCode.Password => VolumeErrorCode.AccessDenied,
        // Corrupt metadata, a vanished backing file or a failing host file all look like a bad disk to a reader.
        _ => VolumeErrorCode.IoError,
    };
}
