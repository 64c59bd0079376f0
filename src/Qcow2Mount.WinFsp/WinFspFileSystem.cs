using System.Buffers.Binary;
using System.Runtime.Versioning;
using Fsp;
using Qcow2Mount.Mounting.Windows;
using FileInfo = Fsp.Interop.FileInfo;
using VolumeInfo = Fsp.Interop.VolumeInfo;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The WinFsp callbacks: each one marshals a request to <see cref="WindowsVolume"/>, which decides the status.
/// Managed code only; <see cref="WinFspHost"/> is what loads the driver. FileNode and FileDesc are the same
/// <see cref="OpenFile"/> (the host sets UmFileContextIsFullContext).
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WinFspFileSystem(WindowsVolume volume, Action<string>? log) : FileSystemBase
{
    /// <summary>FSCTL_SET_ZERO_DATA (winioctl.h).</summary>
    internal const uint FsctlSetZeroData = 0x000980C8;

    private readonly TaskCompletionSource _unmounted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WindowsVolume Volume => volume;

    /// <summary>Completes when WinFsp reports the file system stopped (after <see cref="Unmounted"/>).</summary>
    public Task UnmountedTask => _unmounted.Task;

    public override int ExceptionHandler(Exception ex) => (int)volume.Fail("WinFsp callback", ex);

    public override void Unmounted(object Host) => _unmounted.TrySetResult();

    public override int GetVolumeInfo(out VolumeInfo VolumeInfo)
    {
        VolumeInfo = default;
        var info = volume.VolumeInfo;
        VolumeInfo.TotalSize = (ulong)info.TotalBytes;
        VolumeInfo.FreeSize = (ulong)info.FreeBytes;
        VolumeInfo.SetVolumeLabel(info.Label);
        return STATUS_SUCCESS;
    }

    public override int SetVolumeLabel(string VolumeLabel, out VolumeInfo VolumeInfo)
    {
        GetVolumeInfo(out VolumeInfo);
        return (int)(volume.Volume.IsReadOnly ? NtStatus.MediaWriteProtected : NtStatus.AccessDenied);
    }

    public override int GetSecurityByName(string FileName, out uint FileAttributes, ref byte[] SecurityDescriptor)
    {
        var status = volume.GetSecurityByName(FileName, out var attributes, out var descriptor);
        FileAttributes = (uint)attributes;
        if (status == NtStatus.Success && SecurityDescriptor is not null)
        {
            SecurityDescriptor = descriptor;
        }

        return (int)status;
    }

    public override int Create(string FileName, uint CreateOptions, uint GrantedAccess, uint FileAttributes,
        byte[] SecurityDescriptor, ulong AllocationSize, out object FileNode, out object FileDesc, out FileInfo FileInfo,
        out string NormalizedName)
    {
        // WinFsp calls Create only for a name that does not exist: the volume refuses every new name.
        return Open(FileName, CreateOptions, GrantedAccess, WindowsCreateDisposition.Create, out FileNode, out FileDesc,
            out FileInfo, out NormalizedName);
    }

    public override int Open(string FileName, uint CreateOptions, uint GrantedAccess, out object FileNode,
        out object FileDesc, out FileInfo FileInfo, out string NormalizedName) =>
        Open(FileName, CreateOptions, GrantedAccess, WindowsCreateDisposition.Open, out FileNode, out FileDesc,
            out FileInfo, out NormalizedName);

    public override int Overwrite(object FileNode, object FileDesc, uint FileAttributes, bool ReplaceFileAttributes,
        ulong AllocationSize, out FileInfo FileInfo)
    {
        FileInfo = default;
        return (int)volume.Overwrite(Handle(FileDesc));
    }

    public override void Cleanup(object FileNode, object FileDesc, string FileName, uint Flags)
    {
        if (FileDesc is OpenFile file && volume.Cleanup(file.Handle) is var status and not NtStatus.Success)
        {
            log?.Invoke($"Cleanup of '{FileName}' could not flush: {status}");
        }
    }

    public override void Close(object FileNode, object FileDesc)
    {
        if (FileDesc is OpenFile file)
        {
            volume.Close(file.Handle);
        }
    }

    public override unsafe int Read(object FileNode, object FileDesc, IntPtr Buffer, ulong Offset, uint Length,
        out uint BytesTransferred)
    {
        BytesTransferred = 0;
        if (Offset > long.MaxValue || Length > int.MaxValue)
        {
            return Code(NtStatus.InvalidParameter);
        }

        var status = volume.Read(Handle(FileDesc), (long)Offset, new Span<byte>((void*)Buffer, (int)Length), out int read,
            WindowsEndOfFile.EndOfFileStatus);
        BytesTransferred = (uint)read;
        return (int)status;
    }

    public override unsafe int Write(object FileNode, object FileDesc, IntPtr Buffer, ulong Offset, uint Length,
        bool WriteToEndOfFile, bool ConstrainedIo, out uint BytesTransferred, out FileInfo FileInfo)
    {
        BytesTransferred = 0;
        FileInfo = default;
        var file = (OpenFile)FileDesc;
        long offset = WriteToEndOfFile ? file.Node.Length : (long)Math.Min(Offset, long.MaxValue);
        var data = new ReadOnlySpan<byte>((void*)Buffer, (int)Math.Min(Length, int.MaxValue));
        if (ConstrainedIo)
        {
            // Paging I/O never extends the file: only what lies inside it is written.
            data = data[..(int)Math.Clamp(file.Node.Length - offset, 0, data.Length)];
            if (data.IsEmpty)
            {
                return Info(file, out FileInfo);
            }
        }

        var status = volume.Write(file.Handle, offset, data, out int written);
        BytesTransferred = (uint)written;
        return status == NtStatus.Success ? Info(file, out FileInfo) : (int)status;
    }

    public override int Flush(object FileNode, object FileDesc, out FileInfo FileInfo)
    {
        FileInfo = default;
        if (FileDesc is not OpenFile file)
        {
            return (int)volume.FlushVolume();
        }

        var status = volume.Flush(file.Handle);
        return status == NtStatus.Success ? Info(file, out FileInfo) : (int)status;
    }

    public override int GetFileInfo(object FileNode, object FileDesc, out FileInfo FileInfo) =>
        Info((OpenFile)FileDesc, out FileInfo);

    public override int SetBasicInfo(object FileNode, object FileDesc, uint FileAttributes, ulong CreationTime,
        ulong LastAccessTime, ulong LastWriteTime, ulong ChangeTime, out FileInfo FileInfo)
    {
        FileInfo = default;
        var status = volume.SetBasicInfo(Handle(FileDesc));
        return status == NtStatus.Success ? Info((OpenFile)FileDesc, out FileInfo) : (int)status;
    }

    public override int SetFileSize(object FileNode, object FileDesc, ulong NewSize, bool SetAllocationSize,
        out FileInfo FileInfo)
    {
        FileInfo = default;
        var file = (OpenFile)FileDesc;
        // An allocation size at or above the file's length changes nothing that can be seen.
        long size = SetAllocationSize && NewSize >= (ulong)file.Node.Length ? file.Node.Length : (long)Math.Min(NewSize, long.MaxValue);
        var status = volume.SetFileSize(file.Handle, size);
        return status == NtStatus.Success ? Info(file, out FileInfo) : (int)status;
    }

    public override int CanDelete(object FileNode, object FileDesc, string FileName) => (int)volume.CanDelete(Handle(FileDesc));

    public override int Rename(object FileNode, object FileDesc, string FileName, string NewFileName, bool ReplaceIfExists) =>
        (int)volume.Rename(Handle(FileDesc));

    public override int GetSecurity(object FileNode, object FileDesc, ref byte[] SecurityDescriptor)
    {
        var status = volume.GetSecurity(Handle(FileDesc), out var descriptor);
        if (status == NtStatus.Success)
        {
            SecurityDescriptor = descriptor;
        }

        return (int)status;
    }

    public override int SetSecurity(object FileNode, object FileDesc, System.Security.AccessControl.AccessControlSections Sections,
        byte[] SecurityDescriptor) => (int)volume.SetSecurity(Handle(FileDesc));

    public override bool ReadDirectoryEntry(object FileNode, object FileDesc, string Pattern, string Marker,
        ref object Context, out string FileName, out FileInfo FileInfo)
    {
        FileName = "";
        FileInfo = default;
        if (Context is not DirectoryCursor cursor)
        {
            var file = (OpenFile)FileDesc;
            var status = volume.List(file.Node.Path, Pattern, Marker, includeDotEntries: true, out var entries);
            if (status != NtStatus.Success)
            {
                return false;
            }

            Context = cursor = new DirectoryCursor(entries);
        }

        if (cursor.Next >= cursor.Entries.Count)
        {
            return false;
        }

        var entry = cursor.Entries[cursor.Next++];
        FileName = entry.Name;
        FileInfo = ToFileInfo(entry);
        return true;
    }

    public override int GetDirInfoByName(object FileNode, object FileDesc, string FileName, out string NormalizedName,
        out FileInfo FileInfo)
    {
        NormalizedName = "";
        FileInfo = default;
        var status = volume.List(((OpenFile)FileDesc).Node.Path, FileName, marker: null, includeDotEntries: false, out var entries);
        if (status != NtStatus.Success)
        {
            return (int)status;
        }

        var match = entries.FirstOrDefault(e => string.Equals(e.Name, FileName, StringComparison.OrdinalIgnoreCase));
        if (match.Name is null)
        {
            return Code(NtStatus.ObjectNameNotFound);
        }

        NormalizedName = match.Name;
        FileInfo = ToFileInfo(match);
        return STATUS_SUCCESS;
    }

    /// <summary>No alternate streams: a file has its unnamed data stream, a directory none.</summary>
    public override bool GetStreamEntry(object FileNode, object FileDesc, ref object Context, out string StreamName,
        out ulong StreamSize, out ulong StreamAllocationSize)
    {
        StreamName = "";
        StreamSize = 0;
        StreamAllocationSize = 0;
        var file = (OpenFile)FileDesc;
        if (Context is not null || file.Node.IsDirectory)
        {
            return false;
        }

        Context = file;
        var info = volume.InfoOf(file.Node);
        StreamSize = (ulong)info.Size;
        StreamAllocationSize = (ulong)info.AllocationSize;
        return true;
    }

    public override unsafe int Control(object FileNode, object FileDesc, uint ControlCode, IntPtr InputBuffer,
        uint InputBufferLength, IntPtr OutputBuffer, uint OutputBufferLength, out uint BytesTransferred)
    {
        BytesTransferred = 0;
        if (ControlCode != FsctlSetZeroData)
        {
            return Code(NtStatus.InvalidDeviceRequest);
        }

        // FILE_ZERO_DATA_INFORMATION: FileOffset, BeyondFinalZero (two LARGE_INTEGERs).
        if (InputBufferLength < 16)
        {
            return Code(NtStatus.InvalidParameter);
        }

        var input = new ReadOnlySpan<byte>((void*)InputBuffer, 16);
        return (int)volume.ZeroData(Handle(FileDesc), BinaryPrimitives.ReadInt64LittleEndian(input),
            BinaryPrimitives.ReadInt64LittleEndian(input[8..]));
    }

    internal static FileInfo ToFileInfo(in WindowsFileInfo info) => new()
    {
        FileAttributes = (uint)info.Attributes,
        FileSize = (ulong)info.Size,
        AllocationSize = (ulong)info.AllocationSize,
        CreationTime = (ulong)info.Times.Creation.ToFileTime(),
        LastAccessTime = (ulong)info.Times.LastAccess.ToFileTime(),
        LastWriteTime = (ulong)info.Times.LastWrite.ToFileTime(),
        ChangeTime = (ulong)info.Times.Change.ToFileTime(),
        IndexNumber = info.IndexNumber,
    };

    private int Open(string fileName, uint createOptions, uint grantedAccess, WindowsCreateDisposition disposition,
        out object fileNode, out object fileDesc, out FileInfo fileInfo, out string normalizedName)
    {
        fileNode = null!;
        fileDesc = null!;
        fileInfo = default;
        normalizedName = null!;
        // WinFsp checked share modes and access against the descriptor already: the volume sees all sharing.
        var outcome = volume.Create(new WindowsCreateRequest(fileName, disposition, (WindowsAccess)grantedAccess,
            WindowsShareAccess.All, (WindowsCreateOptions)createOptions));
        if (!outcome.Succeeded)
        {
            return (int)outcome.Status;
        }

        var file = new OpenFile(outcome.Handle, outcome.Node!);
        fileNode = file;
        fileDesc = file;
        normalizedName = file.Node.Path == "/" ? "\\" : file.Node.Path.Replace('/', '\\');
        return Info(file, out fileInfo);
    }

    private int Info(OpenFile file, out FileInfo fileInfo)
    {
        fileInfo = ToFileInfo(volume.InfoOf(file.Node));
        return STATUS_SUCCESS;
    }

    /// <summary>An NTSTATUS as the Int32 WinFsp's .NET API uses.</summary>
    internal static int Code(NtStatus status) => unchecked((int)status);

    private static ulong Handle(object fileDesc) => ((OpenFile)fileDesc).Handle;

    private sealed class DirectoryCursor(IReadOnlyList<WindowsFileInfo> entries)
    {
        public IReadOnlyList<WindowsFileInfo> Entries { get; } = entries;

        public int Next { get; set; }
    }
}

/// <summary>An open handle on the volume and the node it is on (WinFsp's FileNode and FileDesc).</summary>
internal sealed record OpenFile(ulong Handle, Mounting.VolumeNode Node);
