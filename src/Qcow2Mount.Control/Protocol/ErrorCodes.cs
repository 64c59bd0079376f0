namespace Qcow2Mount.Control.Protocol;

/// <summary>
/// The one error model of the service, as the protocol carries it (<c>error.code</c>). Codes are stable strings:
/// front ends map them to exit codes; people read the message.
/// </summary>
public static class ErrorCodes
{
    // The request itself.
    public const string MalformedRequest = "malformed_request";
    public const string UnsupportedVersion = "unsupported_version";
    public const string UnknownOperation = "unknown_operation";
    public const string RequestTooLarge = "request_too_large";
    public const string InvalidArgument = "invalid_argument";

    // The image.
    public const string NotFound = "not_found";
    public const string NotQcow2 = "not_qcow2";
    public const string InvalidImage = "invalid_image";
    public const string Unsupported = "unsupported";
    public const string MissingFile = "missing_file";
    public const string BackingChain = "backing_chain";
    public const string SnapshotNotFound = "snapshot_not_found";
    public const string Locked = "locked";
    public const string ReadOnly = "read_only";
    public const string AccessDenied = "access_denied";
    public const string Io = "io_error";

    /// <summary>An encrypted image needs a password that was not given, or the one given is wrong.</summary>
    public const string Password = "password";

    // The mount point and the mount table.
    public const string NotDirectory = "not_directory";
    public const string Busy = "busy";
    public const string NotMounted = "not_mounted";
    public const string FileSystemUnavailable = "filesystem_unavailable";

    // The service and the connection to it.
    public const string ServiceUnavailable = "service_unavailable";
    public const string ShuttingDown = "shutting_down";
    public const string Timeout = "timeout";
    public const string Internal = "internal_error";
}
