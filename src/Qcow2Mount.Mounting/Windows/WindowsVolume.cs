namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// Windows semantics over a <see cref="Volume"/>: create dispositions, access masks and share modes evaluated
/// the way NTFS would for a fixed set of files, directory listing with Windows patterns, file and volume
/// information, and every data operation returning an NTSTATUS. The WinFsp and Dokan adapters only marshal.
/// Names are looked up without regard to case.
/// </summary>
public sealed class WindowsVolume
{
    public const string FileSystemName = "Qcow2Mount";
    public const int SectorSize = 512;
    public const int AllocationUnit = 4096;

    private const WindowsAccess DataReadBits = WindowsAccess.ReadData | WindowsAccess.Execute;
    private const WindowsAccess DataWriteBits = WindowsAccess.WriteData | WindowsAccess.AppendData;
    private const WindowsAccess MetadataWriteBits = WindowsAccess.WriteAttributes | WindowsAccess.WriteExtendedAttributes
        | WindowsAccess.WriteDac | WindowsAccess.WriteOwner | WindowsAccess.DeleteChild;

    public WindowsVolume(Volume volume)
    {
        ArgumentNullException.ThrowIfNull(volume);
        Volume = volume;
    }

    public Volume Volume { get; }

    /// <summary>Label, file system name, flags and sizes for GetVolumeInformation / GetVolumeInfo.</summary>
    public WindowsVolumeInfo VolumeInfo
    {
        get
        {
            var space = Volume.GetSpace();
            var flags = WindowsVolumeFlags.CasePreservedNames | WindowsVolumeFlags.UnicodeOnDisk;
            if (Volume.IsReadOnly)
            {
                flags |= WindowsVolumeFlags.ReadOnlyVolume;
            }

            // Windows volume labels hold at most 32 characters.
            string label = Volume.Label.Length > 32 ? Volume.Label[..32] : Volume.Label;
            return new WindowsVolumeInfo(label, FileSystemName, flags, SerialNumberOf(Volume.Label), SectorSize,
                AllocationUnit, space.TotalBytes, space.FreeBytes, MaxComponentLength: 255);
        }
    }

    /// <summary>Evaluates an IRP_MJ_CREATE: either a new handle or the NTSTATUS to fail it with.</summary>
    public WindowsCreateOutcome Create(in WindowsCreateRequest request)
    {
        var options = request.Options;
        if (options.HasFlag(WindowsCreateOptions.DirectoryFile) && options.HasFlag(WindowsCreateOptions.NonDirectoryFile)
            || request.Disposition > WindowsCreateDisposition.OverwriteIf)
        {
            return WindowsCreateOutcome.Fail(NtStatus.InvalidParameter);
        }

        var node = Volume.Find(request.FileName, PathStyle.Windows);
        if (node is null)
        {
            return CreateMissing(request);
        }

        if (request.Disposition == WindowsCreateDisposition.Create)
        {
            return WindowsCreateOutcome.Fail(NtStatus.ObjectNameCollision);
        }

        if (options.HasFlag(WindowsCreateOptions.DirectoryFile) && !node.IsDirectory)
        {
            return WindowsCreateOutcome.Fail(NtStatus.NotADirectory);
        }

        if (options.HasFlag(WindowsCreateOptions.NonDirectoryFile) && node.IsDirectory)
        {
            return WindowsCreateOutcome.Fail(NtStatus.FileIsADirectory);
        }

        if (request.Disposition is WindowsCreateDisposition.Supersede or WindowsCreateDisposition.Overwrite
            or WindowsCreateDisposition.OverwriteIf)
        {
            // Replacing the file would truncate the disk to nothing; a directory cannot be overwritten at all.
            return WindowsCreateOutcome.Fail(node.IsDirectory ? NtStatus.InvalidParameter : RefusedChange(node));
        }

        var access = MapGeneric(request.DesiredAccess);
        if (access.HasFlag(WindowsAccess.MaximumAllowed))
        {
            access |= WindowsAccess.FileGenericRead | (IsWritableFile(node) ? DataWriteBits : 0);
        }

        if (access.HasFlag(WindowsAccess.Delete) || options.HasFlag(WindowsCreateOptions.DeleteOnClose))
        {
            return WindowsCreateOutcome.Fail(RefusedChange(node));
        }

        if ((access & DataWriteBits) != 0 && !node.IsDirectory && !IsWritableFile(node)
            || (access & (DataWriteBits | MetadataWriteBits)) != 0 && Volume.IsReadOnly)
        {
            return WindowsCreateOutcome.Fail(RefusedChange(node));
        }

        var volumeAccess = VolumeAccess.None;
        if ((access & DataReadBits) != 0)
        {
            volumeAccess |= VolumeAccess.Read;
        }

        // On a directory, FILE_ADD_FILE / FILE_ADD_SUBDIRECTORY are not data access; creating in it fails later.
        if ((access & DataWriteBits) != 0 && !node.IsDirectory)
        {
            volumeAccess |= VolumeAccess.Write;
        }

        var share = (request.ShareAccess.HasFlag(WindowsShareAccess.Read) ? VolumeShare.Read : VolumeShare.None)
            | (request.ShareAccess.HasFlag(WindowsShareAccess.Write) ? VolumeShare.Write : VolumeShare.None);
        try
        {
            ulong handle = Volume.Open(node, volumeAccess, share);
            return new WindowsCreateOutcome(NtStatus.Success, handle, node, WindowsCreateAction.Opened);
        }
        catch (VolumeException e)
        {
            return WindowsCreateOutcome.Fail(NtStatusTable.From(e.Code));
        }
    }

