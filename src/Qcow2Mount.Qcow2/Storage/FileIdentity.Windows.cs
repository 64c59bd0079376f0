using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// The Windows half of <see cref="FileIdentity"/>: the volume serial number and the 64-bit file index that
/// GetFileInformationByHandle reports for a handle opened without access rights (metadata only, any sharing,
/// directories included), and GetFileType to tell files from pipes and devices.
/// </summary>
public readonly partial record struct FileIdentity
{
    private const uint OpenExisting = 3;
    private const uint FileShareAll = 0x1 | 0x2 | 0x4;
    private const uint FlagBackupSemantics = 0x0200_0000; // lets a directory be opened, to be told apart
    internal const uint FileTypeDisk = 0x0001;
    internal const uint AttributeDirectory = 0x0010;

    /// <summary>BY_HANDLE_FILE_INFORMATION, with each FILETIME as two 32-bit halves.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ByHandleFileInformation
    {
        public uint FileAttributes;
        public uint CreationTimeLow, CreationTimeHigh;
        public uint LastAccessTimeLow, LastAccessTimeHigh;
        public uint LastWriteTimeLow, LastWriteTimeHigh;
        public uint VolumeSerialNumber;
        public uint FileSizeHigh, FileSizeLow;
        public uint NumberOfLinks;
        public uint FileIndexHigh, FileIndexLow;
    }

    [SupportedOSPlatform("windows")]
    private static FileIdentity? OfWindowsFile(string path)
    {
        using var handle = CreateFile(path, 0, FileShareAll, 0, OpenExisting, FlagBackupSemantics, 0);
        if (handle.IsInvalid)
        {
            return null;
        }

        uint type = GetFileType(handle);
        if (!GetFileInformationByHandle(handle, out var info))
        {
            // Pipes and character devices (NUL, CON) have no file index: not regular, and told apart from nothing but each other.
            return type == FileTypeDisk ? null : FromWindowsInformation(0, 0, 0, 0, type);
        }

        return FromWindowsInformation(info.VolumeSerialNumber, info.FileIndexHigh, info.FileIndexLow, info.FileAttributes, type);
    }

    /// <summary>
    /// The identity from what Windows reports: volume serial number, the file index's two halves, the attributes
    /// and the handle's file type (a regular file is a disk file that is not a directory).
    /// </summary>
    internal static FileIdentity FromWindowsInformation(uint volumeSerial, uint fileIndexHigh, uint fileIndexLow, uint attributes, uint fileType) =>
        new(volumeSerial, ((ulong)fileIndexHigh << 32) | fileIndexLow, fileType == FileTypeDisk && (attributes & AttributeDirectory) == 0);

    [SupportedOSPlatform("windows")]
    [LibraryImport("kernel32.dll", EntryPoint = "CreateFileW", SetLastError = true, StringMarshalling = StringMarshalling.Utf16)]
    private static partial SafeFileHandle CreateFile(string fileName, uint desiredAccess, uint shareMode, nint securityAttributes,
        uint creationDisposition, uint flagsAndAttributes, nint templateFile);

    [SupportedOSPlatform("windows")]
    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool GetFileInformationByHandle(SafeFileHandle file, out ByHandleFileInformation information);

    [SupportedOSPlatform("windows")]
    [LibraryImport("kernel32.dll")]
    private static partial uint GetFileType(SafeFileHandle file);
}
