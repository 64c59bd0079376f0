using Qcow2Mount.Mounting;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Fuse;

/// <summary>The one translation from volume errors to Linux errno values, as FUSE callbacks return them (negated).</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int EOPNOTSUPP = 95;
    public const int ENOTCONN = 107;

    public static int From(VolumeErrorCode code) => code switch
    {
        VolumeErrorCode.NotFound => ENOENT,
        VolumeErrorCode.IsDirectory => EISDIR,
        VolumeErrorCode.NotDirectory => ENOTDIR,
        VolumeErrorCode.ReadOnly => EROFS,
        VolumeErrorCode.AccessDenied => EACCES,
        VolumeErrorCode.InvalidArgument => EINVAL,
        VolumeErrorCode.NotSupported => EOPNOTSUPP,
        VolumeErrorCode.Exists => EEXIST,
        VolumeErrorCode.IoError => EIO,
        VolumeErrorCode.Busy => EBUSY,
        VolumeErrorCode.SharingViolation => EBUSY,
        VolumeErrorCode.NoSpace => ENOSPC,
        VolumeErrorCode.InvalidHandle => EBADF,
        _ => EIO,
    };

    /// <summary>Any exception a callback caught, as the positive errno to negate; unknown exceptions are EIO.</summary>
    public static int From(Exception exception) => exception switch
    {
        VolumeException volume => From(volume.Code),
        Qcow2Exception engine => From(VolumeException.FromEngine(engine).Code),
        _ => EIO,
    };
}
