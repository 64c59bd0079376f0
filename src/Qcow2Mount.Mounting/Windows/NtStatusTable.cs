using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>The one translation from volume errors to NTSTATUS, shared by the WinFsp and Dokan adapters.</summary>
public static class NtStatusTable
{
    public static NtStatus From(VolumeErrorCode code) => code switch
    {
        VolumeErrorCode.NotFound => NtStatus.ObjectNameNotFound,
        VolumeErrorCode.IsDirectory => NtStatus.FileIsADirectory,
        VolumeErrorCode.NotDirectory => NtStatus.NotADirectory,
        VolumeErrorCode.ReadOnly => NtStatus.MediaWriteProtected,
        VolumeErrorCode.AccessDenied => NtStatus.AccessDenied,
        VolumeErrorCode.InvalidArgument => NtStatus.InvalidParameter,
        VolumeErrorCode.NotSupported => NtStatus.NotSupported,
        VolumeErrorCode.Exists => NtStatus.ObjectNameCollision,
        VolumeErrorCode.IoError => NtStatus.IoDeviceError,
        VolumeErrorCode.Busy => NtStatus.DeviceBusy,
        VolumeErrorCode.SharingViolation => NtStatus.SharingViolation,
        VolumeErrorCode.NoSpace => NtStatus.DiskFull,
        VolumeErrorCode.InvalidHandle => NtStatus.InvalidHandle,
        _ => NtStatus.IoDeviceError,
    };

    /// <summary>Any exception an operation threw: volume and engine errors by code, anything else is a device error.</summary>
    public static NtStatus From(Exception exception) => exception switch
    {
        VolumeException volume => From(volume.Code),
        Qcow2Exception engine => From(VolumeException.FromEngine(engine).Code),
        _ => NtStatus.IoDeviceError,
    };
}
