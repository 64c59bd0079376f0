using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>The NTSTATUS values the Windows adapters return (names are the STATUS_* constants without the prefix).</summary>
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "NTSTATUS values are 32-bit unsigned constants (0xC0000000 and up); the drivers take them as they are.")]
public enum NtStatus : uint
{
    /// <summary>STATUS_SUCCESS</summary>
    Success = 0x00000000,
    /// <summary>STATUS_DEVICE_BUSY</summary>
    DeviceBusy = 0x80000011,
    /// <summary>STATUS_NO_MORE_FILES</summary>
    NoMoreFiles = 0x80000006,
    /// <summary>STATUS_INVALID_HANDLE</summary>
    InvalidHandle = 0xC0000008,
    /// <summary>STATUS_INVALID_PARAMETER</summary>
    InvalidParameter = 0xC000000D,
    /// <summary>STATUS_INVALID_DEVICE_REQUEST</summary>
    InvalidDeviceRequest = 0xC0000010,
    /// <summary>STATUS_END_OF_FILE</summary>
    EndOfFile = 0xC0000011,
    /// <summary>STATUS_ACCESS_DENIED</summary>
    AccessDenied = 0xC0000022,
    /// <summary>STATUS_OBJECT_NAME_INVALID</summary>
    ObjectNameInvalid = 0xC0000033,
    /// <summary>STATUS_OBJECT_NAME_NOT_FOUND</summary>
    ObjectNameNotFound = 0xC0000034,
    /// <summary>STATUS_OBJECT_NAME_COLLISION</summary>
    ObjectNameCollision = 0xC0000035,
    /// <summary>STATUS_OBJECT_PATH_NOT_FOUND</summary>
    ObjectPathNotFound = 0xC000003A,
    /// <summary>STATUS_SHARING_VIOLATION</summary>
    SharingViolation = 0xC0000043,
    /// <summary>STATUS_DISK_FULL</summary>
    DiskFull = 0xC000007F,
    /// <summary>STATUS_MEDIA_WRITE_PROTECTED</summary>
    MediaWriteProtected = 0xC00000A2,
    /// <summary>STATUS_FILE_IS_A_DIRECTORY</summary>
    FileIsADirectory = 0xC00000BA,
    /// <summary>STATUS_NOT_SUPPORTED</summary>
    NotSupported = 0xC00000BB,
    /// <summary>STATUS_NOT_A_DIRECTORY</summary>
    NotADirectory = 0xC0000103,
    /// <summary>STATUS_DIRECTORY_NOT_EMPTY</summary>
    DirectoryNotEmpty = 0xC0000101,
    /// <summary>STATUS_IO_DEVICE_ERROR</summary>
    IoDeviceError = 0xC0000185,
}
