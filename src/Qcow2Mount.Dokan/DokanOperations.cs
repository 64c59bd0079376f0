using System.Runtime.Versioning;
using System.Security.AccessControl;
using DokanNet;
using LTRData.Extensions.Native.Memory;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Windows;
using DokanStatus = DokanNet.NtStatus;
using FileAccess = DokanNet.FileAccess;
using NtStatus = Qcow2Mount.Mounting.Windows.NtStatus;

namespace Qcow2Mount.Dokan;

/// <summary>
/// The Dokan callbacks (the low-allocation <see cref="IDokanOperations2"/>): each one marshals a request to
/// <see cref="WindowsVolume"/>, which decides the status. Managed code only; <see cref="DokanHost"/> is what loads
/// the driver. The file context is the <see cref="OpenFile"/> of the handle the create opened.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class DokanOperations(WindowsVolume volume, Action<string>? log) : IDokanOperations2
{
    private readonly TaskCompletionSource<string> _mounted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _unmounted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WindowsVolume Volume => volume;

    /// <summary>Completes with the mount point once Dokan reports the file system mounted.</summary>
    public Task<string> MountedTask => _mounted.Task;

    /// <summary>Completes when Dokan reports the file system unmounted.</summary>
    public Task UnmountedTask => _unmounted.Task;

    public int DirectoryListingTimeoutResetIntervalMs => 0;

    public DokanStatus CreateFile(ReadOnlyNativeMemory<char> fileNamePtr, FileAccess access, FileShare share, FileMode mode,
        FileOptions options, FileAttributes attributes, ref DokanFileInfo info)
    {
        try
        {
            var createOptions = (info.IsDirectory ? WindowsCreateOptions.DirectoryFile : 0)
                | (options.HasFlag(FileOptions.DeleteOnClose) ? WindowsCreateOptions.DeleteOnClose : 0)
                | (options.HasFlag(FileOptions.WriteThrough) ? WindowsCreateOptions.WriteThrough : 0);
            var outcome = volume.Create(new WindowsCreateRequest(fileNamePtr.ToString(), DispositionOf(mode),
                (WindowsAccess)(uint)access, (WindowsShareAccess)(uint)share, createOptions));
            if (!outcome.Succeeded)
            {
                return Status(outcome.Status);
            }

            info.IsDirectory = outcome.Node!.IsDirectory;
            info.Context = new OpenFile(outcome.Handle, outcome.Node);
            // Opening an existing file with OPEN_ALWAYS answers STATUS_OBJECT_NAME_COLLISION, as Win32 expects.
            return mode == FileMode.OpenOrCreate ? DokanStatus.ObjectNameCollision : DokanStatus.Success;
        }
#pragma warning disable CA1031 // Called by the Dokan driver: any failure becomes a status and a log line (WindowsVolume.Fail).
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Status(volume.Fail(nameof(CreateFile), e));
        }
    }

    public void Cleanup(ReadOnlyNativeMemory<char> fileNamePtr, ref DokanFileInfo info)
    {
        if (info.Context is OpenFile file && volume.Cleanup(file.Handle) is var status and not NtStatus.Success)
        {
            log?.Invoke($"Cleanup of '{fileNamePtr}' could not flush: {status}");
        }
    }

    public void CloseFile(ReadOnlyNativeMemory<char> fileNamePtr, ref DokanFileInfo info)
    {
        if (info.Context is OpenFile file)
        {
            volume.Close(file.Handle);
            info.Context = null;
        }
    }

    public DokanStatus ReadFile(ReadOnlyNativeMemory<char> fileNamePtr, NativeMemory<byte> buffer, out int bytesRead,
        long offset, ref DokanFileInfo info)
    {
        bytesRead = 0;
        return info.Context is OpenFile file
            ? Status(volume.Read(file.Handle, offset, buffer.Span, out bytesRead, WindowsEndOfFile.Success))
            : DokanStatus.InvalidHandle;
    }

    public DokanStatus WriteFile(ReadOnlyNativeMemory<char> fileNamePtr, ReadOnlyNativeMemory<byte> buffer,
        out int bytesWritten, long offset, ref DokanFileInfo info)
    {
        bytesWritten = 0;
        if (info.Context is not OpenFile file)
        {
            return DokanStatus.InvalidHandle;
        }

        var data = buffer.Span;
        if (info.WriteToEndOfFile)
        {
            offset = file.Node.Length;
        }
        else if (info.PagingIo)
        {
            // Paging I/O never extends the file: only what lies inside it is written.
            data = data[..(int)Math.Clamp(file.Node.Length - offset, 0, data.Length)];
            if (data.IsEmpty)
            {
                return DokanStatus.Success;
            }
        }

        return Status(volume.Write(file.Handle, offset, data, out bytesWritten));
    }

    public DokanStatus FlushFileBuffers(ReadOnlyNativeMemory<char> fileNamePtr, ref DokanFileInfo info) =>
        info.Context is OpenFile file ? Status(volume.Flush(file.Handle)) : Status(volume.FlushVolume());

    public DokanStatus GetFileInformation(ReadOnlyNativeMemory<char> fileNamePtr, out ByHandleFileInformation fileInfo,
        ref DokanFileInfo info)
    {
        fileInfo = default;
        if (info.Context is not OpenFile file)
        {
            return DokanStatus.InvalidHandle;
        }

        var entry = volume.InfoOf(file.Node);
        fileInfo = new ByHandleFileInformation
        {
            Attributes = entry.Attributes,
            CreationTime = entry.Times.Creation.UtcDateTime,
            LastAccessTime = entry.Times.LastAccess.UtcDateTime,
            LastWriteTime = entry.Times.LastWrite.UtcDateTime,
            Length = entry.Size,
            NumberOfLinks = 1,
            FileIndex = (long)entry.IndexNumber,
        };
        return DokanStatus.Success;
    }

    public DokanStatus FindFiles(ReadOnlyNativeMemory<char> fileNamePtr, out IEnumerable<FindFileInformation> files,
        ref DokanFileInfo info) => FindFilesWithPattern(fileNamePtr, default, out files, ref info);

    public DokanStatus FindFilesWithPattern(ReadOnlyNativeMemory<char> fileNamePtr, ReadOnlyNativeMemory<char> searchPatternPtr,
        out IEnumerable<FindFileInformation> files, ref DokanFileInfo info)
    {
        files = [];
        string? pattern = searchPatternPtr.IsNull || searchPatternPtr.IsEmpty ? null : searchPatternPtr.ToString();
        // Dokan adds "." and ".." itself.
        var status = volume.List(fileNamePtr.ToString(), pattern, marker: null, includeDotEntries: false, out var entries);
        if (status != NtStatus.Success)
        {
            return Status(status);
        }

        files = entries.Select(entry => new FindFileInformation
        {
            FileName = entry.Name.AsMemory(),
            Attributes = entry.Attributes,
            CreationTime = entry.Times.Creation.UtcDateTime,
            LastAccessTime = entry.Times.LastAccess.UtcDateTime,
            LastWriteTime = entry.Times.LastWrite.UtcDateTime,
            Length = entry.Size,
        }).ToList();
        return DokanStatus.Success;
    }

    public DokanStatus SetFileAttributes(ReadOnlyNativeMemory<char> fileNamePtr, FileAttributes attributes, ref DokanFileInfo info) =>
        WithHandle(info, volume.SetBasicInfo);

    public DokanStatus SetFileTime(ReadOnlyNativeMemory<char> fileNamePtr, DateTime? creationTime, DateTime? lastAccessTime,
        DateTime? lastWriteTime, ref DokanFileInfo info) => WithHandle(info, volume.SetBasicInfo);

    public DokanStatus DeleteFile(ReadOnlyNativeMemory<char> fileNamePtr, ref DokanFileInfo info) => WithHandle(info, volume.CanDelete);

    public DokanStatus DeleteDirectory(ReadOnlyNativeMemory<char> fileNamePtr, ref DokanFileInfo info) => WithHandle(info, volume.CanDelete);

    public DokanStatus MoveFile(ReadOnlyNativeMemory<char> oldNamePtr, ReadOnlyNativeMemory<char> newNamePtr, bool replace,
        ref DokanFileInfo info) => WithHandle(info, volume.Rename);

    public DokanStatus SetEndOfFile(ReadOnlyNativeMemory<char> fileNamePtr, long length, ref DokanFileInfo info) =>
        info.Context is OpenFile file ? Status(volume.SetFileSize(file.Handle, length)) : DokanStatus.InvalidHandle;

    public DokanStatus SetAllocationSize(ReadOnlyNativeMemory<char> fileNamePtr, long length, ref DokanFileInfo info)
    {
        if (info.Context is not OpenFile file)
        {
            return DokanStatus.InvalidHandle;
        }

        // An allocation size at or above the file's length changes nothing that can be seen.
        return Status(volume.SetFileSize(file.Handle, length >= file.Node.Length ? file.Node.Length : length));
    }

    /// <summary>Byte-range locks: Dokan keeps them in the driver when it does not get an answer; the volume keeps none.</summary>
    public DokanStatus LockFile(ReadOnlyNativeMemory<char> fileNamePtr, long offset, long length, ref DokanFileInfo info) =>
        DokanStatus.NotImplemented;

    public DokanStatus UnlockFile(ReadOnlyNativeMemory<char> fileNamePtr, long offset, long length, ref DokanFileInfo info) =>
        DokanStatus.NotImplemented;

    public DokanStatus GetDiskFreeSpace(out long freeBytesAvailable, out long totalNumberOfBytes, out long totalNumberOfFreeBytes,
        ref DokanFileInfo info)
    {
        var volumeInfo = volume.VolumeInfo;
        freeBytesAvailable = volumeInfo.FreeBytes;
        totalNumberOfBytes = volumeInfo.TotalBytes;
        totalNumberOfFreeBytes = volumeInfo.FreeBytes;
        return DokanStatus.Success;
    }

    public DokanStatus GetVolumeInformation(NativeMemory<char> volumeLabel, out FileSystemFeatures features,
        NativeMemory<char> fileSystemName, out uint maximumComponentLength, ref uint volumeSerialNumber, ref DokanFileInfo info)
    {
        var volumeInfo = volume.VolumeInfo;
        features = (FileSystemFeatures)(uint)volumeInfo.Flags;
        maximumComponentLength = (uint)volumeInfo.MaxComponentLength;
        volumeSerialNumber = volumeInfo.SerialNumber;
        CopyTerminated(volumeInfo.Label, volumeLabel.Span);
        CopyTerminated(volumeInfo.FileSystemName, fileSystemName.Span);
        return DokanStatus.Success;
    }

    public DokanStatus GetFileSecurity(ReadOnlyNativeMemory<char> fileNamePtr, out FileSystemSecurity? security,
        AccessControlSections sections, ref DokanFileInfo info)
    {
        security = null;
        var status = GetSecurityDescriptor(info, out byte[] descriptor);
        if (status != DokanStatus.Success)
        {
            return status;
        }

        FileSystemSecurity result = ((OpenFile)info.Context!).Node.IsDirectory ? new DirectorySecurity() : new FileSecurity();
        result.SetSecurityDescriptorBinaryForm(descriptor, sections);
        security = result;
        return DokanStatus.Success;
    }

    /// <summary>
    /// The descriptor <see cref="GetFileSecurity"/> answers with, as bytes (the security classes it is wrapped in
    /// work on Windows only).
    /// </summary>
    internal DokanStatus GetSecurityDescriptor(in DokanFileInfo info, out byte[] descriptor)
    {
        descriptor = [];
        return info.Context is OpenFile file ? Status(volume.GetSecurity(file.Handle, out descriptor)) : DokanStatus.InvalidHandle;
    }

    public DokanStatus SetFileSecurity(ReadOnlyNativeMemory<char> fileNamePtr, FileSystemSecurity security,
        AccessControlSections sections, ref DokanFileInfo info) => WithHandle(info, volume.SetSecurity);

    public DokanStatus Mounted(ReadOnlyNativeMemory<char> mountPoint, ref DokanFileInfo info)
    {
        _mounted.TrySetResult(mountPoint.ToString());
        return DokanStatus.Success;
    }

    public DokanStatus Unmounted(ref DokanFileInfo info)
    {
        _unmounted.TrySetResult();
        return DokanStatus.Success;
    }

    /// <summary>No alternate streams: a file lists its unnamed data stream, a directory nothing.</summary>
    public DokanStatus FindStreams(ReadOnlyNativeMemory<char> fileNamePtr, out IEnumerable<FindFileInformation> streams,
        ref DokanFileInfo info)
    {
        streams = [];
        if (info.Context is not OpenFile file)
        {
            return DokanStatus.InvalidHandle;
        }

        if (!file.Node.IsDirectory)
        {
            streams = [new FindFileInformation { FileName = "::$DATA".AsMemory(), Length = file.Node.Length }];
        }

        return DokanStatus.Success;
    }

    /// <summary>Win32 creation dispositions (what Dokan hands over as <see cref="FileMode"/>) as NT ones.</summary>
    internal static WindowsCreateDisposition DispositionOf(FileMode mode) => mode switch
    {
        FileMode.CreateNew => WindowsCreateDisposition.Create,
        FileMode.Create => WindowsCreateDisposition.OverwriteIf,
        FileMode.Open => WindowsCreateDisposition.Open,
        FileMode.OpenOrCreate => WindowsCreateDisposition.OpenIf,
        FileMode.Truncate => WindowsCreateDisposition.Overwrite,
        FileMode.Append => WindowsCreateDisposition.OpenIf,
        _ => (WindowsCreateDisposition)uint.MaxValue,
    };

    internal static DokanStatus Status(NtStatus status) => (DokanStatus)(long)(uint)status;

    private static DokanStatus WithHandle(in DokanFileInfo info, Func<ulong, NtStatus> operation) =>
        info.Context is OpenFile file ? Status(operation(file.Handle)) : DokanStatus.InvalidHandle;

    private static void CopyTerminated(string text, Span<char> destination)
    {
        if (destination.IsEmpty)
        {
            return;
        }

        int length = Math.Min(text.Length, destination.Length - 1);
        text.AsSpan(0, length).CopyTo(destination);
        destination[length] = '\0';
    }
}

/// <summary>An open handle on the volume and the node it is on (Dokan's file context).</summary>
internal sealed record OpenFile(ulong Handle, VolumeNode Node);