    /// <summary>Reads into <paramref name="buffer"/>; at or past the end of the file, succeeds with 0 bytes.</summary>
    public NtStatus Read(ulong handle, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        try
        {
            bytesRead = Volume.Read(handle, offset, buffer);
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusTable.From(e);
        }
    }

    /// <summary>Writes <paramref name="data"/>; the file never grows, so a write past the end is cut short or fails with DISK_FULL.</summary>
    public NtStatus Write(ulong handle, long offset, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        bytesWritten = 0;
        try
        {
            bytesWritten = Volume.Write(handle, offset, data);
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusTable.From(e);
        }
    }

    /// <summary>FlushFileBuffers: makes completed writes durable.</summary>
    public NtStatus Flush(ulong handle) => Run(() => Volume.Flush(handle));

    /// <summary>SetEndOfFile / SetAllocationSize: only the current size is accepted.</summary>
    public NtStatus SetFileSize(ulong handle, long size) => Run(() => Volume.SetLength(handle, size));

    /// <summary>Close (after Cleanup): releases the handle.</summary>
    public NtStatus Close(ulong handle) => Run(() => Volume.Close(handle));

    /// <summary>GetFileInformation for an open handle.</summary>
    public NtStatus GetFileInfo(ulong handle, out WindowsFileInfo info)
    {
        info = default;
        try
        {
            info = InfoOf(Volume.NodeOf(handle));
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusTable.From(e);
        }
    }

    /// <summary>
    /// Entries of a directory matching <paramref name="pattern"/> (Windows wildcards, ignoring case), sorted by name
    /// without regard to case as NTFS does, so adapters can resume a listing after a marker name.
    /// "." and ".." are not included; adapters whose API wants them add them.
    /// </summary>
    public NtStatus List(string directoryPath, string? pattern, out IReadOnlyList<WindowsFileInfo> entries)
    {
        entries = [];
        try
        {
            entries = Volume.List(directoryPath, PathStyle.Windows)
                .Where(node => WindowsNamePattern.IsMatch(node.Name, pattern))
                .OrderBy(node => node.Name, StringComparer.OrdinalIgnoreCase)
                .Select(InfoOf)
                .ToList();
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusTable.From(e);
        }
    }

