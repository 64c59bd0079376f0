namespace Qcow2Mount.Operations;

/// <summary>
/// Why an operation failed, for front ends to translate once (the CLI into exit codes, the PowerShell module into
/// error categories). The engine's conditions keep their own codes; the rest say which side was wrong.
/// </summary>
public enum OperationErrorCode
{
    /// <summary>The options make no sense together or are out of range (workers 0, force-share with repair, ...).</summary>
    InvalidOptions,

    /// <summary>
    /// The destination cannot be replaced: a directory, a pipe or device, or the same file as an input. Nothing was
    /// written.
    /// </summary>
    InvalidDestination,

    /// <summary>The host file failed (I/O error, permission, disk full).</summary>
    Io,

    /// <summary>The file is not a qcow2 image.</summary>
    NotQcow2,

    /// <summary>A qcow2 header field is out of range or inconsistent.</summary>
    InvalidHeader,

    /// <summary>A feature this program does not implement.</summary>
    Unsupported,

    /// <summary>Image metadata points somewhere impossible.</summary>
    Corrupt,

    /// <summary>The image, a backing file or a data file does not exist.</summary>
    MissingFile,

    /// <summary>The backing chain loops or is too deep.</summary>
    BackingChain,

    /// <summary>A write to an image opened (or only openable) read-only.</summary>
    ReadOnly,

    /// <summary>Another process (QEMU, a writable mount) holds the image.</summary>
    Locked,

    /// <summary>The named internal snapshot does not exist.</summary>
    SnapshotNotFound,

    /// <summary>An offset or size lies outside the image (the engine's range checks).</summary>
    OutOfRange,

    /// <summary>An encrypted image's password is missing (the password provider declined) or wrong.</summary>
    Password,

    /// <summary>
    /// The mount service refused or could not be reached (mount point missing or busy, nothing mounted there, no
    /// service running); <see cref="OperationException.ServiceCode"/> holds the protocol's code.
    /// </summary>
    Service,
}
