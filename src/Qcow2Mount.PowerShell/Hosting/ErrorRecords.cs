using System.Management.Automation;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Operations;

namespace Qcow2Mount.PowerShell.Hosting;

/// <summary>
/// The one table that turns the core's errors into PowerShell errors: an ErrorId per error code (scripts catch by
/// it, as they test the CLI's exit codes) and the category that fits. The target object is the image (or mount)
/// the pipeline item named.
/// </summary>
internal static class ErrorRecords
{
    private static readonly Dictionary<OperationErrorCode, (string Id, ErrorCategory Category)> ByCode = new()
    {
        [OperationErrorCode.InvalidOptions] = ("InvalidOptions", ErrorCategory.InvalidArgument),
        [OperationErrorCode.InvalidDestination] = ("InvalidDestination", ErrorCategory.InvalidArgument),
        [OperationErrorCode.Io] = ("IOError", ErrorCategory.ReadError),
        [OperationErrorCode.NotQcow2] = ("NotQcow2", ErrorCategory.InvalidData),
        [OperationErrorCode.InvalidHeader] = ("InvalidHeader", ErrorCategory.InvalidData),
        [OperationErrorCode.Unsupported] = ("Unsupported", ErrorCategory.NotImplemented),
        [OperationErrorCode.Corrupt] = ("CorruptImage", ErrorCategory.InvalidData),
        [OperationErrorCode.MissingFile] = ("FileNotFound", ErrorCategory.ObjectNotFound),
        [OperationErrorCode.BackingChain] = ("BackingChain", ErrorCategory.InvalidData),
        [OperationErrorCode.ReadOnly] = ("ImageReadOnly", ErrorCategory.PermissionDenied),
        [OperationErrorCode.Locked] = ("ImageLocked", ErrorCategory.ResourceBusy),
        [OperationErrorCode.SnapshotNotFound] = ("SnapshotNotFound", ErrorCategory.ObjectNotFound),
        [OperationErrorCode.OutOfRange] = ("OutOfRange", ErrorCategory.InvalidArgument),
        [OperationErrorCode.Password] = ("InvalidPassword", ErrorCategory.AuthenticationError),
        [OperationErrorCode.Service] = ("ServiceError", ErrorCategory.NotSpecified),
    };

    /// <summary>The mount service's own conditions, for <see cref="OperationErrorCode.Service"/>.</summary>
    private static readonly Dictionary<string, (string Id, ErrorCategory Category)> ByServiceCode = new(StringComparer.Ordinal)
    {
        [ErrorCodes.NotMounted] = ("NotMounted", ErrorCategory.ObjectNotFound),
        [ErrorCodes.NotFound] = ("NotMounted", ErrorCategory.ObjectNotFound),
        [ErrorCodes.Busy] = ("MountPointBusy", ErrorCategory.ResourceBusy),
        [ErrorCodes.NotDirectory] = ("MountPointNotDirectory", ErrorCategory.InvalidArgument),
        [ErrorCodes.FileSystemUnavailable] = ("FileSystemUnavailable", ErrorCategory.NotInstalled),
        [ErrorCodes.ServiceUnavailable] = ("ServiceUnavailable", ErrorCategory.ConnectionError),
        [ErrorCodes.ShuttingDown] = ("ServiceUnavailable", ErrorCategory.ConnectionError),
        [ErrorCodes.Timeout] = ("ServiceTimeout", ErrorCategory.OperationTimeout),
    };

    /// <summary>Every ErrorId the module writes, for its help and tests.</summary>
    public static IEnumerable<string> AllIds =>
        ByCode.Values.Select(v => v.Id).Concat(ByServiceCode.Values.Select(v => v.Id)).Append(ServiceExecutableNotFoundId).Distinct();

    public const string ServiceExecutableNotFoundId = "ServiceExecutableNotFound";

    public static ErrorRecord For(OperationException error, object? target)
    {
        var (id, category) = ByCode.TryGetValue(error.Code, out var known) ? known : ("OperationFailed", ErrorCategory.NotSpecified);
        if (error.Code == OperationErrorCode.Service && error.ServiceCode is { } serviceCode && ByServiceCode.TryGetValue(serviceCode, out var service))
        {
            (id, category) = service;
        }

        return new ErrorRecord(error, id, category, target);
    }

    public static ErrorRecord ServiceExecutableNotFound(string searched, object? target) =>
        new(new FileNotFoundException(
                $"The qcow2mount executable that runs the mount service was not found (looked at {searched}). "
                + $"Set ${ServiceExecutable.Variable} to its path, or put qcow2mount on PATH."),
            ServiceExecutableNotFoundId, ErrorCategory.NotInstalled, target);
}
