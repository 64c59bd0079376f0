using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;

namespace Qcow2Mount.Service.Logging;

/// <summary>
/// Every message the service logs, one source-generated method each: the template is parsed once, and nothing is
/// formatted or boxed when the level is off. The event ids are stable, for filters and the Windows event log.
/// </summary>
internal static partial class ServiceLog
{
    [LoggerMessage(1, LogLevel.Information, "qcow2mount service (pid {Pid}) listening at {Endpoint}")]
    public static partial void Listening(this ILogger logger, int pid, ControlEndpoint endpoint);

    [LoggerMessage(2, LogLevel.Information, "Stopping: unmounting {Count} mount(s)")]
    public static partial void Stopping(this ILogger logger, int count);

    [LoggerMessage(3, LogLevel.Information, "Stopped")]
    public static partial void Stopped(this ILogger logger);

    [LoggerMessage(4, LogLevel.Warning, "Accepting a connection failed: {Message}")]
    public static partial void AcceptFailed(this ILogger logger, string message);

    [LoggerMessage(5, LogLevel.Warning, "Refused a connection: {Count} clients are connected already")]
    public static partial void TooManyClients(this ILogger logger, int count);

    [LoggerMessage(6, LogLevel.Information, "Shutdown requested by a client")]
    public static partial void ShutdownRequested(this ILogger logger);

    [LoggerMessage(7, LogLevel.Debug, "A client connection ended: {Message}")]
    public static partial void ConnectionEnded(this ILogger logger, string message);

    [LoggerMessage(8, LogLevel.Information, "Removing the stale socket {Path} (no service answers there)")]
    public static partial void RemovingStaleSocket(this ILogger logger, string path);

    [LoggerMessage(9, LogLevel.Warning, "Refused a connection from user {Uid}: the service serves only user {Own}")]
    public static partial void RefusedUser(this ILogger logger, uint? uid, uint own);

    [LoggerMessage(10, LogLevel.Information, "{Op} refused: [{Code}] {Message}")]
    public static partial void Refused(this ILogger logger, string? op, string code, string message);

    [LoggerMessage(11, LogLevel.Error, "{Op} failed unexpectedly")]
    public static partial void FailedUnexpectedly(this ILogger logger, Exception exception, string? op);

    [LoggerMessage(12, LogLevel.Information, "Mounted {Image} ({Mode}) at {MountPoint}")]
    public static partial void Mounted(this ILogger logger, string image, string mode, string mountPoint);

    [LoggerMessage(13, LogLevel.Warning, "{Image}: {Repaired}")]
    public static partial void RepairedOnOpen(this ILogger logger, string image, string repaired);

    [LoggerMessage(14, LogLevel.Information, "{MountPoint}: {Partitions}")]
    public static partial void PartitionNote(this ILogger logger, string mountPoint, string partitions);

    [LoggerMessage(15, LogLevel.Information, "Unmounted {MountPoint} ({Image})")]
    public static partial void Unmounted(this ILogger logger, string mountPoint, string image);

    [LoggerMessage(16, LogLevel.Warning, "{MountPoint} still has open files; flushing {Image} before exit")]
    public static partial void StillOpen(this ILogger logger, string mountPoint, string image);

    [LoggerMessage(17, LogLevel.Error, "Unmounting {MountPoint} failed: {Message}")]
    public static partial void UnmountFailed(this ILogger logger, Exception exception, string mountPoint, string message);

    [LoggerMessage(18, LogLevel.Error, "Closing {Image} after unmounting {MountPoint} failed: {Message}")]
    public static partial void CloseFailed(this ILogger logger, Exception exception, string image, string mountPoint, string message);

    [LoggerMessage(19, LogLevel.Error, "Flushing {Image} before exit failed: {Message}")]
    public static partial void FlushBeforeExitFailed(this ILogger logger, Exception exception, string image, string message);

    [LoggerMessage(20, LogLevel.Warning, "Could not remove the overlay {Overlay}: {Message}")]
    public static partial void OverlayNotRemoved(this ILogger logger, string overlay, string message);
}