    /// <summary>Attributes, sizes and times of a node as Windows shows them.</summary>
    public WindowsFileInfo InfoOf(VolumeNode node)
    {
        var attributes = node.IsDirectory ? FileAttributes.Directory : FileAttributes.Archive;
        if (node.IsReadOnly && !node.IsDirectory)
        {
            attributes |= FileAttributes.ReadOnly;
        }

        long allocation = (node.Length + AllocationUnit - 1) / AllocationUnit * AllocationUnit;
        return new WindowsFileInfo(node.Name, attributes, node.Length, allocation, Volume.Timestamp, node.Id);
    }

    private WindowsCreateOutcome CreateMissing(in WindowsCreateRequest request)
    {
        string parentPath = Volume.ParentOf(request.FileName, PathStyle.Windows);
        if (Volume.Find(parentPath, PathStyle.Windows) is not { IsDirectory: true } parent)
        {
            return WindowsCreateOutcome.Fail(NtStatus.ObjectPathNotFound);
        }

        return request.Disposition is WindowsCreateDisposition.Open or WindowsCreateDisposition.Overwrite
            ? WindowsCreateOutcome.Fail(NtStatus.ObjectNameNotFound)
            : WindowsCreateOutcome.Fail(RefusedChange(parent));
    }

    /// <summary>What to answer a change the volume never allows: write-protected media, or a denied access.</summary>
    private NtStatus RefusedChange(VolumeNode node) =>
        Volume.IsReadOnly ? NtStatus.MediaWriteProtected : NtStatus.AccessDenied;

    private static bool IsWritableFile(VolumeNode node) => !node.IsDirectory && !node.IsReadOnly;

    private static WindowsAccess MapGeneric(WindowsAccess access)
    {
        var mapped = access & ~(WindowsAccess.GenericRead | WindowsAccess.GenericWrite | WindowsAccess.GenericExecute | WindowsAccess.GenericAll);
        if (access.HasFlag(WindowsAccess.GenericRead))
        {
            mapped |= WindowsAccess.FileGenericRead;
        }

        if (access.HasFlag(WindowsAccess.GenericWrite))
        {
            mapped |= WindowsAccess.FileGenericWrite;
        }

        if (access.HasFlag(WindowsAccess.GenericExecute))
        {
            mapped |= WindowsAccess.FileGenericExecute;
        }

        if (access.HasFlag(WindowsAccess.GenericAll))
        {
            mapped |= WindowsAccess.FileAllAccess;
        }

        return mapped;
    }

    private static NtStatus Run(Action operation)
    {
        try
        {
            operation();
            return NtStatus.Success;
        }
        catch (Exception e)
        {
            return NtStatusTable.From(e);
        }
    }

    /// <summary>A stable serial number so Windows sees the same volume on every mount of the same image.</summary>
    private static uint SerialNumberOf(string label)
    {
        uint hash = 2166136261;
        foreach (char c in label)
        {
            hash = (hash ^ c) * 16777619;
        }

        return hash;
    }
}

/// <summary>FILE_* volume flags (GetVolumeInformation's file system flags).</summary>
[Flags]
public enum WindowsVolumeFlags : uint
{
    None = 0,
    CaseSensitiveSearch = 0x00000001,
    CasePreservedNames = 0x00000002,
    UnicodeOnDisk = 0x00000004,
    ReadOnlyVolume = 0x00080000,
}

/// <summary>What Windows asks about the volume.</summary>
public readonly record struct WindowsVolumeInfo(
    string Label,
    string FileSystemName,
    WindowsVolumeFlags Flags,
    uint SerialNumber,
    int SectorSize,
    int AllocationUnit,
    long TotalBytes,
    long FreeBytes,
    int MaxComponentLength);

/// <summary>What Windows asks about a file or directory; all four times are the volume's one timestamp.</summary>
public readonly record struct WindowsFileInfo(
    string Name,
    FileAttributes Attributes,
    long Size,
    long AllocationSize,
    DateTimeOffset Time,
    ulong IndexNumber);
