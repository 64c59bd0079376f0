namespace Qcow2Mount.Mounting;

/// <summary>
/// What a volume operation refused or failed with. Each OS adapter translates these codes once
/// (errno table in the FUSE adapter, <see cref="Windows.NtStatusTable"/> for the Windows adapters).
/// </summary>
public enum VolumeErrorCode
{
    /// <summary>No file or directory has that name.</summary>
    NotFound,
    /// <summary>A file operation was asked of a directory.</summary>
    IsDirectory,
    /// <summary>A directory operation was asked of a file, or a path goes through a file.</summary>
    NotDirectory,
    /// <summary>A write was attempted on a read-only volume or a read-only (snapshot) file.</summary>
    ReadOnly,
    /// <summary>The change is never allowed on this volume (its set of files is fixed).</summary>
    AccessDenied,
    /// <summary>An argument is out of range (negative offset, bad size).</summary>
    InvalidArgument,
    /// <summary>The operation does not apply to a fixed-size disk file (truncate, resize).</summary>
    NotSupported,
    /// <summary>Something with that name already exists.</summary>
    Exists,
    /// <summary>The disk behind the file failed.</summary>
    IoError,
    /// <summary>The mount point or file system is in use.</summary>
    Busy,
    /// <summary>Another open handle does not share the access asked for.</summary>
    SharingViolation,
    /// <summary>A write starts at or past the end of the fixed-size disk, or the host file system is full.</summary>
    NoSpace,
    /// <summary>The handle is not open on this volume.</summary>
    InvalidHandle,
}
